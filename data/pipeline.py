"""Batched, shuffled, augmented training input, with two augmentation engines.

Both engines take ImageDataGenerator's parameters (experiments.config.AUGMENT_KEYS):
- "layers": Keras preprocessing layers (RandomFlip, RandomTranslation, RandomRotation,
  RandomZoom, RandomShear) applied to whole batches in a tf.data pipeline. Every
  random draw (the shuffle of an epoch, the transforms of a batch) is a pure function
  of (seed, epoch, step), so batches can be made in parallel and still be repeatable,
  and a run resumed at epoch k sees exactly the batches the uninterrupted run saw.
- "imagedatagenerator": Keras' ImageDataGenerator(...).flow, the seeds' own path
  (one image at a time in numpy/scipy, shuffled from numpy's global random state).
benchmarks/augment_engines.py measures both; the faster is the Experiment default.
"""
import math

import keras
import numpy as np

from errors import SuiteError


def augmentation_layers(augment, image_size=32, seed=None):
    """Keras preprocessing layers equivalent to ImageDataGenerator(**augment).

    Args:
        augment: ImageDataGenerator parameters: rotation_range (degrees),
            width/height_shift_range (fraction of the image, or pixels when >= 1),
            zoom_range (fraction), shear_range (degrees), horizontal_flip, fill_mode;
        alternating_flip is not a layer (see `train_dataset`).
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


def check_batch_size(batch_size, n_images):
    """Raise SuiteError when a batch is larger than the training data."""
    if batch_size > n_images:
        raise SuiteError(f"batch size {batch_size} is larger than the {n_images} training images")


def steps_per_epoch(n_images, batch_size):
    """Batches in one epoch (the last one may be smaller)."""
    return math.ceil(n_images / batch_size)


def train_dataset(x, y, batch_size, augment=None, engine="layers", seed=0, first_epoch=0, epochs=1):
    """The training input for `model.fit(..., steps_per_epoch=steps_per_epoch(len(x), batch_size))`.

    Args:
        x: uint8 images (N, 32, 32, 3); y: int labels (N,).
        batch_size: images per batch (the last batch of an epoch may be smaller).
        augment: ImageDataGenerator parameters, or None/{} for no augmentation;
            alternating_flip=True mirrors each image in every other epoch, starting
            in epoch 0 or 1 at random per image (airbench94's alternating flip).
        engine: "layers" (tf.data + preprocessing layers) or "imagedatagenerator".
        seed: seed of the shuffling and of the random transforms.
        first_epoch, epochs: the epochs to produce, first_epoch (0-based) up to
            epochs (exclusive); a resumed run starts at its next epoch.

    Returns:
        A tf.data.Dataset (engine "layers") of exactly (epochs - first_epoch) epochs,
        or a Keras PyDataset iterator (engine "imagedatagenerator", endless), of
        (float32 images (B, 32, 32, 3) in 0-255, int labels (B,)) batches.

    Raises:
        SuiteError: unknown engine, or batch_size larger than the data.
    """
    check_batch_size(batch_size, len(x))
    augment = augment or {}
    if engine == "imagedatagenerator":
        if augment.get("alternating_flip"):
            raise SuiteError("alternating_flip needs the 'layers' augment engine")
        import tensorflow as tf
        gen = tf.keras.preprocessing.image.ImageDataGenerator(**imagedatagenerator_args(augment))
        flow = gen.flow(x, y, batch_size=batch_size, shuffle=True, seed=seed)
        flow.total_batches_seen = first_epoch * len(flow)
        return flow
    if engine != "layers":
        raise SuiteError(f"unknown augment engine {engine!r}; choose layers or imagedatagenerator")
    return _stateless_dataset(x, y, batch_size, augment, seed, first_epoch, epochs)


def _stateless_dataset(x, y, batch_size, augment, seed, first_epoch, epochs):
    import tensorflow as tf
    aug = augmentation_layers(augment, image_size=x.shape[1])
    images, labels = tf.constant(x), tf.constant(y)
    alternate = bool(augment.get("alternating_flip"))
    if alternate:   # each image's flip in even epochs; odd epochs take the other
        first_flip = tf.constant(np.random.default_rng([seed, 1]).integers(0, 2, len(x)), tf.int64)
    steps = steps_per_epoch(len(x), batch_size)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(len(x)), seed=tf.stack([seed, epoch]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        return tf.data.Dataset.zip(tf.data.Dataset.range(epoch * steps, (epoch + 1) * steps), batches)

    def make_batch(step, index):
        batch = tf.cast(tf.gather(images, index), tf.float32)
        if alternate:
            flip = tf.equal((tf.gather(first_flip, index) + step // steps) % 2, 1)
            batch = tf.where(flip[:, None, None, None], tf.reverse(batch, axis=[2]), batch)
        step_seed = tf.random.experimental.stateless_fold_in(tf.constant([seed, 0], tf.int64), step)
        for i, layer in enumerate(aug):
            transform = layer.get_random_transformation(batch, training=True, seed=StatelessSeed(step_seed, i))
            batch = layer.transform_images(batch, transform, training=True)
        return batch, tf.gather(labels, index)

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches)
    ds = ds.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


class StatelessSeed(keras.random.SeedGenerator):
    """A keras.random.SeedGenerator whose k-th draw is fold_in(fold_in(key, stream), k), without state.

    Keras' preprocessing layers draw their transforms from a SeedGenerator, whose
    state variable advances with every call; used from parallel tf.data calls, the
    order of those calls (and so the transforms) would change from run to run, and
    the state would be lost when a run is resumed. This stand-in gives each batch
    its own seeds, derived from the batch's global step: `stream` separates layers,
    `k` separates the draws of one layer (a translation draws height and width).
    """

    def __init__(self, key, stream):   # no super().__init__(): that would create the state variable
        self.key, self.stream, self.draws = key, stream, 0

    def next(self, ordered=True):
        import tensorflow as tf
        self.draws += 1
        fold = tf.random.experimental.stateless_fold_in
        return fold(fold(self.key, self.stream), self.draws)


def measure_throughput(x, y, batch_size, augment, engine, seconds=10.0, seed=0):
    """Augmented images per second one engine produces, without any model.

    Returns:
        float, images/s over at least `seconds` seconds after one warm-up batch.
    """
    import time
    data = train_dataset(x, y, batch_size, augment, engine, seed, epochs=10**6)
    batches = iter(data) if engine == "layers" else (data[i % len(data)] for i in range(10**9))
    next(batches)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        images, _ = next(batches)
        n += int(np.shape(images)[0])
    return n / (time.perf_counter() - start)
