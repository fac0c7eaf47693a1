"""`run.py predict`: top-5 classes for image files, each image on its own."""
import os
import warnings

import numpy as np

from data.cifar10 import CLASSES
from errors import SuiteError

MAX_PIXELS = 50_000_000   # larger images are refused before decoding (Pillow's decompression-bomb guard)


def load_image(path, size=32):
    """Read an image file Pillow understands as a uint8 RGB array (size, size, 3).

    The image is converted to 8-bit RGB (palette, grey, 16-bit grey, alpha and CMYK images too) and
    resized to size x size pixels (bicubic, ignoring the aspect ratio, as CIFAR-10's
    own 32x32 thumbnails).

    Raises:
        SuiteError: the file is missing, not a regular file (a named pipe is never opened,
            so it cannot hang), empty, not an image, truncated, or larger than MAX_PIXELS pixels.
    """
    from PIL import Image, UnidentifiedImageError
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        raise SuiteError(f"{path}: not a regular file (a pipe, socket or device is never read)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image = to_8bit_rgb(image).resize((size, size), Image.Resampling.BICUBIC)
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SuiteError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise SuiteError(f"{path}: not an image Pillow can read (empty or another format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise SuiteError(f"{path}: image too large (more than {MAX_PIXELS:,} pixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:    # Pillow's errors for a truncated or corrupt file
        raise SuiteError(f"{path}: cannot decode the image ({str(exc).splitlines()[0][:200]})") from None
    return np.asarray(image, dtype=np.uint8)


def to_8bit_rgb(image):
    """An RGB image with 8 bits a channel. Pillow's convert("RGB") clips 16-bit and 32-bit greyscale
    ("I;16", "I") at 255, which turns most pixels white, so those are scaled from 0-65535 first
    (and float images "F" from 0-1)."""
    from PIL import Image
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        scale = 255.0 if image.mode == "F" else 255.0 / 65535.0
        image = Image.fromarray(np.clip(values * scale + 0.5 * (image.mode != "F"), 0, 255).astype(np.uint8), "L")
    return image.convert("RGB")


def top_k(probabilities, k=5):
    """The k most likely classes of one (10,) probability vector as [(class name, probability)]."""
    order = np.argsort(probabilities)[::-1][:k]
    return [(CLASSES[i], float(probabilities[i])) for i in order]


def predict_files(model, paths, k=5):
    """Predict each image file on its own; a bad file does not stop the others.

    Args:
        model: maps uint8 (N, 32, 32, 3) images to (N, 10) probabilities.
        paths: image files.

    Returns:
        list of (path, [(class, probability)] or None, error message or None), in order.
    """
    results, images, ok = [], [], []
    for path in paths:
        try:
            images.append(load_image(path))
            ok.append(len(results))
            results.append((path, None, None))
        except SuiteError as exc:
            results.append((path, None, str(exc)))
    if images:
        probabilities = np.asarray(model.predict(np.stack(images), verbose=0))
        for i, p in zip(ok, probabilities):
            results[i] = (results[i][0], top_k(p, k), None)
    return results
