"""Training callbacks: learning-rate schedules, per-epoch stats, history, plots, the NaN guard,
precise BatchNorm statistics for short runs, airbench's whitening-bias schedule,
and crash-safe checkpoints (Keras' ModelCheckpoint and BackupAndRestore, written atomically).
"""
from callbacks.backup import AtomicModelCheckpoint, RunBackup  # noqa: F401
from callbacks.epoch_stats import EpochStats  # noqa: F401
from callbacks.lookahead import Lookahead  # noqa: F401
from callbacks.history import HistoryCSV, median_train_speed, read_history  # noqa: F401
from callbacks.nan_guard import NonFiniteLoss, StopOnNonFiniteLoss  # noqa: F401
from callbacks.precise_bn import PreciseBatchNorm, recompute_batchnorm_statistics  # noqa: F401
from callbacks.plots import PlotHistory, plot_confusion_matrix, plot_history  # noqa: F401
from callbacks.schedules import SCHEDULE_ARGS, make_schedule  # noqa: F401
from callbacks.whitening_bias import WhiteningBiasDecay  # noqa: F401
