"""Hyperparameter sweeps with keras-tuner: `tune(experiment, ...)` and the HyperModel it searches."""
from tuning.hypermodel import ExperimentHyperModel  # noqa: F401
from tuning.tuner import TUNERS, TuneOptions, tune  # noqa: F401
