"""Batched, shuffled, augmented training input, with three augmentation engines.

All take ImageDataGenerator's parameters (experiments.config.AUGMENT_KEYS):
- "layers": data.augment's Keras preprocessing layers (RandomFlip, RandomTranslation,
  RandomRotation, RandomZoom, RandomShear) applied to whole batches in a tf.data
  pipeline, in parallel with training. Needs TensorFlow installed (any backend).
- "pydataset": the same layers on the active backend, in a keras.utils.PyDataset
  (data.batches): any backend, no TensorFlow; on the GPU when JAX or PyTorch has one.
- "imagedatagenerator": tf.keras' ImageDataGenerator(...).flow, the seeds' own path
  (one image at a time in numpy/scipy, shuffled from numpy's global random state).
  Needs TensorFlow: Keras 3 has no ImageDataGenerator of its own.
In "layers" and "pydataset" every random draw (the shuffle of an epoch, the transforms
of a batch) is a pure function of (seed, epoch, step), so a run resumed at epoch k sees
exactly the batches the uninterrupted run saw. "auto" picks "layers" on the TensorFlow
backend and "pydataset" on the others (`resolve_engine`); benchmarks/augment_engines.py
measures them.
"""
import importlib.util
import math

import keras
import numpy as np

from data.augment import apply_layers, augmentation_layers, first_flips, imagedatagenerator_args, StatelessSeed
from errors import SuiteError

ENGINES = ("auto", "layers", "pydataset", "imagedatagenerator")
NEEDS_TENSORFLOW = {"layers": "a tf.data pipeline", "imagedatagenerator": "tf.keras' ImageDataGenerator"}


def resolve_engine(engine="auto"):
    """The augmentation engine to use: `engine`, or for "auto" "layers" on the TensorFlow backend
    and "pydataset" on JAX and PyTorch.

    Returns:
        str, one of ENGINES other than "auto".

    Raises:
        SuiteError: an unknown engine, or one that needs TensorFlow where it is not installed.
    """
    if engine not in ENGINES:
        raise SuiteError(f"unknown augment engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    if engine == "auto":
        return "layers" if keras.backend.backend() == "tensorflow" else "pydataset"
    if engine in NEEDS_TENSORFLOW and importlib.util.find_spec("tensorflow") is None:
        raise SuiteError(f"the {engine} augment engine needs TensorFlow ({NEEDS_TENSORFLOW[engine]}), which is "
                         "not installed; use --augment-engine pydataset (or auto)")
    return engine


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
        engine: one of ENGINES (see the module docstring; "auto": `resolve_engine`).
        seed: seed of the shuffling and of the random transforms.
        first_epoch, epochs: the epochs to produce, first_epoch (0-based) up to
            epochs (exclusive); a resumed run starts at its next epoch.

    Returns:
        A tf.data.Dataset (engine "layers") or a keras.utils.PyDataset (engine "pydataset",
        data.batches.AugmentedBatches) of exactly (epochs - first_epoch) epochs, or a Keras
        PyDataset iterator (engine "imagedatagenerator", endless), of
        (float32 images (B, 32, 32, 3) in 0-255, int labels (B,)) batches.

    Raises:
        SuiteError: unknown engine, one that needs TensorFlow without it, or batch_size larger than the data.
    """
    check_batch_size(batch_size, len(x))
    augment = augment or {}
    engine = resolve_engine(engine)
    if engine == "pydataset":
        from data.batches import AugmentedBatches
        return AugmentedBatches(x, y, batch_size, augment, seed, first_epoch, epochs)
    if engine == "imagedatagenerator":
        if augment.get("alternating_flip"):
            raise SuiteError("alternating_flip needs the layers or pydataset augment engine, not imagedatagenerator")
        import tensorflow as tf
        gen = tf.keras.preprocessing.image.ImageDataGenerator(**imagedatagenerator_args(augment))
        flow = gen.flow(x, y, batch_size=batch_size, shuffle=True, seed=seed)
        flow.total_batches_seen = first_epoch * len(flow)
        return flow
    return _stateless_dataset(x, y, batch_size, augment, seed, first_epoch, epochs)


def _stateless_dataset(x, y, batch_size, augment, seed, first_epoch, epochs):
    import tensorflow as tf
    aug = augmentation_layers(augment, image_size=x.shape[1])
    for layer in aug:      # the layers run inside tf.data, so in TensorFlow whatever Keras' backend
        layer.backend.set_backend("tensorflow")
    images, labels = tf.constant(x), tf.constant(y)
    alternate = bool(augment.get("alternating_flip"))
    if alternate:   # each image's flip in even epochs; odd epochs take the other
        first_flip = tf.constant(first_flips(len(x), seed), tf.int64)
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
        batch = apply_layers(batch, aug, lambda layer: StatelessSeed(step_seed, layer, derive=tf_fold_in))
        return batch, tf.gather(labels, index)

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches)
    ds = ds.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()   # a multiworker run gives each worker its part of every batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


def tf_fold_in(key, stream, draw):
    """TensorFlow's stateless seed (2,) for draw `draw` of layer `stream` from a graph-tensor key (2,)."""
    import tensorflow as tf
    fold = tf.random.experimental.stateless_fold_in
    return fold(fold(key, stream), draw)


def measure_throughput(x, y, batch_size, augment, engine, seconds=10.0, seed=0):
    """Augmented images per second one engine produces, without any model.

    Returns:
        float, images/s over at least `seconds` seconds after one warm-up batch.
    """
    import time
    engine = resolve_engine(engine)
    data = train_dataset(x, y, batch_size, augment, engine, seed, epochs=10**4)
    batches = iter(data) if engine == "layers" else (data[i % len(data)] for i in range(10**9))
    next(batches)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        images, _ = next(batches)
        n += int(np.shape(images)[0])
    return n / (time.perf_counter() - start)
