"""Train one experiment on CIFAR-10 and leave everything in a new run folder.

Flow (see ../shared/STYLE.md): Experiment -> create_model -> data pipeline ->
compile + fit with callbacks -> evaluate the best checkpoint on the test split ->
runs/<experiment>-<time>/ with config.json, history.csv, best.h5, last.h5,
summary.txt, metrics.json, accuracy.png, loss.png and confusion_matrix.png.
"""
import dataclasses
import math
import os
import sys
import time

import keras
import numpy as np

from callbacks import (EpochStats, NonFiniteLoss, PlotHistory, StopOnNonFiniteLoss, make_schedule,
                       plot_confusion_matrix)
from data import CLASSES, load_cifar10, split_validation
from data.pipeline import check_batch_size, train_dataset
from errors import SuiteError
from models import create_model
from training.evaluate import EVAL_BATCH_SIZE, evaluate_model, load_saved_model
from training.hardware import STRATEGIES, describe_device, distribution_scope, resolve_precision
from training.losses import make_loss
from training.rundir import new_run_dir, write_json, write_text


@dataclasses.dataclass
class RunOptions:
    """How to run an experiment, apart from the recipe itself.

    Fields: data_dir (local CIFAR-10, or None for $CIFAR10_DIR / download), val_split
    (validation images carved from the training data; 0 for none), limit_train (keep
    only the first N training images after the split; None for all), seed, output_dir
    (parent of run folders), strategy (training.hardware.STRATEGIES), verbose (Keras
    fit verbosity; None: a progress bar on a terminal, else only the one-line summaries).
    """

    data_dir: str = None
    val_split: int = 5000
    limit_train: int = None
    seed: int = 0
    output_dir: str = "runs"
    strategy: str = "auto"
    verbose: int = None

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise SuiteError(f"unknown strategy {self.strategy!r}; choose one of: {', '.join(STRATEGIES)}")


def load_splits(opts):
    """Load CIFAR-10 and split it: ((x, y) train, (x, y) validation or None, (x, y) test)."""
    (x, y), test = load_cifar10(opts.data_dir)
    train, val = split_validation(x, y, opts.val_split, seed=0)   # same hold-out for every run
    if opts.limit_train:
        train = (train[0][:opts.limit_train], train[1][:opts.limit_train])
    return train, val, test


def make_optimizer(exp, learning_rate):
    """The experiment's Keras optimizer with `learning_rate` (a float or a schedule)."""
    wd = exp.weight_decay or None
    if exp.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=exp.momentum, nesterov=exp.nesterov, weight_decay=wd)
    if exp.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate, weight_decay=wd)
    if exp.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=exp.weight_decay or 0.004)
    return keras.optimizers.RMSprop(learning_rate, momentum=exp.momentum, weight_decay=wd)


def make_callbacks(run_dir, exp, n_train, has_val, extra):
    """Keras callbacks of a run, in order: NaN guard, stats, schedule, CSV history, checkpoints, plots."""
    monitor = "val_accuracy" if has_val else "accuracy"
    return [
        StopOnNonFiniteLoss(),                           # first: raises before a checkpoint saves NaN weights
        EpochStats(n_train, exp.epochs),                 # adds lr, seconds, images_per_s to the logs
        *extra,
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv")),
        keras.callbacks.ModelCheckpoint(os.path.join(run_dir, "best.h5"), monitor=monitor,
                                        mode="max", save_best_only=True),
        keras.callbacks.ModelCheckpoint(os.path.join(run_dir, "last.h5")),
        PlotHistory(run_dir),
    ]


def environment(precision, strategy):
    """Backend, versions, device, precision and strategy of this process, for the run's files."""
    env = {"backend": keras.backend.backend(), "keras": keras.__version__,
           "device": describe_device(), "precision": precision, "strategy": strategy}
    if env["backend"] == "tensorflow":
        import tensorflow as tf
        env["tensorflow"] = tf.__version__
    return env


def write_run_header(run_dir, model, exp, opts, env):
    """Write config.json (recipe, options, environment, command) and summary.txt into a new run folder."""
    write_json(os.path.join(run_dir, "config.json"),
               {"experiment": exp.to_dict(), "options": dataclasses.asdict(opts), "environment": env,
                "command": " ".join(sys.argv)})
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    write_text(os.path.join(run_dir, "summary.txt"), "\n".join(lines) + "\n")
    print(f"run folder: {run_dir}")


def train(exp, opts=None):
    """Train experiment `exp` and evaluate its best checkpoint on the test split.

    Args:
        exp: an experiments.Experiment (a registered recipe with overrides).
        opts: RunOptions.

    Returns:
        (run_dir, metrics): the new run folder and the dict saved as metrics.json.

    Raises:
        SuiteError: bad data or options (before any run folder is created), or a
            NaN/infinite loss (the run folder keeps the last good checkpoint).
    """
    opts = opts or RunOptions()
    keras.utils.set_random_seed(opts.seed)
    precision = resolve_precision(exp.precision)
    keras.mixed_precision.set_dtype_policy(precision)
    (x, y), val, (x_test, y_test) = load_splits(opts)
    check_batch_size(exp.batch_size, len(x))
    scope, strategy = distribution_scope(opts.strategy)
    env = environment(precision, strategy)
    print(f"{exp.name}: {len(x)} training, {len(val[0]) if val else 0} validation, {len(x_test)} test images; "
          f"precision {precision}; strategy {strategy}; {env['device']}")
    steps = math.ceil(len(x) / exp.batch_size)
    learning_rate, extra = make_schedule(exp.schedule, exp.lr, exp.schedule_args, exp.epochs, steps)
    with scope:
        model = create_model(exp.model, **exp.model_kwargs)
        model.compile(optimizer=make_optimizer(exp, learning_rate),
                      loss=make_loss(exp.label_smoothing), metrics=["accuracy"])
    run_dir = new_run_dir(opts.output_dir, exp.name)
    write_run_header(run_dir, model, exp, opts, env)

    data = train_dataset(x, y, exp.batch_size, exp.augment, exp.augment_engine, seed=opts.seed)
    verbose = opts.verbose if opts.verbose is not None else (1 if sys.stdout.isatty() else 0)
    start = time.perf_counter()
    try:
        history = model.fit(data, epochs=exp.epochs, validation_data=val, validation_batch_size=EVAL_BATCH_SIZE,
                            callbacks=make_callbacks(run_dir, exp, len(x), val is not None, extra),
                            verbose=verbose, shuffle=False)   # the pipeline shuffles
    except NonFiniteLoss as exc:
        kept = [f for f in ("best.h5", "last.h5") if os.path.exists(os.path.join(run_dir, f))]
        raise NonFiniteLoss(f"training stopped: {exc}; kept the last good checkpoints in {run_dir}: "
                            f"{', '.join(kept) or 'none (no epoch finished)'}") from None
    wall = time.perf_counter() - start
    metrics = finish_run(run_dir, history.history, wall, env, x_test, y_test)
    return run_dir, metrics


def finish_run(run_dir, history, wall_seconds, env, x_test, y_test):
    """Evaluate best.h5 on the test split; write metrics.json and confusion_matrix.png."""
    best = load_saved_model(os.path.join(run_dir, "best.h5"))
    result = evaluate_model(best, x_test, y_test)
    speeds = history["images_per_s"][1:] or history["images_per_s"]   # the first epoch includes warm-up
    monitor = "val_accuracy" if "val_accuracy" in history else "accuracy"
    metrics = {
        "test_top1": result["top1"], "test_loss": result["loss"], "per_class": result["per_class"],
        "confusion": result["confusion"], "test_images": result["n"], "evaluated": "best.h5",
        "best_epoch": int(np.argmax(history[monitor])) + 1, f"best_{monitor}": float(np.max(history[monitor])),
        "epochs": len(history["loss"]), "wall_seconds": wall_seconds,
        "seconds_per_epoch": float(np.mean(history["seconds"])),
        "train_images_per_s": float(np.median(speeds)), "inference_images_per_s": result["images_per_s"],
        **env,
    }
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    plot_confusion_matrix(np.array(result["confusion"]), CLASSES, os.path.join(run_dir, "confusion_matrix.png"))
    print(f"test top-1 accuracy of best.h5 (epoch {metrics['best_epoch']}): {100 * result['top1']:.2f}%; "
          f"wall time {wall_seconds:.0f} s; {metrics['train_images_per_s']:.0f} training img/s")
    return metrics
