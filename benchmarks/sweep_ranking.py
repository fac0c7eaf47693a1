"""Do short sweep trials rank? The same random sweep twice: short trials, then the same configurations
trained longer; one table of each trial's training and validation accuracy, and the Spearman
rank correlation between the short and the long trials' scores.

    python benchmarks/sweep_ranking.py --data-dir /tmp/cifar10 [--experiment pyramid] [--trials 6]
        [--short-epochs 2] [--long-epochs 10] [--limit-train 10000] [--val-split 5000] [--precise-bn 2048]
        [--output-dir runs/sweep-ranking] [--table benchmarks/sweep_ranking.md]

keras-tuner's RandomSearch with one seed draws the same configurations whatever the epochs per
trial, so the long sweep trains exactly the short sweep's configurations (checked: the script
stops if any hyperparameter differs). Each sweep is a normal `run.py tune` (its folder under
--output-dir/<name>/tune/<experiment>/, readable by `run.py report`); a finished sweep is
reloaded, not retrained. `--precise-bn 0` measures the sweep as it was before BatchNorm
statistics were re-estimated (callbacks.precise_bn).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


def run_sweep(experiment, folder, epochs, args, precise_bn):
    """The trials table of `run.py tune experiment --tuner random` with these settings (resumed if
    its folder has it), with each trial's last-epoch training and validation accuracy added."""
    from callbacks import read_history
    from experiments import get_experiment
    from training.train import RunOptions
    from tuning import TuneOptions, tune
    opts = TuneOptions(tuner="random", max_trials=args.trials, epochs=epochs, output_dir=folder,
                       precise_bn=precise_bn,
                       data=RunOptions(data_dir=args.data_dir, limit_train=args.limit_train, seed=args.seed,
                                       val_split=args.val_split))
    table = tune(get_experiment(experiment), opts)
    trials_dir = os.path.join(folder, "tune", experiment, "trials")
    last = [read_history(os.path.join(trials_dir, f"trial_{t}", "history.csv")).iloc[-1] for t in table["trial_id"]]
    return table.assign(train_accuracy=[row["accuracy"] for row in last],
                        last_val_accuracy=[row["val_accuracy"] for row in last])


def spearman(a, b):
    """Spearman's rank correlation of two equal-length sequences (ties share their mean rank)."""
    import pandas as pd
    return float(pd.Series(list(a)).corr(pd.Series(list(b)), method="spearman"))


def compare(short, long, hyperparameters):
    """One row per trial: its hyperparameters, the short trial's training / validation accuracy and
    their gap (points), its rank, the long trial's validation accuracy and rank."""
    for name in hyperparameters:
        if list(short[name]) != list(long[name]):
            raise SystemExit(f"the two sweeps drew different {name}: {list(short[name])} vs {list(long[name])}")
    table = short[["trial", *hyperparameters]].copy()
    table["short train"] = 100 * short["train_accuracy"]
    table["short val"] = 100 * short["last_val_accuracy"]
    table["gap (points)"] = table["short train"] - table["short val"]
    table["short score"] = 100 * short["val_accuracy"]
    table["long score"] = 100 * long["val_accuracy"].to_numpy()
    table["short rank"] = table["short score"].rank(ascending=False).astype(int)
    table["long rank"] = table["long score"].rank(ascending=False).astype(int)
    return table


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--experiment", default="pyramid")
    p.add_argument("--trials", type=int, default=6)
    p.add_argument("--short-epochs", type=int, default=2)
    p.add_argument("--long-epochs", type=int, default=10)
    p.add_argument("--limit-train", type=int, default=10000)
    p.add_argument("--precise-bn", type=int, default=2048, help="images; 0: Keras' moving averages as they are")
    p.add_argument("--val-split", type=int, help="validation images (default: 5000, as run.py tune)")
    p.add_argument("--long-precise-bn", type=int, help="the long sweep's (default: --precise-bn; a sweep without "
                   "it can be ranked against the long one with it)")
    p.add_argument("--short-only", action="store_true", help="only the short sweep: its train/validation table")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-dir", default=os.path.join("runs", "sweep-ranking"))
    p.add_argument("--table", default=os.path.join(HERE, "sweep_ranking.md"))
    args = p.parse_args()
    long_bn = args.precise_bn if args.long_precise_bn is None else args.long_precise_bn
    tag = f"precise-bn-{args.precise_bn}"
    short = run_sweep(args.experiment, os.path.join(args.output_dir, f"{tag}-{args.short_epochs}ep"),
                      args.short_epochs, args, args.precise_bn)
    if args.short_only:
        return write_short(short, args, tag)
    long = run_sweep(args.experiment, os.path.join(args.output_dir, f"precise-bn-{long_bn}-{args.long_epochs}ep"),
                     args.long_epochs, args, long_bn)
    hyperparameters = [c for c in short.columns if c not in ("trial", "trial_id", "status", "val_accuracy", "epochs",
                                                             "seconds", "train_accuracy", "last_val_accuracy")]
    table = compare(short, long, hyperparameters)
    rho = spearman(table["short score"], table["long score"])
    return publish(args, tag, f"short trials of {args.short_epochs} epochs ({statistics(args.precise_bn)} before "
                   f"each validation) against the same configurations trained for {args.long_epochs} epochs "
                   f"({statistics(long_bn)}). Scores: the best epoch's validation accuracy; train/val: the short "
                   f"trial's last epoch", table, f"Spearman rank correlation of the short and the long scores: "
                   f"**{rho:.2f}**; largest train-validation gap of a short trial, either way: "
                   f"{table['gap (points)'].abs().max():.1f} points.")


def statistics(images):
    return f"BatchNorm statistics re-estimated on {images} training images" if images else "Keras' moving averages"


def write_short(short, args, tag):
    """The short sweep alone: each trial's last-epoch training and validation accuracy and their gap."""
    table = short.drop(columns=["trial_id", "status", "epochs", "val_accuracy", "train_accuracy",
                                "last_val_accuracy"]).assign(
        train=100 * short["train_accuracy"], val=100 * short["last_val_accuracy"],
        gap=100 * (short["train_accuracy"] - short["last_val_accuracy"]))
    return publish(args, f"{tag}, short trials only", f"{args.short_epochs} epochs a trial, "
                   f"{statistics(args.precise_bn)} before each validation; train/val: last epoch (%), gap in points",
                   table, f"Largest train-validation gap, either way: {table['gap'].abs().max():.1f} points.")


def publish(args, heading, what, table, conclusion):
    """Print the table with what it measured and its conclusion, and append them to --table."""
    text = (f"{args.experiment}, {args.trials} random trials (seed {args.seed}), {args.limit_train} training "
            f"images: {what}.\n\n{table.to_markdown(index=False, floatfmt='.4g')}\n\n{conclusion}\n")
    print(text)
    with open(args.table, "a") as f:
        f.write(f"\n## {heading}\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
