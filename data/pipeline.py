"""Batched, shuffled, augmented training input, with two augmentation engines.

Both engines take ImageDataGenerator's parameters (experiments.config.AUGMENT_KEYS):
- "layers": Keras preprocessing layers (RandomFlip, RandomTranslation, RandomRotation,
  RandomZoom, RandomShear) applied to whole batches in a tf.data pipeline, with
  prefetching so augmentation overlaps the training step. The map is sequential: the
  layers draw from one seed state, and parallel calls would race on it and make a
  seeded run unrepeatable (measured: 4,700 vs 10,400 img/s for ygnet's augmentation,
  still 50x what ygnet trains at on 2 cores).
- "imagedatagenerator": Keras' ImageDataGenerator(...).flow, the seeds' own path
  (one image at a time in numpy/scipy).
benchmarks/augment_engines.py measures both; the faster is the Experiment default.
"""
import math

import numpy as np

from errors import SuiteError


def augmentation_layers(augment, image_size=32, seed=None):
    """Keras preprocessing layers equivalent to ImageDataGenerator(**augment).

    Args:
        augment: ImageDataGenerator parameters: rotation_range (degrees),
            width/height_shift_range (fraction of the image, or pixels when >= 1),
            zoom_range (fraction), shear_range (degrees), horizontal_flip, fill_mode.
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
    h, w = fraction(augment.get("height_shift_range", 0)), fraction(augment.get("width_shift_range", 0))
    if h or w:
        out.append(layers.RandomTranslation(h, w, fill_mode=fill, seed=seed))
    if augment.get("zoom_range"):
        z = augment["zoom_range"]
        out.append(layers.RandomZoom((-z, z), (-z, z), fill_mode=fill, seed=seed))
    if augment.get("shear_range"):
        s = math.tan(math.radians(augment["shear_range"]))
        out.append(layers.RandomShear(x_factor=s, fill_mode=fill, seed=seed))
    return out


def check_batch_size(batch_size, n_images):
    """Raise SuiteError when a batch is larger than the training data."""
    if batch_size > n_images:
        raise SuiteError(f"batch size {batch_size} is larger than the {n_images} training images")


def train_dataset(x, y, batch_size, augment=None, engine="layers", seed=0):
    """The training input for `model.fit`: shuffled each epoch, batched, augmented.

    Args:
        x: uint8 images (N, 32, 32, 3); y: int labels (N,).
        batch_size: images per batch (the last batch of an epoch may be smaller).
        augment: ImageDataGenerator parameters, or None/{} for no augmentation.
        engine: "layers" (tf.data + preprocessing layers) or "imagedatagenerator".
        seed: seed of the shuffling and of the random transforms.

    Returns:
        A tf.data.Dataset (engine "layers") or a Keras PyDataset iterator
        (engine "imagedatagenerator") of (float32 images (B, 32, 32, 3) in 0-255,
        int labels (B,)) batches.

    Raises:
        SuiteError: unknown engine, or batch_size larger than the data.
    """
    check_batch_size(batch_size, len(x))
    augment = augment or {}
    if engine == "imagedatagenerator":
        import tensorflow as tf
        gen = tf.keras.preprocessing.image.ImageDataGenerator(**augment)
        return gen.flow(x, y, batch_size=batch_size, shuffle=True, seed=seed)
    if engine != "layers":
        raise SuiteError(f"unknown augment engine {engine!r}; choose layers or imagedatagenerator")
    import tensorflow as tf
    aug = augmentation_layers(augment, image_size=x.shape[1], seed=seed)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)

    def apply(images, labels):
        images = tf.cast(images, tf.float32)
        for layer in aug:
            images = layer(images, training=True)
        return images, labels

    ds = ds.map(apply, num_parallel_calls=1)   # sequential: repeatable with a seed (see the module doc)
    return ds.prefetch(tf.data.AUTOTUNE)


def measure_throughput(x, y, batch_size, augment, engine, seconds=10.0, seed=0):
    """Augmented images per second one engine produces, without any model.

    Returns:
        float, images/s over at least `seconds` seconds after one warm-up batch.
    """
    import time
    data = train_dataset(x, y, batch_size, augment, engine, seed)
    batches = iter(data.repeat()) if engine == "layers" else (data[i % len(data)] for i in range(10**9))
    next(batches)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        images, _ = next(batches)
        n += int(np.shape(images)[0])
    return n / (time.perf_counter() - start)
