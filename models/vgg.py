"""Seed 000's two VGG-style CS231n networks (Simonyan and Zisserman 2014 in spirit)."""
from keras import Model, layers

from models.blocks import classifier_output, conv_bn_relu, dense_bn_relu, rescale_input
from models.registry import register_model


def _cs231n_net(name, input_shape, classes, stages, dropout):
    """Conv-BN-ReLU stages (a list of (widths, pool)), then two FC256-BN-ReLU-Dropout units."""
    inputs, x = rescale_input(input_shape)
    for widths, pool in stages:
        for filters in widths:
            x = conv_bn_relu(x, filters)
        if pool:
            x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = dense_bn_relu(x, 256, dropout)
    x = dense_bn_relu(x, 256, dropout)
    x = layers.Dense(classes)(x)
    return Model(inputs, classifier_output(x), name=name)


@register_model
def cs231n_vgg_a(input_shape=(32, 32, 3), classes=10, dropout=0.5):
    """Seed 000's Architecture 1 (VGG-16-inspired), layer for layer.

    [Conv64-BN-ReLU] x2, MaxPool 2; [Conv128-BN-ReLU] x2, MaxPool 2; [FC256-BN-ReLU-
    Dropout .5] x2; FC `classes`; softmax. 3x3 convolutions, stride 1, same padding.
    The seed lists FC-BN-Dropout; the ReLU between BN and Dropout follows CS231n's
    affine-batchnorm-relu unit. Spatial 32 -> 16 -> 8 pixels.

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 2,426,826 trainable parameters.
    """
    stages = [((64, 64), True), ((128, 128), True)]
    return _cs231n_net("cs231n_vgg_a", input_shape, classes, stages, dropout)


@register_model
def cs231n_vgg_b(input_shape=(32, 32, 3), classes=10, dropout=0.5):
    """Seed 000's Architecture 2, layer for layer.

    Conv64-BN-ReLU, MaxPool; Conv64-BN-ReLU, MaxPool; Conv128-BN-ReLU, MaxPool;
    Conv128-BN-ReLU; [FC256-BN-ReLU-Dropout .5] x2; FC `classes`; softmax. 3x3
    convolutions, same padding. Spatial 32 -> 16 -> 8 -> 4 pixels.

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 853,962 trainable parameters.
    """
    stages = [((64,), True), ((64,), True), ((128,), True), ((128,), False)]
    return _cs231n_net("cs231n_vgg_b", input_shape, classes, stages, dropout)
