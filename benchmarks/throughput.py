"""Training images/s of the seed-style path against the suite's default path, and inference images/s.

    python benchmarks/throughput.py --data-dir /tmp/cifar10 [--models baseline,pyramid,ygnet] [--csv out.csv]

For each model, in one process, one after the other, on the same real images:
  (a) seed-style: float32, Keras' ImageDataGenerator(**augment).flow, model.fit (the
      seeds' own input path, one image at a time in numpy/scipy);
  (b) the suite's default: precision 'auto', the stateless tf.data pipeline with Keras
      preprocessing layers, parallel map and prefetch (data.pipeline.train_dataset);
  (c) compute only: the suite's model and precision fitted on the same images already
      batched in memory, with no augmentation: the most the model itself can do, so b/c
      shows whether the input pipeline ever keeps the model waiting;
all with the experiment's augmentation, optimizer, loss and batch size (the seed style
has no alternating flip: it gets ImageDataGenerator's random flip). Each path runs
two epochs over the same N images, with a fresh model; the figure is the second epoch's
training images/s (the first includes tracing and warm-up). The paths alternate
(a, b, a, b, ... `--repeats` times each) and the table gives the median of each, since
on 2 cores a single measurement varies (ImageDataGenerator's worker thread competes
with TensorFlow's for the cores: ygnet's seed-style path measured 64 and 105 img/s in
two runs of one process). Inference: images/s of model.predict on N test images
(batch 1000) after a warm-up call. Prints a table with the ratio b/a.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def compiled(exp, precision, images, learning_rate=None):
    """A fresh seeded model of `exp` in `precision`, compiled at `learning_rate` (default: the recipe's
    initial lr, constant) and adapted to `images`."""
    import keras

    from training.train import compiled_model
    keras.mixed_precision.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    return compiled_model(exp, exp.lr if learning_rate is None else learning_rate, images=images)


def seed_style_augment(augment):
    """ImageDataGenerator's parameters for an experiment's augmentation (alternating flip -> random flip)."""
    from data.augment import imagedatagenerator_args
    out = imagedatagenerator_args(augment)
    return {**out, "horizontal_flip": True} if augment.get("alternating_flip") else out


def train_speed(model, data, n_images, steps, callbacks=()):
    """Training images/s of the second of two epochs (callbacks.EpochStats measures it), with `callbacks`
    run after it at every step."""
    from callbacks import EpochStats
    history = model.fit(data, epochs=2, steps_per_epoch=steps,
                        callbacks=[EpochStats(n_images, 2, print_fn=None), *callbacks], verbose=0)
    return history.history["images_per_s"][1]


def suite_speed(model, exp, x, y, callbacks=()):
    """Training images/s of `model` on the suite's default path: the recipe's batch and augmentation in
    the stateless pipeline (data.pipeline.train_dataset, engine as `--augment-engine auto` picks it),
    second of two epochs over x (uint8 (N, 32, 32, 3)) and y (N,); `callbacks` as train_speed's."""
    from data.pipeline import resolve_engine, steps_per_epoch, train_dataset
    data = train_dataset(x, y, exp.batch_size, exp.augment, resolve_engine(exp.augment_engine), seed=0, epochs=2)
    return train_speed(model, data, len(x), steps_per_epoch(len(x), exp.batch_size), callbacks)


def inference_speed(model, x):
    model.predict(x[:1000], batch_size=1000, verbose=0)
    start = time.perf_counter()
    model.predict(x, batch_size=1000, verbose=0)
    return len(x) / (time.perf_counter() - start)


def measure(name, x, y, x_test, repeats):
    """{model, seed-style, suite and compute-only img/s (medians), ratios, inference img/s, precision,
    all runs} for one experiment."""
    import numpy as np
    import tensorflow as tf

    from data.pipeline import steps_per_epoch
    from experiments import get_experiment
    from training.hardware import resolve_precision
    exp = get_experiment(name)
    steps = steps_per_epoch(len(x), exp.batch_size)
    precision = resolve_precision("auto")
    seed_style, suite, compute = [], [], []
    cached = tf.data.Dataset.from_tensor_slices((x.astype("float32"), y)).batch(exp.batch_size).cache().repeat()
    for _ in range(repeats):
        flow = tf.keras.preprocessing.image.ImageDataGenerator(**seed_style_augment(exp.augment)).flow(
            x, y, batch_size=exp.batch_size, shuffle=True, seed=0)
        seed_style.append(train_speed(compiled(exp, "float32", x), flow, len(x), steps))
        suite_model = compiled(exp, precision, x)
        suite.append(suite_speed(suite_model, exp, x, y))
        compute.append(train_speed(compiled(exp, precision, x), cached, len(x), steps))
    a, b, c = (float(np.median(v)) for v in (seed_style, suite, compute))
    return {"model": name, "seed_style_img_s": round(a, 1), "suite_img_s": round(b, 1),
            "compute_only_img_s": round(c, 1), "ratio": round(b / a, 2), "suite_vs_compute": round(b / c, 2),
            "inference_img_s": round(inference_speed(suite_model, x_test), 1), "precision": precision,
            "images": len(x), "batch": exp.batch_size,
            "runs_a": " ".join(f"{v:.0f}" for v in seed_style), "runs_b": " ".join(f"{v:.0f}" for v in suite),
            "runs_c": " ".join(f"{v:.0f}" for v in compute)}


def tf_logger_quiet():
    """Every measurement builds a new model, so TF's retracing warnings are expected noise."""
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("CIFAR10_DIR"))
    p.add_argument("--models", default="baseline,pyramid,ygnet,fast94")
    p.add_argument("--images", type=int, default=5120, help="training (and test) images per measurement")
    p.add_argument("--repeats", type=int, default=3, help="measurements of each path, alternating (default 3)")
    p.add_argument("--csv", help="also write the table as CSV")
    a = p.parse_args(argv)
    import pandas as pd

    import run
    run.import_backend_quietly()
    from data import load_cifar10
    from training.hardware import choose_precision, describe_device
    from training.rundir import write_csv
    (x, y), (x_test, _) = load_cifar10(a.data_dir)
    precision, reason = choose_precision("auto")
    print(f"{describe_device()}; {a.images} images per measurement; the suite's path in {precision} ({reason})")
    tf_logger_quiet()
    rows = [measure(name, x[:a.images], y[:a.images], x_test[:a.images], a.repeats) for name in a.models.split(",")]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if a.csv:
        write_csv(a.csv, table)


if __name__ == "__main__":
    main()
