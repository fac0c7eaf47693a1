"""The per-epoch history as history.csv, rewritten whole and renamed after every epoch.

Keras' CSVLogger appends to an open file, so a kill during a write can leave half a
line, and a resumed run would append a second row for an epoch it redoes. This
callback keeps the rows, writes the whole table to a temporary file and renames it
over history.csv, and on resume starts from the rows of the epochs already done.
"""
import os

import keras
import pandas as pd

from training.rundir import write_csv


def read_history(path, epochs=None):
    """history.csv as a DataFrame (columns epoch, loss, accuracy, ...), rows of epochs < `epochs` only.

    Returns an empty DataFrame when the file does not exist.
    """
    if not os.path.exists(path):
        return pd.DataFrame()
    rows = pd.read_csv(path)
    return rows if epochs is None else rows[rows["epoch"] < epochs].reset_index(drop=True)


def median_train_speed(history):
    """Median training images/s of a history, leaving out epoch 1 (it includes tracing and warm-up)
    unless it is the only one; None for an empty history."""
    if "images_per_s" not in history or history.empty:
        return None
    speeds = history["images_per_s"][1:] if len(history) > 1 else history["images_per_s"]
    return float(speeds.median())


class HistoryCSV(keras.callbacks.Callback):
    """Writes one row per epoch (epoch, then the logs' keys in sorted order) to `path`, atomically.

    Args:
        path: the CSV file.
        first_epoch: epochs already done (a resumed run keeps their rows and drops any later ones).
    """

    def __init__(self, path, first_epoch=0):
        super().__init__()
        self.path = path
        self.rows = read_history(path, first_epoch).to_dict("records")

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": epoch, **{k: float(v) for k, v in sorted((logs or {}).items())}})
        write_csv(self.path, pd.DataFrame(self.rows))
