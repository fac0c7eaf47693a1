"""The label-smoothed sparse cross-entropy equals Keras' categorical one on one-hot labels."""
import keras
import numpy as np
import pytest

from training.losses import SparseCrossentropyWithSmoothing, make_loss


def test_smoothed_loss_matches_categorical_crossentropy_with_smoothing():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    labels = np.array([0, 2])
    ours = SparseCrossentropyWithSmoothing(label_smoothing=0.2, classes=3)(labels, probs)
    reference = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(np.eye(3)[labels], probs)
    assert float(ours) == pytest.approx(float(reference), rel=1e-6)
    unsmoothed = float(SparseCrossentropyWithSmoothing(0.0, 3)(labels, probs))
    assert unsmoothed == pytest.approx(-np.mean(np.log([0.7, 0.8])), rel=1e-5)


def test_make_loss_uses_keras_sparse_crossentropy_without_smoothing():
    assert isinstance(make_loss(0.0), keras.losses.SparseCategoricalCrossentropy)
    assert make_loss(0.1).get_config()["label_smoothing"] == 0.1
