"""Where the time of a training step goes: TensorFlow's profiler over a few steps of an experiment,
its op times summed by what they do (convolutions, BatchNorm, activation, pooling, casts, optimizer
update, loss and metrics, input pipeline, other).

    python benchmarks/profile_step.py [--experiment fast94] [--precision auto] [--steps 20]
        [--data-dir /tmp/cifar10] [--hp float32_norm=false] [--csv profile.csv]

The experiment's model, batch, optimizer and input pipeline (data.pipeline.train_dataset) run one
warm-up epoch of `--steps` steps, then the same again under tf.profiler.experimental; the trace's
XPlane (TensorFlow's own protobuf) gives every op's duration on the executor and tf.data threads.
An op is put in a category by its op type (Conv2D*, *Pool*, Cast, Assign*/ResourceApply*) or by
the Keras layer its name belongs to (batch_normalization*, activation*/gelu, dropout*). On two cores the ops
of a step partly overlap, so the column "ms per step" sums to more than the step's wall time;
"share" is of the summed op time. TensorFlow only.
"""
import argparse
import collections
import glob
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import run  # noqa: E402  (the suite's root on the path first)

CATEGORIES = ("convolutions", "BatchNorm", "activation (GELU/ReLU)", "dropout", "pooling", "casts",
              "optimizer update", "loss and metrics", "input pipeline", "other")


def category(op_name, thread):
    """The category of one traced op, from its 'scope/.../name:OpType' name and its thread's name."""
    from models.conv import GRADIENT_SCOPE
    path, _, op_type = op_name.rpartition(":")
    path = path.lower()
    if thread.startswith("tf_data"):
        return "input pipeline"
    if "Conv2D" in op_type or "DepthwiseConv" in op_type:
        return "convolutions"
    if "batch_normalization" in path or "BatchNorm" in op_type:
        return "BatchNorm"
    if any(key in path for key in ("activation", "gelu", "re_lu", "relu")):
        return "activation (GELU/ReLU)"
    if "dropout" in path:
        return "dropout"
    if "Pool" in op_type:
        return "pooling"
    if op_type == "Cast":
        return "casts"
    if GRADIENT_SCOPE in path:       # models.conv.Conv2D's gradient by matrix products
        return "convolutions"
    if any(key in path for key in ("sgd", "adam", "muon", "optimizer")) or op_type.startswith(("Assign", "ResourceApply")):
        return "optimizer update"
    if any(key in path for key in ("loss", "metrics", "accuracy", "crossentropy")):
        return "loss and metrics"
    return "other"


def op_times(xplane_path):
    """{category: picoseconds} and {op type: picoseconds} of the ops in one .xplane.pb (host plane)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    space = xplane_pb2.XSpace()
    with open(xplane_path, "rb") as f:
        space.ParseFromString(f.read())
    by_category, by_op = collections.Counter(), collections.Counter()
    for plane in space.planes:
        names = plane.event_metadata
        for line in plane.lines:
            if not line.name.startswith(("tf_Compute", "tf_data")):
                continue
            for event in line.events:
                name = names[event.metadata_id].name
                if ":" not in name or "::" in name:       # executor and thread-pool regions around the ops
                    continue
                by_category[category(name, line.name)] += event.duration_ps
                by_op[name.rpartition(":")[2]] += event.duration_ps
    return by_category, by_op


def profile(experiment, precision, steps, data_dir=None, hp=None):
    """(wall seconds of the profiled steps, {category: ps}, {op type: ps}) for `steps` training steps
    of `experiment`, its model built with the hyperparameters `hp` ({name: value}) over the recipe's."""
    import keras
    import numpy as np
    import tensorflow as tf

    from data import load_cifar10
    from data.pipeline import resolve_engine, train_dataset
    from experiments import get_experiment
    from training.train import compiled_model, schedule_and_callbacks
    exp = get_experiment(experiment).with_hp(hp)
    n = steps * exp.batch_size
    if data_dir:
        (x, y), _ = load_cifar10(data_dir)
        x, y = x[:n], y[:n]
    else:
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (n, 32, 32, 3), dtype="uint8"), rng.integers(0, 10, n)
    keras.mixed_precision.set_dtype_policy(precision)
    learning_rate, _ = schedule_and_callbacks(exp, n)
    model = compiled_model(exp, learning_rate, images=x)
    data = train_dataset(x, y, exp.batch_size, exp.augment, resolve_engine(exp.augment_engine), seed=0, epochs=2)
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)            # tracing and warm-up
    folder = tempfile.mkdtemp(prefix="profile-")
    tf.profiler.experimental.start(folder)
    start = time.perf_counter()
    model.fit(data, epochs=2, initial_epoch=1, steps_per_epoch=steps, verbose=0)
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    (path,) = glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True)
    keras.mixed_precision.set_dtype_policy("float32")
    return (wall, *op_times(path))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="fast94")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "mixed_bfloat16"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--data-dir", default=os.environ.get("CIFAR10_DIR"), help="real images (default: random ones)")
    p.add_argument("--hp", default={}, type=run.key_values,
                   help="model hyperparameters over the recipe's, as `run.py train --hp`, e.g. float32_norm=false")
    p.add_argument("--csv")
    a = p.parse_args(argv)
    import pandas as pd

    run.import_backend_quietly()
    from training.hardware import choose_precision, describe_device
    from training.rundir import write_csv
    precision, why = choose_precision(a.precision)
    wall, by_category, by_op = profile(a.experiment, precision, a.steps, a.data_dir, a.hp)
    total = sum(by_category.values())
    table = pd.DataFrame([{"category": c, "ms per step": round(by_category[c] / 1e9 / a.steps, 2),
                           "share": f"{100 * by_category[c] / total:.1f}%"} for c in CATEGORIES])
    settings = "".join(f", {k}={v}" for k, v in a.hp.items())
    print(f"{a.experiment}{settings}, {precision} ({why}), {describe_device()}: {a.steps} steps in {wall:.2f} s "
          f"({1000 * wall / a.steps:.0f} ms a step wall time; ops summed: {total / 1e9 / a.steps:.0f} ms a step)")
    print(table.to_markdown(index=False))
    print("heaviest op types (ms per step): " + ", ".join(
        f"{op} {ps / 1e9 / a.steps:.1f}" for op, ps in by_op.most_common(8)))
    if a.csv:
        write_csv(a.csv, table.assign(experiment=a.experiment, precision=precision,
                                      wall_ms_per_step=1000 * wall / a.steps, device=describe_device()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
