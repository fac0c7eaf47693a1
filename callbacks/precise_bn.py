"""Precise BatchNorm statistics for short runs: re-estimate every BatchNormalization layer's moving
mean and variance on training images just before each evaluation.

Why: Keras' BatchNormalization keeps exponential moving averages with momentum 0.99, so after a few
hundred steps (a sweep's one- or two-epoch trial) they still remember their initial values and
the weights of the first steps; validation then runs with wrong statistics and reports chance while
training accuracy is far above it. The fix is the one of PyTorch's SWA utilities
(`torch.optim.swa_utils.update_bn`) and of "PreciseBN" (Wu & Johnson, "Rethinking 'Batch' in
BatchNorm", 2021): forward a fixed set of training batches in training mode and set the moving
statistics to the plain average of those batches' statistics. Keras has no such utility, hence
this module. It touches only the moving statistics (the weights, the optimizer and every random
generator's state are as they were), so it changes what evaluation sees, never what training does.

Unlike `update_bn`, dropout and noise layers are switched off for those forward passes, so each
BatchNormalization layer is estimated on exactly the inputs it gets at inference. With dropout
before a BatchNormalization layer (the pyramid nets: conv-BN-ReLU-dropout, then the next conv),
statistics taken with dropout on have the dropout noise's extra variance (Li et al., "Understanding
the disharmony between dropout and batch normalization by variance shift", 2019): measured on a
two-epoch pyramid trial (dropout 0.23), 27.7% validation accuracy with dropout on during the
re-estimation (as with Keras' own moving averages), 47.6% with it off, where the model's accuracy
on its training images in inference mode is 48.8%.
"""
import keras
import numpy as np


NOISE = {keras.layers.Dropout: "rate", keras.layers.GaussianDropout: "rate", keras.layers.AlphaDropout: "rate",
         keras.layers.GaussianNoise: "stddev"}   # the attribute that switches each off at 0 (SpatialDropout*: Dropout)


def batchnorm_layers(model):
    """Every keras.layers.BatchNormalization inside `model`, nested models included."""
    return [layer for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.BatchNormalization)]


def recompute_batchnorm_statistics(model, images, batch_size=256):
    """Set the moving mean and variance of every BatchNormalization layer of `model` to the mean of
    their batch statistics over `images`, forwarded in training mode in batches of `batch_size`,
    with every dropout and noise layer (NOISE) switched off.

    Args:
        model: a built Keras model taking the images as they are (uint8 (N, 32, 32, 3) here).
        images: array (N, ...) of training images; the first N // batch_size full batches are used
            (all of them as one batch if N < batch_size).
        batch_size: images per forward pass.

    Returns:
        the number of BatchNormalization layers updated (0: the model has none; nothing runs).
    """
    layers = [layer for layer in batchnorm_layers(model) if layer.trainable]
    if not layers or len(images) == 0:
        return 0
    statistics = {id(v) for layer in layers for v in (layer.moving_mean, layer.moving_variance)}
    # Dropout and other random layers draw from Keras seed generators: put their states back after.
    others = [v for v in model.non_trainable_variables if id(v) not in statistics]
    saved = [keras.ops.convert_to_numpy(v) for v in others]
    momenta = [layer.momentum for layer in layers]
    noise = [(layer, attribute, getattr(layer, attribute)) for layer in model._flatten_layers(include_self=False)
             for kind, attribute in NOISE.items() if isinstance(layer, kind)]
    batch_size = min(batch_size, len(images))
    try:
        for layer, attribute, _ in noise:
            setattr(layer, attribute, 0)
        for i in range(len(images) // batch_size):
            for layer in layers:       # moving = moving * i/(i+1) + batch / (i+1): the running mean
                layer.momentum = i / (i + 1)
            model(images[i * batch_size:(i + 1) * batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        for layer, attribute, value in noise:
            setattr(layer, attribute, value)
        for variable, value in zip(others, saved):
            variable.assign(value)
    return len(layers)


class PreciseBatchNorm(keras.callbacks.Callback):
    """Re-estimate the BatchNormalization statistics (`recompute_batchnorm_statistics`) before every
    evaluation: each validation inside `fit` and each `evaluate` given this callback; and at the end
    of an epoch that had no validation, so that checkpoints saved after it (callbacks later in the
    list) hold re-estimated statistics too.

    Args:
        images: uint8 (N, 32, 32, 3) training images (never validation or test images); a fixed
            set, so every evaluation uses the same ones. 2,048 re-estimate a pyramid net's
            statistics in about 5 s on 2 CPU cores.
        batch_size: images per forward pass.
    """

    def __init__(self, images, batch_size=256):
        super().__init__()
        self.images, self.batch_size = np.asarray(images), batch_size
        self.estimated = False      # in this epoch, by a validation

    def on_epoch_begin(self, epoch, logs=None):
        self.estimated = False

    def on_test_begin(self, logs=None):
        recompute_batchnorm_statistics(self.model, self.images, self.batch_size)
        self.estimated = True

    def on_epoch_end(self, epoch, logs=None):
        if not self.estimated:
            recompute_batchnorm_statistics(self.model, self.images, self.batch_size)
