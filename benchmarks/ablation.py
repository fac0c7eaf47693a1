"""fast94's ablation: test top-1 accuracy as each airbench94 technique is added, as a Markdown table.

    python benchmarks/ablation.py --data-dir /tmp/cifar10 [--epochs E (default: the recipe's)] [--limit-train N] [--md benchmarks/ablation.md]

After airbench94's ablation (Keller Jordan, 2024, "94% on CIFAR-10 in 3.29 seconds on a single
GPU", which reports the epochs each variant needs to reach 94%). Every row trains the `fast94`
experiment from scratch with `python run.py train`'s own code (training.train.train), at the
same epoch budget and seed, with the techniques above it switched on:

  1. baseline: a trained 2x2 first convolution, PyTorch's default init, the BN biases at the
     common learning rate, random flips, no weight averaging, no test-time views (the
     translation, label smoothing, optimizer and warm-up/linear-decay schedule stay);
  2. + frozen patch whitening;  3. + identity (Dirac) init;  4. + 64x BN-bias learning rate;
  5. + lookahead;  6. + alternating flip;
  7. + 6-view test-time augmentation (row 6's model, evaluated again: no training).

A fixed budget rather than epochs-to-94%: on a 2-core CPU one full-data run of fast94 takes
about 21-45 minutes (bfloat16 on an AMD EPYC, float32 on an Intel Xeon), and the search for
each row's epochs to a target would need several.
Each row evaluates once on the test split after its training (nothing is tuned here).
Writes the table to --md and prints it; the run folders stay in --output-dir.
"""
import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data.provenance import short_provenance  # noqa: E402
from errors import SuiteError  # noqa: E402
from training.rundir import write_text  # noqa: E402

# (technique added, changes to the fast94 recipe that switch it on); each row keeps the rows above.
BASELINE = {"model_kwargs": {"whitening": False, "identity_init": False, "bias_scale": 1.0}, "lookahead": 0,
            "tta_level": 0, "augment": {"width_shift_range": 2, "height_shift_range": 2, "fill_mode": "reflect",
                                        "horizontal_flip": True}}
STEPS = [
    ("baseline (trained first conv, default init, random flip)", {}),
    ("+ frozen patch whitening", {"model_kwargs": {"whitening": True}}),
    ("+ identity init", {"model_kwargs": {"identity_init": True}}),
    ("+ 64x BN-bias learning rate", {"model_kwargs": {"bias_scale": 8.0}}),
    ("+ lookahead", {"lookahead": 0.95}),
    ("+ alternating flip", {"augment": {"horizontal_flip": False, "alternating_flip": True}}),
]
TTA_STEP = "+ 6-view test-time augmentation"


def step_overrides(n):
    """The fast94 overrides of row `n` (0-based): BASELINE with the changes of rows 1..n merged in."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in BASELINE.items()}
    for _, changes in STEPS[1:n + 1]:
        for key, value in changes.items():
            out[key] = {**out[key], **value} if isinstance(value, dict) else value
    out["augment"] = {k: v for k, v in out["augment"].items() if v is not False}
    return out


def evaluate_with_views(run_dir, x_test, y_test, level=2):
    """Test top-1 (0-1) and seconds of a run's final.h5 wrapped in level-`level` test-time views."""
    from models import with_test_time_augmentation
    from training.evaluate import evaluate_model, load_saved_model
    model = with_test_time_augmentation(load_saved_model(os.path.join(run_dir, "final.h5")), level)
    result = evaluate_model(model, x_test, y_test)
    return result["top1"], result["seconds"]


def run_rows(args, report):
    """Train every row, calling report(rows, metrics) after each (so a killed run keeps its rows).

    Returns [(technique, test top-1, train seconds, test seconds, run folder)].
    """
    from experiments import get_experiment
    from training.train import RunOptions, load_splits, train
    opts = RunOptions(data_dir=args.data_dir, val_split=0, limit_train=args.limit_train, seed=args.seed,
                      output_dir=args.output_dir, verbose=0)
    rows = []
    for n, (technique, _) in enumerate(STEPS):
        exp = get_experiment("fast94").with_overrides(epochs=args.epochs, batch_size=args.batch_size,
                                                      **step_overrides(n))
        print(f"[{n + 1}/{len(STEPS) + 1}] {technique}", flush=True)
        run_dir, metrics = train(exp, opts)
        rows.append((technique, metrics["test_top1"], metrics["wall_seconds"], metrics["test_seconds"], run_dir))
        report(rows, metrics)
    _, _, test, _ = load_splits(opts)
    top1, seconds = evaluate_with_views(rows[-1][4], *test)
    rows.append((TTA_STEP, top1, rows[-1][2], seconds, rows[-1][4]))
    report(rows, metrics)
    return rows


def markdown(rows, args, env, minutes):
    """The table with the command, budget and machine (`env`: a run's metrics.json) it was measured with."""
    partial = "" if len(rows) == len(STEPS) + 1 else f" (partial: {len(rows)} of {len(STEPS) + 1} rows)"
    lines = [f"# fast94 ablation: test top-1 as each technique is added ({args.epochs} epochs each){partial}", "",
             f"Command: `python benchmarks/ablation.py --data-dir DIR --epochs {args.epochs}"
             f"{f' --limit-train {args.limit_train}' if args.limit_train else ''}"
             f"{f' --batch-size {args.batch_size}' if args.batch_size else ''} --seed {args.seed}` "
             f"({minutes:.0f} min in all). {args.limit_train or 50000:,} training images, the full test split, "
             f"seed {args.seed}, one run per row. Machine: {env['device']}; "
             f"{platform.platform()}; Keras {env['keras']}, backend {env['backend']}, {env['precision']}. "
             f"Data: {short_provenance(env.get('data'))} (copy, training/test images, sha256 of x_train).", "",
             "| # | technique added | test top-1 | training s | test s |", "|---|---|---|---|---|"]
    for i, (technique, top1, train_s, test_s, _) in enumerate(rows, 1):
        lines.append(f"| {i} | {technique} | {100 * top1:.2f}% | {train_s:.0f} | {test_s:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True, help="local CIFAR-10 (cifar-10-batches-py layout or its tar.gz)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every row (default: the fast94 recipe's)")
    parser.add_argument("--limit-train", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--batch-size", type=int, default=None, help="images per step (default: fast94's 1024)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="runs", help="parent of the run folders")
    parser.add_argument("--md", default=os.path.join("benchmarks", "ablation.md"), help="Markdown table to write")
    args = parser.parse_args(argv)
    if min((v for v in (args.epochs, args.limit_train, args.batch_size) if v is not None), default=1) < 1:
        parser.error("--epochs, --limit-train and --batch-size must be at least 1")
    if args.epochs is None:
        from experiments import get_experiment
        args.epochs = get_experiment("fast94").epochs
    start = time.perf_counter()

    def report(rows, env):
        write_text(args.md, markdown(rows, args, env, (time.perf_counter() - start) / 60))

    try:
        run_rows(args, report)
    except SuiteError as e:
        sys.exit(f"error: {e}")
    with open(args.md) as f:
        print(f.read())


if __name__ == "__main__":
    main()
