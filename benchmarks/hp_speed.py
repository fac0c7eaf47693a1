"""Training images/s of one experiment with and without some model hyperparameters or environment
variables: an A/B of a speed option.

    python benchmarks/hp_speed.py --data-dir /tmp/cifar10 --experiment fast94 --hp float32_norm=false
        [--env CIFAR10_MATMUL_KERNEL_GRADIENT=0] [--run-callbacks] [--precision auto] [--images 6144]
        [--repeats 4] [--csv out.csv]

Variant B is the recipe with `--hp` over its model hyperparameters, built and trained with the
`--env` variables set (the suite's switches such as CIFAR10_FUSED_BATCHNORM=0 are read when a
model is built or traced, so they apply to B only) and, with `--run-callbacks`, with what
`run.py train` adds to each step: the recipe's learning-rate schedule and its per-step callbacks
(fast94's lookahead, airbench94_muon's whitening-bias decay, the NaN guard). Variant A trains at
the recipe's initial learning rate with no callback but the epoch timer.

Both variants run the suite's default path (benchmarks/throughput.py's (b): the recipe's
batch, augmentation and optimizer, the stateless tf.data pipeline) on the same real images,
each with a fresh model and two epochs; the figure is the second epoch's training images/s.
They run in `--repeats` pairs, so that a slow spell of the machine hits both, and the order swaps
from pair to pair (A B, B A, A B, ...): a pair's order moved its result by several percent (the
suite's GELU against Keras': +8.3% with it first in every pair, +3.0% with it second; then, swapped,
fast94's pairs +3%, +10%, +3%, +9%; docs/speed.md, "GELU from erf"), so an even `--repeats` gives
each variant the first place equally often. The table gives each run and the medians. TensorFlow
only (the pipeline).
"""
import argparse
import os
import sys
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import run  # noqa: E402  (the suite's root on the path first)


def speed(exp, precision, x, y, run_callbacks=False):
    """Training img/s of a fresh model of `exp` on the suite's default path (throughput.suite_speed).

    run_callbacks: train as `run.py train` steps: the recipe's learning-rate schedule and the callbacks
    that act at every step (training.train.schedule_and_callbacks: lookahead, whitening-bias decay;
    and the NaN guard); otherwise a constant lr and no callback but the one that times the epoch.
    """
    from benchmarks.throughput import compiled, suite_speed
    if not run_callbacks:
        return suite_speed(compiled(exp, precision, x), exp, x, y)
    from callbacks import StopOnNonFiniteLoss
    from training.train import schedule_and_callbacks
    learning_rate, per_step = schedule_and_callbacks(exp, len(x))
    return suite_speed(compiled(exp, precision, x, learning_rate), exp, x, y,
                       callbacks=[StopOnNonFiniteLoss(), *per_step])


def compare(experiment, hp, x, y, precision, repeats, env=None, run_callbacks=False):
    """{'recipe': [img/s, ...], 'variant': [img/s, ...]}: `repeats` measurements of each, in pairs
    whose order swaps from pair to pair (recipe first in the first pair).

    x: uint8 images (N, 32, 32, 3); y: labels (N,); hp: {name: value} over the recipe's model_kwargs;
    env: {variable: value} set in os.environ while the variant is built and trained (then restored);
    run_callbacks: the variant also trains with the run's schedule and per-step callbacks (`speed`).
    """
    from experiments import get_experiment
    base = get_experiment(experiment)
    variants = {"recipe": (base, {}, False), "variant": (base.with_hp(hp), env or {}, run_callbacks)}
    speeds = {name: [] for name in variants}
    for pair in range(repeats):
        for name in (("recipe", "variant") if pair % 2 == 0 else ("variant", "recipe")):
            exp, variables, callbacks = variants[name]
            with mock.patch.dict(os.environ, {k: str(v) for k, v in variables.items()}):
                speeds[name].append(speed(exp, precision, x, y, callbacks))
    return speeds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("CIFAR10_DIR"))
    p.add_argument("--experiment", default="fast94")
    p.add_argument("--hp", default={}, type=run.key_values, help="model hyperparameters of variant B, "
                   "as `run.py train --hp`, e.g. float32_norm=false")
    p.add_argument("--env", default={}, type=run.key_values, help="environment variables of variant B, "
                   "e.g. CIFAR10_MATMUL_KERNEL_GRADIENT=0")
    p.add_argument("--run-callbacks", action="store_true", help="variant B also trains with the recipe's "
                   "learning-rate schedule and per-step callbacks (lookahead, whitening-bias decay, NaN guard)")
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "mixed_bfloat16"])
    p.add_argument("--images", type=int, default=6144, help="training images per measurement")
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--csv")
    a = p.parse_args(argv)
    if not (a.hp or a.env or a.run_callbacks):
        p.error("give variant B's --hp, --env or --run-callbacks")
    import keras
    import numpy as np
    import pandas as pd

    run.import_backend_quietly()
    from benchmarks.throughput import tf_logger_quiet
    from data import load_cifar10
    from training.hardware import choose_precision, describe_device
    from training.rundir import write_csv
    precision, why = choose_precision(a.precision)
    (x, y), _ = load_cifar10(a.data_dir)
    print(f"{a.experiment}: recipe against --hp {a.hp} --env {a.env}"
          + (" with the run's schedule and per-step callbacks" if a.run_callbacks else "")
          + f"; {precision} ({why}); {describe_device()}; {a.images} images, {a.repeats} pairs, the order swapped from pair to pair")
    tf_logger_quiet()
    speeds = compare(a.experiment, a.hp, x[:a.images], y[:a.images], precision, a.repeats, a.env, a.run_callbacks)
    keras.mixed_precision.set_dtype_policy("float32")
    table = pd.DataFrame([{"variant": name, "median_img_s": round(float(np.median(v)), 1),
                           "runs_img_s": " ".join(f"{s:.0f}" for s in v)} for name, v in speeds.items()])
    print(table.to_string(index=False))
    ratio = table.median_img_s.iloc[1] / table.median_img_s.iloc[0]
    print(f"variant / recipe: {ratio:.3f}")
    if a.csv:
        write_csv(a.csv, table.assign(experiment=a.experiment, hp=str(a.hp), env=str(a.env),
                                      run_callbacks=a.run_callbacks, precision=precision,
                                      device=describe_device()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
