"""The switches of the suite's TensorFlow-only fast paths (fused BatchNorm, the two-masks-per-draw
Dropout, GELU from erf): each is on unless its environment variable is '0', read when a model is
built or traced, so an A/B (`benchmarks/hp_speed.py --env VARIABLE=0`) can turn one off."""
import os

import keras


def tensorflow_path_on(variable):
    """True on the TensorFlow backend unless $`variable` is '0' (any other value, or unset, is on)."""
    return keras.backend.backend() == "tensorflow" and os.environ.get(variable, "1") != "0"
