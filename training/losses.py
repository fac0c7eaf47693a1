"""Sparse categorical cross-entropy with label smoothing.

Keras 3's SparseCategoricalCrossentropy has no label_smoothing argument, and its
CategoricalCrossentropy needs one-hot labels; this loss one-hot encodes integer
labels inside the loss so the input pipeline stays integer.
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cifar_suite")
class SparseCrossentropyWithSmoothing(keras.losses.Loss):
    """Cross-entropy of (N,) integer labels against (N, classes) probabilities.

    Args:
        label_smoothing: fraction of the target mass spread evenly over all classes.
        classes: number of classes.
    """

    def __init__(self, label_smoothing=0.0, classes=10, name="sparse_crossentropy_smoothed", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing, self.classes = label_smoothing, classes

    def call(self, y_true, y_pred):
        one_hot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), self.classes)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "classes": self.classes}


def make_loss(label_smoothing, classes=10):
    """Keras' sparse cross-entropy, or the smoothed one when label_smoothing > 0."""
    if label_smoothing:
        return SparseCrossentropyWithSmoothing(label_smoothing, classes)
    return keras.losses.SparseCategoricalCrossentropy()
