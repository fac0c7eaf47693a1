"""Optimizers the suite adds to Keras' own (keras.optimizers has the rest)."""
from optimizers.muon import MuonSGD, orthogonalize  # noqa: F401
