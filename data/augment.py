"""ImageDataGenerator-style augmentation as Keras preprocessing layers, with stateless seeds.

Backend-neutral: the layers run on whatever backend Keras uses (TensorFlow, JAX,
PyTorch), on that backend's default device. Both training engines that use them
(data.pipeline's tf.data engine "layers", data.batches' "pydataset") draw every
transform from a seed derived from (seed, step, layer, draw), never from a stateful
generator, so a run repeats and resumes exactly.
"""
import math

import keras
import numpy as np
from keras.src.backend import random_seed_dtype   # the dtype SeedGenerator uses; not in Keras' public API


def augmentation_layers(augment, image_size=32, seed=None):
    """Keras preprocessing layers equivalent to ImageDataGenerator(**augment).

    Args:
        augment: ImageDataGenerator parameters: rotation_range (degrees),
            width/height_shift_range (fraction of the image, or pixels when >= 1),
            zoom_range (fraction), shear_range (degrees), horizontal_flip, fill_mode;
            alternating_flip is not a layer (see `alternating_flips`).
        image_size: image side in pixels, to turn pixel shifts into fractions.
        seed: seed of the random transforms.

    Returns:
        A list of keras layers, empty when `augment` asks for nothing; each maps
        (N, H, W, C) to (N, H, W, C) images when called with training=True.
    """
    from keras import layers

    fill = augment.get("fill_mode", "nearest")   # ImageDataGenerator's default

    def fraction(value):
        return value / image_size if value >= 1 else value

    out = []
    if augment.get("horizontal_flip"):
        out.append(layers.RandomFlip("horizontal", seed=seed))
    if augment.get("rotation_range"):
        out.append(layers.RandomRotation(augment["rotation_range"] / 360, fill_mode=fill, seed=seed))
    h, w = augment.get("height_shift_range", 0), augment.get("width_shift_range", 0)
    if h or w:
        # Shifts in whole pixels stay whole pixels, as in ImageDataGenerator (no blur).
        whole = all(v == 0 or (v >= 1 and float(v).is_integer()) for v in (h, w))
        out.append(layers.RandomTranslation(fraction(h), fraction(w), fill_mode=fill, seed=seed,
                                            interpolation="nearest" if whole else "bilinear"))
    if augment.get("zoom_range"):
        z = augment["zoom_range"]
        out.append(layers.RandomZoom((-z, z), (-z, z), fill_mode=fill, seed=seed))
    if augment.get("shear_range"):
        s = math.tan(math.radians(augment["shear_range"]))
        out.append(layers.RandomShear(x_factor=s, fill_mode=fill, seed=seed))
    return out


def imagedatagenerator_args(augment):
    """ImageDataGenerator's keyword arguments among an experiment's augmentation parameters
    (all but alternating_flip, which it has no equivalent for)."""
    return {k: v for k, v in augment.items() if k != "alternating_flip"}


def first_flips(n_images, seed):
    """airbench94's alternating flip: for each of `n_images` images, 1 if it is mirrored in even
    epochs (and shown as is in odd ones), else 0; int64 (n_images,), a function of `seed` only."""
    return np.random.default_rng([seed, 1]).integers(0, 2, n_images)


def apply_layers(batch, layers, seed_for_layer):
    """Run each augmentation layer over a whole batch with the SeedGenerator `seed_for_layer(i)`.

    Args:
        batch: float32 images (B, H, W, C), a tensor of the backend the layers run on.
        layers: from `augmentation_layers`.
        seed_for_layer: i -> keras.random.SeedGenerator for the i-th layer's draws.

    Returns:
        float32 images (B, H, W, C).
    """
    for i, layer in enumerate(layers):
        transform = layer.get_random_transformation(batch, training=True, seed=seed_for_layer(i))
        batch = layer.transform_images(batch, transform, training=True)
    return batch


class StatelessSeed(keras.random.SeedGenerator):
    """A keras.random.SeedGenerator whose k-th draw is `derive(key, stream, k)`, without state.

    Keras' preprocessing layers draw their transforms from a SeedGenerator, whose
    state variable advances with every call; used from parallel input workers, the
    order of those calls (and so the transforms) would change from run to run, and
    the state would be lost when a run is resumed. This stand-in gives each batch
    its own seeds, derived from the batch's global step (`key`): `stream` separates
    layers, `k` separates the draws of one layer (a translation draws height and width).

    `derive` defaults to `numpy_seed` (for keys that are Python ints, any backend);
    the tf.data engine passes TensorFlow's stateless fold_in for keys that are graph tensors.
    """

    def __init__(self, key, stream, derive=None):   # no super().__init__(): that would create the state variable
        self.key, self.stream, self.draws = key, stream, 0
        self.derive = derive or numpy_seed

    def next(self, ordered=True):
        self.draws += 1
        return self.derive(self.key, self.stream, self.draws)


def numpy_seed(key, stream, draw):
    """The backend's seed tensor (2,) for draw `draw` of layer `stream` at step `key` (Python ints),
    from numpy's SeedSequence, so the same on every backend and machine."""
    words = np.random.SeedSequence([*np.atleast_1d(key).tolist(), stream, draw]).generate_state(2)
    return keras.ops.convert_to_tensor(words & 0x7FFFFFFF, dtype=random_seed_dtype())
