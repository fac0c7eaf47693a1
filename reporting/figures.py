"""The report's figures (matplotlib, headless), each written atomically as a PNG."""
import os

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from callbacks import read_history  # noqa: E402
from callbacks.plots import save_figure  # noqa: E402
from data import CLASSES, load_cifar10  # noqa: E402
from errors import SuiteError  # noqa: E402
from training.rundir import read_metrics  # noqa: E402


def label(run_dir):
    return os.path.basename(os.path.normpath(run_dir))


def curves(run_dirs, path):
    """Validation (else training) accuracy and loss per epoch of every run, overlaid, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for run_dir in run_dirs:
        history = read_history(os.path.join(run_dir, "history.csv"))
        if history.empty:
            continue
        for ax, metric in zip(axes, ("accuracy", "loss")):
            column = f"val_{metric}" if f"val_{metric}" in history else metric
            ax.plot(history["epoch"] + 1, history[column], marker=".", label=label(run_dir))
    for ax, metric in zip(axes, ("accuracy", "loss")):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"validation {metric}")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), ncol=1 + len(run_dirs) // 25)
    fig.suptitle("validation accuracy and loss per epoch")
    save_figure(fig, path)


def accuracy_vs_parameters(table, path):
    """Test top-1 accuracy (circles) and, for runs without one (sweep trials, unfinished runs),
    best validation accuracy (crosses) against trainable parameters; one colour per model, named
    in the legend (runs of one model share a size, so per-point labels would pile up)."""
    fig, ax = plt.subplots(figsize=(8, 5))
    tested = table.dropna(subset=["test_accuracy", "parameters"])
    untested = table[table["test_accuracy"].isna()].dropna(subset=["best_val_accuracy", "parameters"])
    models = sorted(set(tested["model"]) | set(untested["model"]))
    colours = dict(zip(models, plt.cm.tab20(np.linspace(0, 1, max(len(models), 2)))))
    for rows, column, marker in ((tested, "test_accuracy", "o"), (untested, "best_val_accuracy", "x")):
        for model, group in rows.groupby("model"):
            ax.scatter(group["parameters"], 100 * group[column], marker=marker, color=colours[model], s=40)
    for model in models:
        ax.scatter([], [], marker="s", color=colours[model], label=model)
    ax.scatter([], [], marker="o", color="grey", label="test top-1")
    ax.scatter([], [], marker="x", color="grey", label="best validation (no test)")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy against trainable parameters")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def per_class(run_dirs, path):
    """Test accuracy per class of every finished run, as grouped bars."""
    metrics = {label(d): read_metrics(d) for d in run_dirs}
    rows = {name: m["per_class"] for name, m in metrics.items() if m}
    fig, ax = plt.subplots(figsize=(10, 4.5))
    pd.DataFrame(rows, index=CLASSES).plot.bar(ax=ax, legend=False, width=0.85)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("test accuracy per class")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), ncol=1 + len(rows) // 25)
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)


def misclassified(run_dir, x_test, path, n=25):
    """A grid of test images the run's best.h5 got wrong, with true and predicted labels."""
    wrong = read_metrics(run_dir).get("misclassified", [])[:n]
    side = int(np.ceil(np.sqrt(max(len(wrong), 1))))
    fig, axes = plt.subplots(side, side, figsize=(1.8 * side, 2 * side), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (index, true, pred) in zip(axes.flat, wrong):
        ax.imshow(x_test[index])
        ax.set_title(f"{CLASSES[true]} -> {CLASSES[pred]}", fontsize=7)
    fig.suptitle(f"misclassified test images ({label(run_dir)}): true -> predicted", fontsize=9)
    save_figure(fig, path)


def draw_all(run_dirs, table, out_dir, data_dir=None):
    """Draw every figure the runs allow; returns the file names written."""
    made = []
    curves(run_dirs, os.path.join(out_dir, "curves.png"))
    made.append("curves.png")
    if table["parameters"].notna().any():
        accuracy_vs_parameters(table, os.path.join(out_dir, "accuracy_vs_parameters.png"))
        made.append("accuracy_vs_parameters.png")
    finished = [d for d in run_dirs if os.path.exists(os.path.join(d, "metrics.json"))]
    if finished:
        per_class(finished, os.path.join(out_dir, "per_class.png"))
        made.append("per_class.png")
        best = table.dropna(subset=["test_accuracy"]).sort_values("test_accuracy").iloc[-1]["run"]
        wrong = read_metrics(best).get("misclassified")
        if wrong:
            try:
                _, (x_test, _) = load_cifar10(data_dir)
                beyond = max(index for index, _, _ in wrong)
                if beyond >= len(x_test):
                    raise SuiteError(f"{best}/metrics.json names test image {beyond}; the test split has "
                                     f"{len(x_test)}")
            except SuiteError as exc:
                print(f"report: no misclassified-image grid ({exc})")
            else:
                misclassified(best, x_test, os.path.join(out_dir, "misclassified.png"))
                made.append("misclassified.png")
    return made


def influence(values, scores):
    """How much a hyperparameter moves the score, in [0, 1]: |Spearman rank correlation| for numbers;
    for categories, the spread of their mean scores over the spread of all scores."""
    values, scores = pd.Series(list(values)), pd.Series(list(scores), dtype=float)
    if len(set(values)) < 2 or scores.max() == scores.min():
        return 0.0
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        rho = numeric.rank().corr(scores.rank())
        return 0.0 if pd.isna(rho) else abs(float(rho))
    means = scores.groupby(values.astype(str)).mean()
    return float((means.max() - means.min()) / (scores.max() - scores.min()))


def sweep(trials, path, score="val_accuracy", most=4):
    """The sweep figure: each trial's validation accuracy against its `most` most influential
    hyperparameters (`influence`; the learning rate always first), one panel each, log scale for
    a learning rate or weight decay, the best trial as a star.

    Args:
        trials: the sweep's trials table (tuning.tuner.trials_table): hyperparameter columns,
            `score`; keras-tuner's own "tuner/..." columns are left out.
        path: the PNG written.

    Returns:
        the hyperparameter names plotted, most influential first (after "lr").
    """
    done = trials.dropna(subset=[score])
    names = [c for c in trials.columns if c not in ("trial", "trial_id", "status", score, "epochs", "seconds")
             and not c.startswith("tuner/")]
    weight = {n: influence(done[n], done[score]) for n in names}
    ranked = sorted(names, key=lambda n: (n != "lr", -weight[n]))[:most]
    fig, axes = plt.subplots(1, max(len(ranked), 1), figsize=(4 * max(len(ranked), 1), 3.6), squeeze=False,
                             sharey=True)
    best = done[score].idxmax() if len(done) else None
    for ax, name in zip(axes[0], ranked):
        values = done[name]
        numeric = pd.to_numeric(values, errors="coerce").notna().all()
        x = values if numeric else values.astype(str)
        ax.scatter(x, 100 * done[score], color="tab:blue", s=30)
        if best is not None:
            ax.scatter([x[best]], [100 * done[score][best]], marker="*", s=220, color="tab:red", zorder=3,
                       label=f"best: trial {int(done['trial'][best])}")
        if numeric and name in ("lr", "weight_decay") and (values > 0).all():
            ax.set_xscale("log")
        ax.set_xlabel(f"{name} (influence {weight[name]:.2f})")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"{score.replace('val_', 'validation ')} (%)")
    if best is not None and ranked:
        axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{len(done)} trials: {score.replace('val_', 'validation ')} against the most influential "
                 "hyperparameters")
    save_figure(fig, path)
    return ranked
