"""Stop training on a NaN or infinite loss (training or validation) before any checkpoint saves the
broken weights.

Keras' TerminateOnNaN stops after the batch, but the epoch-end callbacks still run,
so ModelCheckpoint would then overwrite last.h5 (and possibly best.h5) with NaN
weights. This callback, placed before the checkpoints, stops the epoch the same way
and raises at its end, so the checkpoints of the last good epoch stay as they were.
"""
import math

import keras

from errors import SuiteError


class NonFiniteLoss(SuiteError):
    """The training or validation loss became NaN or infinite."""


def _non_finite_loss(logs, key="loss"):
    loss = (logs or {}).get(key)
    return loss is not None and not math.isfinite(float(loss))


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises NonFiniteLoss at the end of the epoch in which the training or the validation loss stops
    being finite; placed first, it raises before the checkpoints (and best.h5) see that epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.bad_batch = None

    def on_train_batch_end(self, batch, logs=None):
        if _non_finite_loss(logs):
            self.bad_batch = batch
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.bad_batch is not None or _non_finite_loss(logs):
            raise NonFiniteLoss(f"the loss became NaN or infinite in epoch {epoch + 1}"
                                + (f", batch {self.bad_batch + 1}" if self.bad_batch is not None else ""))
        if _non_finite_loss(logs, "val_loss"):
            raise NonFiniteLoss(f"the validation loss became NaN or infinite in epoch {epoch + 1}")
