#!/usr/bin/env python3
"""The suite's command line: parse the arguments, call the suite, report errors in one line.

    python run.py list
    python run.py train ygnet [--epochs 2 --data-dir /tmp/cifar10 ...]
    python run.py train --resume runs/ygnet-20261121-101500
    python run.py load [PATH]
    python run.py evaluate RUN_DIR
    python run.py tune pyramid --tuner random --max-trials 6 --epochs 2 --limit-train 10000
    python run.py report [RUN_DIR or glob ...]
    python run.py predict [MODEL] IMAGE [IMAGE ...]

Bad input (an unknown name, a bad value, a missing or corrupt file) prints one line
on stderr and exits with status 2, without a traceback.
"""
import argparse
import json
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # keep TensorFlow's C++ start-up chatter off stderr
# TensorFlow's Linux x86 wheels run convolutions through oneDNN by default only on CPUs with
# AVX512_VNNI, AVX512_BF16, AVX-VNNI or AMX (DefaultOneDnnPolicy, tensorflow/core/util/port.cc), and
# through Eigen's kernels on the others. On a 2-core AMD EPYC with AVX2 and no AVX-512, fast94 trained
# 1.7-2.1x faster in float32 with oneDNN on (docs/speed.md, "A CPU without AVX-512"); where TensorFlow
# turns it on itself this changes nothing, and TF_ENABLE_ONEDNN_OPTS=0 still turns it off. Set here,
# before anything imports TensorFlow, since TensorFlow reads it once.
X86 = platform.machine().lower() in ("x86_64", "amd64")   # the CPUs TensorFlow's oneDNN policy concerns
if X86:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}


def import_backend_quietly():
    """Check that $KERAS_BACKEND's package is installed, import TensorFlow with native stderr silenced
    (console.native_stderr_silenced), then keep Keras' legacy-HDF5 notice out of the log.

    Raises:
        SuiteError: an unknown KERAS_BACKEND, or its package is not installed.
    """
    import importlib.util
    import logging

    from console import native_stderr_silenced
    from errors import SuiteError
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend not in BACKEND_MODULES:
        raise SuiteError(f"KERAS_BACKEND={backend!r}: choose one of {', '.join(BACKEND_MODULES)}")
    if not importlib.util.find_spec(BACKEND_MODULES[backend]):
        if "KERAS_BACKEND" not in os.environ:
            others = [b for b in ("jax", "torch") if importlib.util.find_spec(b)]
            raise SuiteError("TensorFlow, Keras' default backend, is not installed: pip install -r requirements.txt"
                             + "".join(f", or KERAS_BACKEND={b}" for b in others))
        raise SuiteError(f"KERAS_BACKEND={backend} but {BACKEND_MODULES[backend]} is not installed "
                         f"(pip install {BACKEND_MODULES[backend]}, or unset KERAS_BACKEND for TensorFlow)")
    if backend == "tensorflow":
        with native_stderr_silenced():
            import tensorflow
            tensorflow.config.list_physical_devices("GPU")   # device discovery logs too (cuInit without a GPU)
    # The user asked for .h5 checkpoints; Keras warns at every save that the format is legacy.
    logging.getLogger("absl").addFilter(lambda record: "HDF5 file" not in record.getMessage())


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit status 2, as argparse)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind, low, low_ok):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value != value or (value < low if low_ok else value <= low):   # NaN, or out of range
            raise argparse.ArgumentTypeError(f"must be {'>=' if low_ok else '>'} {low}, got {text}")
        return value
    return parse


positive_int, non_negative_int = _number(int, 0, False), _number(int, 0, True)
positive_float, non_negative_float = _number(float, 0.0, False), _number(float, 0.0, True)


def top_level_items(text):
    """Split 'a=[1,2],b=x' at the commas outside brackets and quotes: ['a=[1,2]', 'b=x'].

    No library parses this shorthand (it is not JSON, and csv knows no brackets), hence this loop.
    """
    items, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    return items + [text[start:]]


def key_values(text):
    """Parse 'a=1,b=true,c=x,d=[10,20]' into {'a': 1, 'b': True, 'c': 'x', 'd': [10, 20]} (values as JSON
    where they parse; commas inside brackets or quotes belong to the value)."""
    if text.strip().lower() in ("", "none", "off"):
        return {}
    out = {}
    for item in top_level_items(text):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"expected key=value[,key=value...], got {text!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def _one_of(names):
    """'a, b or c': a flag's valid values for its help, from the registry that checks them."""
    return f"{', '.join(names[:-1])} or {names[-1]}"


def build_parser():
    """The argument parser of every command (defaults of recipe fields live in the Experiment)."""
    from experiments.config import OPTIMIZERS, PRECISIONS, SCHEDULES   # no Keras: --help stays fast
    p = Parser(prog="run.py", description="Train, evaluate and compare CIFAR-10 CNNs with Keras 3.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    sub.add_parser("list", help="registered models (with parameter counts) and experiments")

    t = sub.add_parser("train", help="train a named experiment; writes runs/<name>-<time>/")
    t.add_argument("experiment", nargs="?", help="experiment name (see `run.py list`)")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a killed or interrupted run from its last completed epoch")
    data_options(t)
    r = t.add_argument_group("recipe overrides (default: the experiment's recipe)")
    r.add_argument("--model", help="train another registered model with this recipe")
    r.add_argument("--epochs", type=positive_int)
    r.add_argument("--batch-size", type=positive_int)
    r.add_argument("--lr", type=positive_float, help="initial learning rate")
    r.add_argument("--optimizer", help=_one_of(OPTIMIZERS))
    r.add_argument("--optimizer-args", type=key_values, help="the optimizer's own arguments, e.g. muon_lr=0.24")
    r.add_argument("--momentum", type=non_negative_float)
    r.add_argument("--weight-decay", type=non_negative_float)
    r.add_argument("--label-smoothing", type=non_negative_float)
    r.add_argument("--schedule", help=_one_of(SCHEDULES))
    r.add_argument("--schedule-args", type=key_values, help="e.g. drop_epochs=[10,20],factor=0.1")
    r.add_argument("--augment", type=key_values,
                   help="ImageDataGenerator parameters, e.g. rotation_range=10,horizontal_flip=true; or none")
    r.add_argument("--augment-engine", help="auto (layers on TensorFlow, else pydataset), layers (tf.data + Keras "
                   "preprocessing layers), pydataset (the same layers on any backend) or imagedatagenerator")
    r.add_argument("--precision", help=_one_of(PRECISIONS))
    r.add_argument("--hp", type=key_values, help="model hyperparameters, e.g. dropout=0.3")
    o = t.add_argument_group("run options")
    o.add_argument("--seed", type=non_negative_int, help="seed of initialisation, shuffling, augmentation (default 0)")
    o.add_argument("--strategy", help="auto (default), default, mirrored or multiworker")
    o.add_argument("--output-dir", help="parent folder of run folders (default: runs)")
    o.add_argument("--verbose", type=non_negative_int, choices=(0, 1, 2),
                   help="Keras progress output (default: a bar on a terminal, else none)")
    o.add_argument("--tensorboard", action="store_true", default=None,
                   help="also write Keras' TensorBoard logs into RUN_DIR/tb (tensorboard --logdir runs)")
    o.add_argument("--precise-bn", type=non_negative_int, metavar="IMAGES",
                   help="re-estimate BatchNorm statistics on this many training images (dropout off) before "
                   "each validation and checkpoint, for short runs (default 0: Keras' moving averages)")

    ld = sub.add_parser("load", help="evaluate a saved model (.h5 or .keras) on the test split")
    ld.add_argument("path", nargs="?", help="model file or pretrained name (default: the shipped default)")
    data_options(ld)

    ev = sub.add_parser("evaluate", help="evaluate a run's best.h5 on the test split")
    ev.add_argument("run_dir")
    data_options(ev)

    tn = sub.add_parser("tune", help="keras-tuner sweep over an experiment's search space; "
                        "writes runs/tune/<experiment>/ (run it again to resume)")
    tn.add_argument("experiment", help="experiment name (see `run.py list`)")
    tn.add_argument("--tuner", default="hyperband", help="hyperband (default; built for short trials), random or "
                    "bayesian")
    tn.add_argument("--max-trials", type=positive_int, default=10, help="trials (random, bayesian; default 10)")
    tn.add_argument("--epochs", type=positive_int, default=5, help="epochs per trial (hyperband: the most; default 5)")
    tn.add_argument("--executions-per-trial", type=positive_int, default=1)
    tn.add_argument("--overwrite", action="store_true", help="start the sweep over instead of resuming it")
    tn.add_argument("--retrain", action="store_true", help="then train the best configuration as a normal run")
    tn.add_argument("--retrain-epochs", type=positive_int, help="epochs of that run (default: the recipe's)")
    tn.add_argument("--seed", type=non_negative_int, default=0)
    tn.add_argument("--output-dir", default="runs", help="sweeps go to OUTPUT_DIR/tune/<experiment>/")
    tn.add_argument("--precise-bn", type=non_negative_int, default=2048, metavar="IMAGES",
                    help="re-estimate BatchNorm statistics on this many training images before each validation, "
                    "so short trials are scored with settled statistics (default 2048; 0: off)")
    tn.add_argument("--tensorboard", action="store_true", help="Keras' TensorBoard logs in each trial's folder (tb/)")
    tn.add_argument("--chief-timeout", type=positive_float, default=120.0,
                    help="a distributed sweep's worker waits this many seconds for the chief (default 120)")
    data_options(tn)

    rp = sub.add_parser("report", help="compare runs: table (CSV, Markdown, HTML) and plots")
    rp.add_argument("runs", nargs="*", help="run folders or globs (default: every run under runs/)")
    rp.add_argument("--out", default=os.path.join("runs", "report"), help="output folder (default runs/report)")
    data_options(rp)

    pr = sub.add_parser("predict", help="top-5 classes for image files")
    pr.add_argument("inputs", nargs="+", metavar="[MODEL] IMAGE",
                    help="a model (.h5/.keras file, run folder or pretrained name; default: the shipped "
                    "default) followed by image files of any size and format Pillow reads")
    return p


def data_options(parser):
    """The data flags shared by every command that reads CIFAR-10."""
    g = parser.add_argument_group("data")
    g.add_argument("--data-dir", help="local CIFAR-10: a folder with cifar-10-batches-py/ or "
                   "cifar-10-python.tar.gz (default: $CIFAR10_DIR, else download)")
    if parser.prog.endswith(("train", "tune")):
        g.add_argument("--val-split", type=non_negative_int,
                       help="validation images carved from the training data (default 5000, or the recipe's "
                       "own: 0 for fast94; 0: none)")
        g.add_argument("--limit-train", type=positive_int, help="use only N training images")


RECIPE_FLAGS = ("model", "epochs", "batch_size", "lr", "optimizer", "optimizer_args", "momentum", "weight_decay",
                "label_smoothing", "schedule", "schedule_args", "augment", "augment_engine", "precision", "hp")
RUN_FLAGS = ("val_split", "limit_train", "seed", "output_dir", "strategy", "tensorboard", "precise_bn")


def cmd_train(args):
    from errors import SuiteError
    from experiments import get_experiment
    from models import get_builder
    from training.train import RunOptions, resume, train
    if args.resume:
        fixed = [f"--{k.replace('_', '-')}" for k in ("experiment",) + RECIPE_FLAGS + RUN_FLAGS
                 if getattr(args, k) is not None]
        if fixed:
            raise SuiteError(f"--resume continues a run with its own recipe and options; drop {', '.join(fixed)}")
        resume(args.resume, data_dir=args.data_dir, verbose=args.verbose)
        return 0
    if not args.experiment:
        raise SuiteError("name an experiment (see `run.py list`) or give --resume RUN_DIR")
    exp = get_experiment(args.experiment)
    exp = exp.with_overrides(**{k: getattr(args, k) for k in RECIPE_FLAGS if k != "hp"}).with_hp(args.hp)
    get_builder(exp.model)
    given = {k: getattr(args, k) for k in RUN_FLAGS + ("data_dir", "verbose") if getattr(args, k) is not None}
    train(exp, RunOptions(**given))
    return 0


def cmd_list(args):
    import numpy as np

    from experiments import get_experiment, list_experiments
    from models import create_model, list_models
    print("models (trainable parameters, 10 classes):")
    for name in list_models():
        model = create_model(name)
        print(f"  {name:<27s} {sum(int(np.prod(w.shape)) for w in model.trainable_weights):>10,d}")
    from benchmarks.seed_table import measured_figures
    measured = measured_figures()
    print("experiments (measured: benchmarks/seed_table.md):")
    for name in list_experiments():
        print(f"  {name:<27s} {get_experiment(name).summary()}{measured.get(name, '')}")
    return 0


def evaluate_file(path, data_dir):
    """Load a model file safely, evaluate it on the test split and print the result."""
    from data import load_cifar10
    from data.provenance import data_provenance, short_provenance
    from training.evaluate import evaluate_model, format_evaluation, load_for_inference
    model, precision = load_for_inference(path)
    data_dir = data_dir or os.environ.get("CIFAR10_DIR")
    train, (x_test, y_test) = load_cifar10(data_dir)
    provenance = data_provenance(train, (x_test, y_test), data_dir)
    print(f"{path}, on the test split of {provenance['data_dir']} (data: {short_provenance(provenance)}; "
          f"precision {precision}):")
    print(format_evaluation(evaluate_model(model, x_test, y_test)))
    return 0


def cmd_load(args):
    from pretrained import entry_for
    path = resolve_model(args.path)
    evaluate_file(path, args.data_dir)
    name, entry = entry_for(path)
    if entry:
        print(f"model card pretrained/{entry['card']}: {100 * entry['test_top1']:.2f}% test top-1 when shipped")
    return 0


def cmd_evaluate(args):
    from errors import SuiteError
    path = os.path.join(args.run_dir, "best.h5")
    if not os.path.isfile(path):
        raise SuiteError(f"{args.run_dir}: not a run folder (no best.h5)")
    return evaluate_file(path, args.data_dir)


def cmd_tune(args):
    from experiments import get_experiment
    from training.train import RunOptions
    from tuning import TuneOptions, tune
    exp = get_experiment(args.experiment)
    data = RunOptions(data_dir=args.data_dir, limit_train=args.limit_train, seed=args.seed,
                      tensorboard=args.tensorboard, **({"val_split": args.val_split} if args.val_split is not None else {}))
    opts = TuneOptions(tuner=args.tuner, max_trials=args.max_trials, epochs=args.epochs,
                       chief_timeout=args.chief_timeout, precise_bn=args.precise_bn,
                       executions_per_trial=args.executions_per_trial, overwrite=args.overwrite,
                       retrain=args.retrain, retrain_epochs=args.retrain_epochs, output_dir=args.output_dir, data=data)
    try:
        tune(exp, opts)
    except KeyboardInterrupt:
        raise KeyboardInterrupt("finished trials are kept; run the same command again to resume the sweep") from None
    return 0


def cmd_report(args):
    from reporting import find_runs, write_report
    from reporting.report import summary_lines
    runs = find_runs(args.runs)
    table, summary = write_report(runs, args.out, args.data_dir)
    shown = table.drop(columns=["device", "target_accuracy", "test_seconds"]).assign(
        run=table["run"].map(lambda r: os.path.basename(os.path.normpath(r))))
    print(shown.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4g}"))
    for line in summary_lines(summary):
        print(line)
    print(f"{len(table)} runs; wrote report.csv, seeds.csv, report.md, report.html and figures to {args.out}")
    return 0


def resolve_model(name):
    """A model file from a path (.h5/.keras), a run folder (its best.h5) or a pretrained name (None: default)."""
    from pretrained import resolve
    if name is None:
        return resolve(None)
    if os.path.isdir(name):
        return os.path.join(name, "best.h5")
    return name if os.path.splitext(name)[1] else resolve(name)


def looks_like_model(arg):
    from pretrained import shipped
    return arg.endswith((".h5", ".hdf5", ".keras")) or os.path.isdir(arg) or arg in shipped()


def cmd_predict(args):
    from inference import predict_files
    from training.evaluate import check_cifar_shapes, load_for_inference
    first, *rest = args.inputs
    model_arg, images = (first, rest) if looks_like_model(first) and rest else (None, args.inputs)
    model, _ = load_for_inference(resolve_model(model_arg))
    check_cifar_shapes(model)
    failed = 0
    for path, top, error in predict_files(model, images):
        if error:
            failed += 1
            print(f"run.py predict: error: {error}", file=sys.stderr)
        else:
            print(f"{path}: " + ", ".join(f"{name} {p:.3f}" for name, p in top), flush=True)
    return 2 if failed else 0


COMMANDS = {"train": cmd_train, "list": cmd_list, "load": cmd_load, "evaluate": cmd_evaluate,
            "tune": cmd_tune, "report": cmd_report, "predict": cmd_predict}


class Terminated:
    """Set when SIGTERM arrived: the handler raises KeyboardInterrupt, so training stops and saves as for
    Ctrl-C, and main() then exits with 143 (128 + SIGTERM) instead of 130."""

    received = False

    @classmethod
    def handle(cls, signum, frame):
        cls.received = True
        raise KeyboardInterrupt("terminated")


def main(argv=None):
    """Run one command; returns the exit status (0 success, 2 bad input, 130 interrupted, 143 SIGTERM)."""
    args = build_parser().parse_args(argv)
    from errors import SuiteError
    try:
        import_backend_quietly()
        return COMMANDS[args.command](args)
    except SuiteError as exc:
        print(f"run.py {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:          # training says what it saved (training.train.TrainingInterrupted)
        said = "" if str(exc) in ("", "terminated") else f"; {exc}"
        print(f"run.py {args.command}: {'terminated (SIGTERM)' if Terminated.received else 'interrupted'}{said}",
              file=sys.stderr)
        return 143 if Terminated.received else 130
    except BrokenPipeError:                   # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # as the Python docs advise
        return 1


def install_signal_handlers():
    """SIGTERM stops a command as Ctrl-C does (training saves and says how to resume), exit status 143."""
    import signal
    signal.signal(signal.SIGTERM, Terminated.handle)


if __name__ == "__main__":
    install_signal_handlers()
    sys.exit(main())
