"""Per-epoch learning rate, wall time and throughput, added to the logs Keras passes on.

No Keras callback records these: CSVLogger writes whatever the logs hold, so this
callback, placed before CSVLogger, adds `lr`, `seconds` and `images_per_s` to them
and prints a one-line summary of the epoch, with the estimated time left for the run.
"""
import time

import keras
import numpy as np


class EpochStats(keras.callbacks.Callback):
    """Adds lr (at the epoch's first step), seconds (whole epoch) and images_per_s (training part) to the logs,
    and prints the epoch's line with the time the remaining epochs will take at the last three epochs' pace.

    Args:
        train_images: images in one training epoch, to turn seconds into images/s.
        epochs: total epochs, for the printed summary.
        print_fn: where the one-line summary goes (print by default; None for silence).
    """

    def __init__(self, train_images, epochs, print_fn=print):
        super().__init__()
        self.train_images, self.epochs, self.print_fn = train_images, epochs, print_fn
        self._recent = []          # the last three epochs' seconds, for the time left

    def on_epoch_begin(self, epoch, logs=None):
        # The rate of the epoch's first step, as Keras' LearningRateScheduler logs it.
        self._lr = float(np.asarray(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
        self._start, self._train_end = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        if getattr(self, "_train_end", 0) is None:      # validation during fit
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        end = time.perf_counter()
        train_seconds = (self._train_end or end) - self._start
        logs["lr"] = self._lr
        logs["seconds"] = end - self._start
        logs["images_per_s"] = self.train_images / train_seconds
        self._recent = (self._recent + [logs["seconds"]])[-3:]
        if self.print_fn:
            val = f" val_loss {logs['val_loss']:.4f} val_acc {logs['val_accuracy']:.4f}" if "val_loss" in logs else ""
            left = self.epochs - epoch - 1
            eta = f"; {format_duration(left * np.mean(self._recent))} left" if left else ""
            self.print_fn(f"epoch {epoch + 1}/{self.epochs}: loss {logs['loss']:.4f} acc {logs['accuracy']:.4f}"
                          f"{val} lr {logs['lr']:.3g} {logs['seconds']:.1f} s {logs['images_per_s']:.0f} img/s{eta}")


def format_duration(seconds):
    """'45 s', '12 min' or '3.4 h' for a duration in seconds."""
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 6000:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
