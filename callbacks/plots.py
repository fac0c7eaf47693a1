"""Training curves and the confusion matrix as PNG files (matplotlib, headless)."""
import os

import keras
import matplotlib
import pandas as pd

from training.rundir import commit_file

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def save_figure(fig, path):
    """Write a figure to a temporary file, then rename it, so a kill never leaves half a PNG."""
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    commit_file(tmp, path)


def plot_history(history, out_dir):
    """Plot accuracy and loss per epoch, training and validation.

    Args:
        history: a pandas DataFrame (or dict of lists) with columns epoch, accuracy,
            loss and, when there is a validation split, val_accuracy and val_loss.
        out_dir: folder that receives accuracy.png and loss.png.
    """
    epochs = [e + 1 for e in history["epoch"]]
    for metric in ("accuracy", "loss"):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
        save_figure(fig, os.path.join(out_dir, f"{metric}.png"))


def plot_confusion_matrix(matrix, classes, path, title="confusion matrix (test split)"):
    """Plot a confusion matrix: rows are true classes, columns predicted, counts in cells.

    Args:
        matrix: (C, C) array of counts; classes: C class names; path: PNG to write.
    """
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    high = matrix.max() / 2 if matrix.size else 0
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > high else "black")
    fig.colorbar(im, ax=ax)
    save_figure(fig, path)


class PlotHistory(keras.callbacks.Callback):
    """Redraws accuracy.png and loss.png from history.csv after every epoch (place it after HistoryCSV)."""

    def __init__(self, out_dir):
        super().__init__()
        self.out_dir = out_dir

    def on_epoch_end(self, epoch, logs=None):
        plot_history(pd.read_csv(os.path.join(self.out_dir, "history.csv")), self.out_dir)
