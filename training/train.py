"""Train one experiment on CIFAR-10 and leave everything in a new run folder.

Flow (see ../shared/STYLE.md): Experiment -> create_model -> data pipeline ->
compile + fit with callbacks -> evaluate the best checkpoint on the test split ->
runs/<experiment>-<time>/ with config.json, history.csv, best.h5, last.h5,
summary.txt, metrics.json, accuracy.png, loss.png and confusion_matrix.png.
While training, backup/ holds the last completed epoch's state, so `resume` can
continue a killed run; it is removed once metrics.json is written.
"""
import dataclasses
import glob
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile

import keras
import numpy as np

from callbacks import (AtomicModelCheckpoint, EpochStats, HistoryCSV, Lookahead, NonFiniteLoss, PlotHistory,
                       PreciseBatchNorm, RunBackup, StopOnNonFiniteLoss, WhiteningBiasDecay, make_schedule,
                       median_train_speed, plot_confusion_matrix, read_history, recompute_batchnorm_statistics)
from data import CLASSES, load_cifar10, split_validation
from data.provenance import data_provenance
from data.pipeline import check_batch_size, resolve_engine, steps_per_epoch, train_dataset
from errors import SuiteError
from experiments import Experiment
from experiments.config import OPTIMIZER_ARGS
from experiments.fields import with_defaults
from models import adapt_model, create_model, with_test_time_augmentation
from models.conv import matmul_gradient_enabled
from optimizers import MuonSGD
from training.evaluate import EVAL_BATCH_SIZE, evaluate_model, load_saved_model
from training.hardware import (STRATEGIES, choose_precision, describe_device, distribution_scope, fix_multiworker_build,
                               is_chief)
from training.losses import make_loss
from training.rundir import commit_file, new_run_dir, read_json, write_json, write_text


@dataclasses.dataclass
class RunOptions:
    """How to run an experiment, apart from the recipe itself.

    Fields: data_dir (local CIFAR-10, or None for $CIFAR10_DIR / download), val_split
    (validation images carved from the training data; 0 for none; None: the
    experiment's `val_split`, or 5000 for sweeps), limit_train (keep
    only the first N training images after the split; None for all), seed, output_dir
    (parent of run folders), strategy (training.hardware.STRATEGIES), verbose (Keras
    fit verbosity; None: a progress bar on a terminal, else only the one-line summaries),
    tensorboard (also write Keras' TensorBoard logs into run_dir/tb), precise_bn (re-estimate
    BatchNorm statistics on the first N training images, dropout off, before each validation and
    each checkpoint: `callbacks.PreciseBatchNorm`; 0, the default, keeps Keras' moving averages, as
    the seed recipes have them).
    """

    data_dir: str = None
    val_split: int = None
    limit_train: int = None
    seed: int = 0
    output_dir: str = "runs"
    strategy: str = "auto"
    verbose: int = None
    tensorboard: bool = False
    precise_bn: int = 0

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise SuiteError(f"unknown strategy {self.strategy!r}; choose one of: {', '.join(STRATEGIES)}")
        if self.tensorboard and importlib.util.find_spec("tensorflow") is None:
            raise SuiteError("--tensorboard needs TensorFlow installed (Keras' TensorBoard callback writes with "
                             "tf.summary, on any backend); pip install tensorflow")


def load_splits(opts, default_val_split=5000):
    """Load CIFAR-10 and split it: ((x, y) train, (x, y) validation or None, (x, y) test, provenance).

    The validation split is opts.val_split images, or `default_val_split` when that is None.
    `provenance` (`data.provenance.data_provenance`) names the data folder and the sha256
    of the arrays as loaded, before the split.
    """
    data_dir = opts.data_dir or os.environ.get("CIFAR10_DIR")
    (x, y), test = load_cifar10(data_dir)
    provenance = data_provenance((x, y), test, data_dir)
    n_val = default_val_split if opts.val_split is None else opts.val_split
    train, val = split_validation(x, y, n_val, seed=0)   # same hold-out for every run
    if opts.limit_train:
        train = (train[0][:opts.limit_train], train[1][:opts.limit_train])
    return train, val, test, provenance


def make_optimizer(exp, learning_rate):
    """The experiment's Keras optimizer with `learning_rate` (a float or a schedule).

    "muon" is optimizers.MuonSGD: its Muon step follows the same schedule, scaled to peak at
    optimizer_args["muon_lr"] when `learning_rate` peaks at exp.lr.
    """
    wd = exp.weight_decay or None
    # Keras' own weight averaging: at the end of fit the weights become their moving average.
    ema = {"use_ema": True, "ema_momentum": exp.ema_momentum} if exp.ema_momentum else {}
    if exp.optimizer == "muon":
        args = with_defaults(exp.optimizer_args, OPTIMIZER_ARGS["muon"])
        return MuonSGD(learning_rate, muon_scale=args["muon_lr"] / exp.lr, muon_momentum=args["muon_momentum"],
                       ns_steps=args["ns_steps"], momentum=exp.momentum, nesterov=exp.nesterov, weight_decay=wd,
                       **ema)
    if exp.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=exp.momentum, nesterov=exp.nesterov, weight_decay=wd,
                                    **ema)
    if exp.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate, weight_decay=wd, **ema)
    if exp.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=exp.weight_decay or 0.004, **ema)
    return keras.optimizers.RMSprop(learning_rate, momentum=exp.momentum, weight_decay=wd, **ema)


def compiled_model(exp, learning_rate, images=None):
    """The experiment's registered model, compiled with its optimizer (at `learning_rate`, a float or
    schedule), its loss and top-1 accuracy; used by training, sweeps and the throughput benchmark.

    `images` (uint8 (N, 32, 32, 3) training images) adapt the model's data-dependent layers
    (`models.adapt_model`, such as fast94's patch whitening); None leaves them as built.
    """
    model = create_model(exp.model, **exp.model_kwargs)
    if images is not None:
        adapt_model(model, images)
    model.compile(optimizer=make_optimizer(exp, learning_rate), loss=make_loss(exp.label_smoothing),
                  metrics=["accuracy"])
    return model


def schedule_and_callbacks(exp, n_train):
    """The recipe's learning rate (float or schedule) and the callbacks it needs (ReduceLROnPlateau,
    Lookahead, WhiteningBiasDecay) for `n_train` training images; used by training and by sweeps."""
    steps = steps_per_epoch(n_train, exp.batch_size)
    learning_rate, extra = make_schedule(exp.schedule, exp.lr, exp.schedule_args, exp.epochs, steps)
    if exp.lookahead:
        extra = [*extra, Lookahead(exp.epochs * steps, base=exp.lookahead)]
    if exp.whitening_bias_epochs:
        initial_lr = float(learning_rate(0)) if callable(learning_rate) else learning_rate
        extra = [*extra, WhiteningBiasDecay(max(1, round(exp.whitening_bias_epochs * steps)), initial_lr)]
    return learning_rate, extra


def make_callbacks(run_dir, exp, n_train, has_val, extra, first_epoch=0, tensorboard=False, precise_images=None):
    """Keras callbacks of a run, in order: precise BatchNorm statistics (with `precise_images`), NaN
    guard, stats, schedule, history, checkpoints, plots, backup and, with `tensorboard`, Keras'
    TensorBoard writing run_dir/tb.

    The backup comes after the files of an epoch, so an epoch counts as done only once they are
    written. TensorBoard comes after the backup: a kill between the two loses that epoch's
    TensorBoard point, while the other order would log the epoch twice once it is run again.
    """
    monitor = "val_accuracy" if has_val else "accuracy"
    best = AtomicModelCheckpoint(os.path.join(run_dir, "best.h5"), monitor=monitor, mode="max", save_best_only=True)
    board = [keras.callbacks.TensorBoard(os.path.join(run_dir, "tb"), histogram_freq=1, write_graph=True)]
    precise = [PreciseBatchNorm(precise_images)] if precise_images is not None and len(precise_images) else []
    return [
        *precise,                                        # before the validation and the checkpoints see them
        StopOnNonFiniteLoss(),                           # raises before a checkpoint saves NaN weights
        EpochStats(n_train, exp.epochs),                 # adds lr, seconds, images_per_s to the logs
        *extra,
        HistoryCSV(os.path.join(run_dir, "history.csv"), first_epoch),
        best,
        AtomicModelCheckpoint(os.path.join(run_dir, "last.h5")),
        PlotHistory(run_dir),
        RunBackup(run_dir, stateful=[best, *extra]),
        *(board if tensorboard else []),
    ]


# Environment variables that change a run's speed or numerics, recorded in config.json: the suite's
# switches (CIFAR10_MATMUL_KERNEL_GRADIENT, CIFAR10_FUSED_BATCHNORM, ...), oneDNN's (for example
# ONEDNN_DEFAULT_FPMATH_MODE=BF16, which lets float32 convolutions compute in bfloat16) and
# TensorFlow's oneDNN and thread settings.
RECORDED_VARIABLES = ("CIFAR10_", "ONEDNN_", "DNNL_", "TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTEROP_THREADS",
                      "TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS")


def environment(precision, strategy, why):
    """Backend, versions, device, precision (and `why`, choose_precision's reason), strategy, the
    environment variables of this process that change speed or numerics (RECORDED_VARIABLES), and
    whether models.conv.Conv2D computes kernel gradients by matrix products here (it depends on the
    CPU), for the run's files."""
    env = {"backend": keras.backend.backend(), "keras": keras.__version__,
           "device": describe_device(), "precision": precision, "precision_reason": why, "strategy": strategy,
           "variables": {k: v for k, v in sorted(os.environ.items()) if k.startswith(RECORDED_VARIABLES)},
           "matmul_kernel_gradient": matmul_gradient_enabled()}
    if env["backend"] in ("tensorflow", "jax", "torch"):       # e.g. "tensorflow": "2.21.0"
        env[env["backend"]] = importlib.import_module(env["backend"]).__version__
    return env


def write_run_header(run_dir, model, exp, opts, env, data=None, announce=True):
    """Write config.json (recipe, options, environment, data provenance, command) and summary.txt
    into a new run folder; `data` is `data.provenance.data_provenance`'s record."""
    write_json(os.path.join(run_dir, "config.json"),
               {"experiment": exp.to_dict(), "options": dataclasses.asdict(opts), "environment": env,
                "data": data,
                "parameters": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
                "command": " ".join(sys.argv)})
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    write_text(os.path.join(run_dir, "summary.txt"), "\n".join(lines) + "\n")
    if announce:
        print(f"run folder: {run_dir} (follow it: tail -f {os.path.join(run_dir, 'history.csv')})")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says what is saved and how to resume."""


@dataclasses.dataclass
class Session:
    """What one process needs to run (or resume) an experiment: recipe, options, data, compiled model."""

    exp: object
    opts: RunOptions
    model: object
    train: tuple
    val: tuple
    test: tuple
    env: dict
    extra_callbacks: list
    data: dict = None


def prepare(exp, opts):
    """Seed, precision, data splits, schedule and the compiled model of a run (no files written).

    Raises:
        SuiteError: bad data, a batch larger than the data, an unknown strategy or name.
    """
    keras.utils.set_random_seed(opts.seed)
    exp = dataclasses.replace(exp, augment_engine=resolve_engine(exp.augment_engine))   # config.json names it
    opts = dataclasses.replace(opts, val_split=exp.val_split if opts.val_split is None else opts.val_split)
    (x, y), val, test, data = load_splits(opts)
    check_batch_size(exp.batch_size, len(x))
    # The strategy first: TensorFlow's multiworker strategy must exist before any op runs, and
    # `auto` precision runs a few matrix products to measure the CPU.
    scope, strategy = distribution_scope(opts.strategy)
    precision, why = choose_precision(exp.precision)
    keras.mixed_precision.set_dtype_policy(precision)
    env = environment(precision, strategy, why)
    print(f"{exp.name}: {len(x)} training, {len(val[0]) if val else 0} validation, {len(test[0])} test images; "
          f"precision {precision} ({why}); augment engine {exp.augment_engine}; strategy {strategy}; {env['device']}")
    learning_rate, extra = schedule_and_callbacks(exp, len(x))
    with scope:
        model = fix_multiworker_build(compiled_model(exp, learning_rate, images=x))
    return Session(exp, opts, model, (x, y), val, test, env, extra, data)


def train(exp, opts=None):
    """Train experiment `exp` in a new run folder and evaluate its best checkpoint on the test split.

    Args:
        exp: an experiments.Experiment (a registered recipe with overrides).
        opts: RunOptions.

    Returns:
        (run_dir, metrics): the new run folder and the dict saved as metrics.json (run_dir None
        in a multiworker run's other workers, whose files are temporary).

    Raises:
        SuiteError: bad data or options (before any run folder is created), or a
            NaN/infinite loss (the run folder keeps the last good checkpoint).
        TrainingInterrupted: Ctrl-C; the completed epochs stay resumable.
    """
    session = prepare(exp, opts or RunOptions())
    if is_chief(session.model):
        run_dir = new_run_dir(session.opts.output_dir, exp.name)
        write_run_header(run_dir, session.model, session.exp, session.opts, session.env, session.data)
        return run_dir, fit_and_finish(session, run_dir, first_epoch=0)
    # A multiworker run: every worker runs the same steps, validation and test evaluation (each
    # takes part in every collective operation) and the same callbacks, but only the chief keeps
    # their files, as in TensorFlow's multi-worker tutorial.
    scratch = tempfile.mkdtemp(prefix=f"{exp.name}-worker-")
    try:
        run_dir = new_run_dir(scratch, exp.name)
        write_run_header(run_dir, session.model, session.exp, session.opts, session.env, session.data,
                         announce=False)
        print("this worker is not the chief: its files are temporary; the chief's run folder holds the run")
        return None, fit_and_finish(session, run_dir, first_epoch=0)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def resume(run_dir, data_dir=None, verbose=None):
    """Continue a killed or interrupted run from its last completed epoch, in the same folder.

    Restores weights, optimizer state (so the LR schedule's position), seed states,
    the best-so-far metric and best.h5/last.h5 from run_dir/backup; the data pipeline
    restarts at the next epoch with the same shuffles and transforms (engine "layers").

    Args:
        run_dir: a folder written by `train`.
        data_dir, verbose: replace the run's own options (the data may have moved).

    Returns:
        (run_dir, metrics) as `train`.

    Raises:
        SuiteError: not a run folder, an unreadable config, a run that already finished, or a damaged
            backup or history (`RunBackup.check_resumable`; then nothing in the folder has changed).
    """
    config, exp, opts = read_run_config(run_dir)
    opts = dataclasses.replace(opts, data_dir=data_dir or opts.data_dir,
                               verbose=verbose if verbose is not None else opts.verbose)
    if os.path.exists(os.path.join(run_dir, "metrics.json")):
        raise SuiteError(f"{run_dir}: this run already finished (metrics.json exists)")
    done = RunBackup.check_resumable(run_dir)          # the whole backup, before anything is written
    session = prepare(exp, opts)
    for leftover in glob.glob(os.path.join(run_dir, "*.tmp*")):   # half-written files of the killed process
        os.remove(leftover)
    config["resumed_after_epochs"] = config.get("resumed_after_epochs", []) + [done]
    write_json(os.path.join(run_dir, "config.json"), config)
    print(f"resuming {run_dir} after epoch {done} of {exp.epochs}")
    return run_dir, fit_and_finish(session, run_dir, first_epoch=done)


def read_run_config(run_dir):
    """(config dict, Experiment, RunOptions) of run_dir/config.json; SuiteError if it is not a run folder."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.isdir(run_dir) or not os.path.isfile(path):
        raise SuiteError(f"{run_dir}: not a run folder (no config.json)")
    config = read_json(path)
    try:
        return config, Experiment(**config["experiment"]), RunOptions(**config["options"])
    except (KeyError, TypeError):
        raise SuiteError(f"{path}: not a config.json written by run.py train") from None


def fit_and_finish(session, run_dir, first_epoch):
    """Fit epochs first_epoch..epochs-1 with the run's callbacks, then evaluate; returns the metrics."""
    exp, opts, model = session.exp, session.opts, session.model
    x, y = session.train
    data = train_dataset(x, y, exp.batch_size, exp.augment, exp.augment_engine, seed=opts.seed,
                         first_epoch=first_epoch, epochs=exp.epochs)
    verbose = opts.verbose if opts.verbose is not None else (1 if sys.stdout.isatty() else 0)
    try:
        model.fit(data, epochs=exp.epochs, initial_epoch=first_epoch,
                  steps_per_epoch=steps_per_epoch(len(x), exp.batch_size),
                  validation_data=session.val, validation_batch_size=EVAL_BATCH_SIZE,
                  callbacks=make_callbacks(run_dir, exp, len(x), session.val is not None,
                                           session.extra_callbacks, first_epoch, opts.tensorboard,
                                           x[:opts.precise_bn] if opts.precise_bn else None),
                  verbose=verbose, shuffle=False)   # the pipeline shuffles
    except NonFiniteLoss as exc:
        kept = [f for f in ("best.h5", "last.h5") if os.path.exists(os.path.join(run_dir, f))]
        raise NonFiniteLoss(f"training stopped: {exc}; kept the last good checkpoints in {run_dir}: "
                            f"{', '.join(kept) or 'none (no epoch finished)'}") from None
    except KeyboardInterrupt:
        done = RunBackup.completed_epochs(run_dir)
        raise TrainingInterrupted(f"{done} of {exp.epochs} epochs are saved in {run_dir}; "
                                  f"continue with: python run.py train --resume {run_dir}") from None
    metrics = finish_run(run_dir, session)
    shutil.rmtree(os.path.join(run_dir, "backup"), ignore_errors=True)
    return metrics


def misclassified(predictions, labels, n=50):
    """The first `n` wrongly classified test images as [index, true class, predicted class]."""
    wrong = np.flatnonzero(predictions != labels)[:n]
    return [[int(i), int(labels[i]), int(predictions[i])] for i in wrong]


def test_model(run_dir, exp, model, precise_images=None):
    """The model the test split measures, and the file holding it.

    evaluate_weights 'best': best.h5; 'final': the weights as training left them (the
    weight average with ema_momentum; with `precise_images`, BatchNorm statistics re-estimated
    for those weights first), saved atomically as final.h5. With tta_level > 0
    the model is wrapped in its test-time views (models.tta); final.h5 holds the wrapper.

    Returns:
        (keras.Model (N, 32, 32, 3) uint8 -> (N, 10), file name in run_dir).
    """
    if exp.evaluate_weights == "best":
        return with_test_time_augmentation(load_saved_model(os.path.join(run_dir, "best.h5")), exp.tta_level), "best.h5"
    if precise_images is not None:
        recompute_batchnorm_statistics(model, precise_images)
    model = with_test_time_augmentation(model, exp.tta_level)
    tmp = os.path.join(run_dir, "final.tmp.h5")
    model.save(tmp)
    commit_file(tmp, os.path.join(run_dir, "final.h5"))
    return model, "final.h5"


def announce_target(exp, top1, train_seconds, eval_seconds):
    """Print the time to the experiment's target test accuracy; returns it in seconds (None if missed)."""
    if exp.target_accuracy is None:
        return None
    target = f"{100 * exp.target_accuracy:.1f}%"
    if top1 < exp.target_accuracy:
        print(f"did not reach {target} test top-1 ({100 * top1:.2f}% after {exp.epochs} epochs)")
        return None
    total = train_seconds + eval_seconds
    print(f"time to {target}: {total:.0f} s ({train_seconds:.0f} s training, {exp.epochs} epochs, "
          f"+ {eval_seconds:.0f} s test evaluation{' with test-time augmentation' if exp.tta_level else ''})")
    return total


def finish_run(run_dir, session):
    """Evaluate the run's test model (see `test_model`) on the test split; write metrics.json and
    confusion_matrix.png; print the accuracy and, for a recipe with a target, the time to it.

    Training time (`wall_seconds`) is the sum of the epochs' seconds in history.csv,
    so a resumed run counts every session's epochs and nothing twice.
    """
    exp, (x_test, y_test) = session.exp, session.test
    history = read_history(os.path.join(run_dir, "history.csv"))
    precise = session.train[0][:session.opts.precise_bn] if session.opts.precise_bn else None
    model, evaluated = test_model(run_dir, exp, session.model, precise)
    result = evaluate_model(model, x_test, y_test)
    monitor = "val_accuracy" if "val_accuracy" in history else "accuracy"
    wall_seconds = float(history["seconds"].sum())
    metrics = {
        "test_top1": result["top1"], "test_loss": result["loss"], "per_class": result["per_class"],
        "confusion": result["confusion"], "test_images": result["n"], "evaluated": evaluated,
        "tta_level": exp.tta_level,
        "best_epoch": int(np.argmax(history[monitor])) + 1, f"best_{monitor}": float(np.max(history[monitor])),
        "epochs": len(history), "wall_seconds": wall_seconds, "test_seconds": result["seconds"],
        "time_to_target_seconds": announce_target(exp, result["top1"], wall_seconds, result["seconds"]),
        "seconds_per_epoch": float(history["seconds"].mean()),
        "train_images_per_s": median_train_speed(history), "inference_images_per_s": result["images_per_s"],
        "misclassified": misclassified(result["predictions"], y_test),
        "resumed_after_epochs": read_json(os.path.join(run_dir, "config.json")).get("resumed_after_epochs", []),
        "data": session.data, **session.env,
    }
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    plot_confusion_matrix(np.array(result["confusion"]), CLASSES, os.path.join(run_dir, "confusion_matrix.png"))
    which = f"{evaluated} (epoch {metrics['best_epoch']})" if evaluated == "best.h5" else evaluated
    print(f"test top-1 accuracy of {which}: {100 * result['top1']:.2f}%; "
          f"training time {wall_seconds:.0f} s; {metrics['train_images_per_s']:.0f} training img/s")
    return metrics
