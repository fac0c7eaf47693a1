"""Training images/s of the suite's default path on each Keras backend, float32 and mixed_bfloat16.

    python benchmarks/backends.py --data-dir /tmp/cifar10 [--models lenet5,ygnet,fast94]
        [--backends tensorflow,jax,torch] [--python jax=/path/to/venv/bin/python] [--csv out.csv]

Keras picks its backend once per process, so each backend runs in its own child
process (this script with --worker), one after the other, on the same N real training
images: for each model and precision, a fresh compiled model (training.train.compiled_model)
fitted for two epochs on data.pipeline.train_dataset with the recipe's augmentation,
batch size, optimizer and loss, and engine "auto" (tf.data on TensorFlow, the PyDataset
engine elsewhere); the figure is the second epoch's training images/s (the first
includes tracing and compilation). `--python BACKEND=PATH` runs a backend with another
interpreter (a virtual environment without TensorFlow, say). Prints, per model, each
backend's images/s in both precisions and the best of all; training.hardware's
`--precision auto` rule for CPUs follows this table (CPU_BF16_FASTER).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PRECISIONS = ("float32", "mixed_bfloat16")


def worker(data_dir, models, images):
    """In a child process: one JSON line per (model, precision) on this process's backend."""
    import run
    run.import_backend_quietly()
    import keras

    from benchmarks.throughput import compiled, train_speed
    from data import load_cifar10
    from data.pipeline import resolve_engine, steps_per_epoch, train_dataset
    from experiments import get_experiment
    from training.hardware import describe_device
    (x, y), _ = load_cifar10(data_dir)
    x, y = x[:images], y[:images]
    for name in models:
        exp = get_experiment(name)
        for precision in PRECISIONS:
            data = train_dataset(x, y, exp.batch_size, exp.augment, "auto", seed=0, epochs=2)
            speed = train_speed(compiled(exp, precision, x), data, len(x), steps_per_epoch(len(x), exp.batch_size))
            print(json.dumps({"model": name, "backend": keras.backend.backend(), "precision": precision,
                              "train_img_s": round(speed, 1), "engine": resolve_engine("auto"),
                              "keras": keras.__version__, "device": describe_device()}), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("CIFAR10_DIR"))
    p.add_argument("--models", default="lenet5,ygnet,fast94")
    p.add_argument("--backends", default="tensorflow,jax,torch")
    p.add_argument("--images", type=int, default=2048, help="training images per measurement")
    p.add_argument("--python", action="append", default=[], metavar="BACKEND=PATH",
                   help="interpreter for one backend (default: this one)")
    p.add_argument("--csv", help="also write the table as CSV")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    models = a.models.split(",")
    if a.worker:
        return worker(a.data_dir, models, a.images)
    import pandas as pd

    from training.rundir import write_csv
    pythons = dict(item.split("=", 1) for item in a.python)
    rows = []
    for backend in a.backends.split(","):
        cmd = [pythons.get(backend, sys.executable), os.path.abspath(__file__), "--worker", "--models", a.models,
               "--images", str(a.images), "--data-dir", a.data_dir]
        out = subprocess.run(cmd, env={**os.environ, "KERAS_BACKEND": backend}, cwd=ROOT, capture_output=True,
                             text=True)
        lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode or not lines:
            print(f"{backend}: failed (exit {out.returncode}): {out.stderr.strip().splitlines()[-1:]}")
        rows += lines
    table = pd.DataFrame(rows)
    print(f"{rows[0]['device'] if rows else ''}; {a.images} images, second of two epochs")
    wide = table.pivot_table(index="model", columns=["backend", "precision"], values="train_img_s", sort=False)
    print(wide.to_string())
    if a.csv:
        write_csv(a.csv, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
