"""`run.py tune`: a keras-tuner sweep over an experiment's search space, resumable and distributable.

Results go to <output_dir>/tune/<experiment>/: keras-tuner's project folder
(keras_tuner/), trials.csv (one row per trial), sweep.png (validation accuracy against the most
influential hyperparameters), best.json, and trials/trial_<id>/,
a run folder per trial (config.json, summary.txt, history.csv) for `run.py report`. Running the same
command again reloads the project (keras-tuner's overwrite=False): finished trials
are kept, a trial that was running when the sweep was killed is run again.
Distributed: keras-tuner reads KERASTUNER_TUNER_ID ("chief" or a worker's name),
KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT; the chief serves the oracle and
writes the tables, workers run trials.
"""
import dataclasses
import os
import time

import keras
import keras_tuner
import pandas as pd

from callbacks import read_history
from callbacks.epoch_stats import format_duration
from data.pipeline import resolve_engine
from errors import SuiteError, UnknownNameError
from reporting.figures import sweep as plot_sweep
from training.hardware import choose_precision
from training.rundir import check_output_folder, write_csv, write_json, write_text
from training.train import RunOptions, environment, load_splits, train
from tuning.hypermodel import ExperimentHyperModel

TUNERS = {"random": keras_tuner.RandomSearch, "bayesian": keras_tuner.BayesianOptimization,
          "hyperband": keras_tuner.Hyperband}
OBJECTIVE = keras_tuner.Objective("val_accuracy", direction="max")


@dataclasses.dataclass
class TuneOptions:
    """How to run a sweep: tuner (a key of TUNERS), max_trials, epochs per trial (hyperband: the
    most), executions_per_trial, overwrite (start over), retrain (train the best configuration
    afterwards for retrain_epochs, default the recipe's), output_dir, chief_timeout (seconds a
    worker waits for the chief's oracle), precise_bn (training images on which each trial's
    BatchNorm statistics are re-estimated before validation; 0: off) and the data options of
    RunOptions (with `tensorboard`, each trial's run folder gets Keras' TensorBoard logs in tb/)."""

    tuner: str = "hyperband"
    max_trials: int = 10
    epochs: int = 5
    executions_per_trial: int = 1
    overwrite: bool = False
    retrain: bool = False
    retrain_epochs: int = None
    output_dir: str = "runs"
    chief_timeout: float = 120.0
    precise_bn: int = 2048
    data: RunOptions = dataclasses.field(default_factory=RunOptions)

    def __post_init__(self):
        if self.tuner not in TUNERS:
            raise UnknownNameError("tuner", self.tuner, TUNERS)


def role():
    """'chief', 'worker' or 'single', from keras-tuner's KERASTUNER_TUNER_ID."""
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID")
    return "single" if not tuner_id else "chief" if tuner_id == "chief" else "worker"


def check_distribution_env():
    """Check keras-tuner's distribution variables before a sweep starts.

    Raises:
        SuiteError: KERASTUNER_ORACLE_PORT is not a port number (1-65535), or a tuner ID is set
            without KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT.
    """
    port = os.environ.get("KERASTUNER_ORACLE_PORT")
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise SuiteError(f"KERASTUNER_ORACLE_PORT={port!r} is not a port number (1-65535)")
    if role() != "single" and not (port and os.environ.get("KERASTUNER_ORACLE_IP")):
        raise SuiteError("KERASTUNER_TUNER_ID is set, so this is a distributed sweep: set KERASTUNER_ORACLE_IP "
                         "and KERASTUNER_ORACLE_PORT too (the chief's address)")


def wait_for_chief(timeout):
    """In a worker, wait until the chief's oracle (KERASTUNER_ORACLE_IP:PORT) accepts connections.

    keras-tuner's gRPC client would wait for ever; this says what it waits for and gives up after
    `timeout` seconds.

    Raises:
        SuiteError: no chief answered within `timeout` seconds.
    """
    import socket
    import time
    address = (os.environ["KERASTUNER_ORACLE_IP"], int(os.environ["KERASTUNER_ORACLE_PORT"]))
    print(f"worker: waiting up to {timeout:g} s for the chief at {address[0]}:{address[1]}", flush=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(address, timeout=min(5.0, timeout)).close()
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise SuiteError(f"no chief answered at {address[0]}:{address[1]} within {timeout:g} s "
                                 "(start it with KERASTUNER_TUNER_ID=chief, or raise --chief-timeout)") from None
            time.sleep(0.5)


def make_tuner(hypermodel, opts, directory):
    """A keras-tuner tuner of kind opts.tuner that prints one progress line per finished trial."""
    base = TUNERS[opts.tuner]

    start, finished_here = time.perf_counter(), [0]

    class Tuner(base):
        def run_trial(self, trial, *args, **kwargs):
            hypermodel.trial_id = trial.trial_id       # names the trial's run folder
            return super().run_trial(trial, *args, **kwargs)

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            # The oracle's copy has the score (in a worker, `trial` is a local copy without it).
            finished_here[0] += 1
            print(progress_line(self.oracle.get_trial(trial.trial_id), opts, self.oracle,
                                (time.perf_counter() - start) / finished_here[0]), flush=True)

    budget = {"max_epochs": opts.epochs} if opts.tuner == "hyperband" else {"max_trials": opts.max_trials}
    try:
        return Tuner(hypermodel, objective=OBJECTIVE, executions_per_trial=opts.executions_per_trial,
                     directory=directory, project_name="keras_tuner", overwrite=opts.overwrite,
                     seed=opts.data.seed, **budget)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:   # a damaged oracle.json / trial.json
        cause = exc.__cause__ or exc       # keras-tuner wraps the reload error in a RuntimeError
        raise SuiteError(f"{directory}/keras_tuner: the saved sweep cannot be reloaded ({type(cause).__name__}: "
                         f"{' '.join(str(cause).split())[:120]}); run again with --overwrite to start it "
                         "over") from None


def planned_trials(opts, oracle):
    """Trials the sweep runs in all: max_trials, or for Hyperband every round of every bracket of
    its iterations (keras-tuner's own sizes: it has no public count)."""
    if opts.tuner != "hyperband":
        return opts.max_trials
    oracle = getattr(oracle, "_oracle", oracle)      # a distributed worker's OracleClient wraps its own copy
    brackets = oracle._get_num_brackets()
    return oracle.hyperband_iterations * sum(oracle._get_size(b, r) for b in range(brackets) for r in range(b + 1))


def progress_line(trial, opts, oracle, seconds_per_trial=None):
    """'trial k of N: hps; val_accuracy x; best so far y; T left' for a finished trial; the time left is
    the N - k trials after it times `seconds_per_trial` (this process's mean so far). Works in a
    distributed worker too, whose oracle is a keras-tuner OracleClient."""
    score = trial.score
    best = oracle.get_best_trials(1)
    best_score = best[0].score if best and best[0].score is not None else score
    total, number = planned_trials(opts, oracle), int(trial.trial_id) + 1
    values = ", ".join(f"{k}={_short(v)}" for k, v in trial.hyperparameters.values.items()
                       if not k.startswith("tuner/"))
    shown = "failed" if score is None else f"{score:.4f}"
    left = f"; {format_duration(seconds_per_trial * (total - number))} left" \
        if seconds_per_trial is not None and total > number else ""
    return (f"trial {number} of {total}: {values}; val_accuracy {shown}; "
            f"best so far {best_score if best_score is None else format(best_score, '.4f')}{left}")


def _short(value):
    return f"{value:.3g}" if isinstance(value, float) else value


def trials_table(oracle, trials_dir):
    """One row per trial: trial (1-based, as the progress lines), trial_id (keras-tuner's), status,
    its hyperparameters, val_accuracy (its best epoch's, keras-tuner's score), and from the trial's
    run folder (trials_dir/trial_<id>/history.csv) epochs and seconds (training and validation)."""
    rows = []
    for trial_id, trial in sorted(oracle.trials.items(), key=lambda item: int(item[0])):
        history = read_history(os.path.join(trials_dir, f"trial_{trial_id}", "history.csv"))
        rows.append({"trial": int(trial_id) + 1, "trial_id": trial_id, "status": trial.status,
                     **trial.hyperparameters.values, "val_accuracy": trial.score, "epochs": len(history),
                     "seconds": float(history["seconds"].sum()) if "seconds" in history else None})
    return pd.DataFrame(rows)


def tune(exp, opts):
    """Run (or resume) a sweep over `exp`'s search space; returns the trials table (chief/single) or None.

    Raises:
        SuiteError: bad data or options, an output folder that is a file or a run folder, bad
            keras-tuner distribution variables, or a saved sweep that cannot be reloaded.
    """
    check_output_folder(opts.output_dir)
    check_distribution_env()
    if role() == "worker":
        wait_for_chief(opts.chief_timeout)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        tf.get_logger().setLevel("ERROR")   # every trial builds a new model: TF's retracing notes are expected
    keras.utils.set_random_seed(opts.data.seed)
    exp = dataclasses.replace(exp, augment_engine=resolve_engine(exp.augment_engine))
    precision, why = choose_precision(exp.precision)
    keras.mixed_precision.set_dtype_policy(precision)
    train_split, val, _, data = load_splits(opts.data)
    if val is None:
        raise SuiteError("a sweep needs a validation split (--val-split > 0): it never looks at the test split")
    directory = os.path.join(opts.output_dir, "tune", exp.name)
    hypermodel = ExperimentHyperModel(exp, train_split, val, opts.epochs, seed=opts.data.seed,
                                      trials_dir=os.path.join(directory, "trials"),
                                      env=environment(precision, "default", why), data=data,
                                      precise_bn=min(opts.precise_bn, len(train_split[0])),
                                      tensorboard=opts.data.tensorboard)
    tuner = make_tuner(hypermodel, opts, directory)
    print(f"{opts.tuner} sweep over {exp.name}: {', '.join(hypermodel.space)}; {len(train_split[0])} training, "
          f"{len(val[0])} validation images; precision {precision} ({why}); {directory} ({role()})", flush=True)
    tuner.search(verbose=0)
    if role() == "worker":
        return None
    table = trials_table(tuner.oracle, hypermodel.trials_dir)
    write_csv(os.path.join(directory, "trials.csv"), table)
    plot_sweep(table, os.path.join(directory, "sweep.png"))
    best = write_best(tuner, hypermodel, exp, directory)
    write_text(os.path.join(directory, "trials.txt"), table.to_string(index=False) + "\n")
    print(table.to_string(index=False))
    if opts.retrain:
        recipe = best.with_overrides(epochs=opts.retrain_epochs or exp.epochs)
        train(recipe, dataclasses.replace(opts.data, output_dir=opts.output_dir))
    return table


def write_best(tuner, hypermodel, exp, directory):
    """Write best.json (trial, score, hyperparameters, resulting recipe); returns the best recipe."""
    (trial,) = tuner.oracle.get_best_trials(1) or [None]
    if trial is None:
        raise SuiteError(f"no trial of {exp.name} finished; see {directory}")
    recipe = hypermodel.trial_experiment(trial.hyperparameters).with_overrides(epochs=exp.epochs)
    write_json(os.path.join(directory, "best.json"),
               {"experiment": exp.name, "trial": int(trial.trial_id) + 1, "trial_id": trial.trial_id,
                "val_accuracy": trial.score,
                "hyperparameters": trial.hyperparameters.values, "recipe": recipe.to_dict()})
    print(f"best: trial {int(trial.trial_id) + 1}, val_accuracy {trial.score:.4f}; {directory}/best.json")
    return recipe
