"""Throughput of the augmentation engines, without a model (images/s).

    python benchmarks/augment_engines.py --data-dir /tmp/cifar10 [--seconds 10] [--csv out.csv]

Measures data.pipeline.train_dataset for engine "layers" (tf.data + Keras
preprocessing layers), "pydataset" (the same layers on the active Keras backend, one
batch at a time) and "imagedatagenerator" (ImageDataGenerator.flow) on real CIFAR-10
training images, for each recipe's augmentation and batch size below, and prints a
table with the ratio layers / imagedatagenerator. Engines that need TensorFlow are left
out where it is not installed; set KERAS_BACKEND to measure "pydataset" on JAX or PyTorch.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CASES = {  # name: (augmentation, batch size), as in the ygnet and lenet5 recipes
    "rotate+shift+flip, batch 64 (ygnet)": ({"rotation_range": 10, "width_shift_range": 0.1,
                                             "height_shift_range": 0.1, "horizontal_flip": True}, 64),
    "shift+flip, batch 64 (lenet5)": ({"width_shift_range": 0.1, "height_shift_range": 0.1,
                                      "horizontal_flip": True}, 64),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("CIFAR10_DIR"))
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--images", type=int, default=20000, help="training images to draw from")
    p.add_argument("--csv", help="also write the table as CSV")
    a = p.parse_args(argv)
    import pandas as pd

    import importlib.util

    import run
    run.import_backend_quietly()
    from data import load_cifar10
    from data.pipeline import measure_throughput
    from training.rundir import write_csv
    engines = ("layers", "pydataset", "imagedatagenerator") if importlib.util.find_spec("tensorflow") else ("pydataset",)
    (x, y), _ = load_cifar10(a.data_dir)
    x, y = x[:a.images], y[:a.images]
    rows = []
    for case, (augment, batch) in CASES.items():
        speeds = {engine: measure_throughput(x, y, batch, augment, engine, a.seconds) for engine in engines}
        ratio = {"ratio": round(speeds["layers"] / speeds["imagedatagenerator"], 2)} if len(engines) > 1 else {}
        rows.append({"case": case, **{f"{k} img/s": round(v) for k, v in speeds.items()}, **ratio})
    table = pd.DataFrame(rows)
    import keras

    from training.hardware import describe_device
    print(f"{describe_device()}; Keras backend {keras.backend.backend()}")
    print(table.to_string(index=False))
    if a.csv:
        write_csv(a.csv, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
