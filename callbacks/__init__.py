"""Training callbacks: learning-rate schedules, per-epoch stats, plots, the NaN guard.

Checkpoints and the CSV history are Keras' own ModelCheckpoint and CSVLogger,
configured in training/train.py.
"""
from callbacks.epoch_stats import EpochStats  # noqa: F401
from callbacks.nan_guard import NonFiniteLoss, StopOnNonFiniteLoss  # noqa: F401
from callbacks.plots import PlotHistory, plot_confusion_matrix, plot_history  # noqa: F401
from callbacks.schedules import SCHEDULE_ARGS, make_schedule  # noqa: F401
