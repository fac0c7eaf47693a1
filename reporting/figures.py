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
    axes[0].legend(fontsize=7)
    save_figure(fig, path)


def accuracy_vs_parameters(table, path):
    """Test top-1 accuracy (circles) and, for runs without one (sweep trials, unfinished runs),
    best validation accuracy (crosses) against trainable parameters."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    tested = table.dropna(subset=["test_accuracy", "parameters"])
    untested = table[table["test_accuracy"].isna()].dropna(subset=["best_val_accuracy", "parameters"])
    for rows, column, marker, name in ((tested, "test_accuracy", "o", "test top-1"),
                                       (untested, "best_val_accuracy", "x", "best validation (no test)")):
        if len(rows):
            ax.scatter(rows["parameters"], rows[column], marker=marker, label=name)
            for _, row in rows.iterrows():
                ax.annotate(label(row["run"]), (row["parameters"], row[column]), fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def per_class(run_dirs, path):
    """Test accuracy per class of every finished run, as grouped bars."""
    metrics = {label(d): read_metrics(d) for d in run_dirs}
    rows = {name: m["per_class"] for name, m in metrics.items() if m}
    fig, ax = plt.subplots(figsize=(10, 4.5))
    pd.DataFrame(rows, index=CLASSES).plot.bar(ax=ax, legend=len(rows) <= 12)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
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
