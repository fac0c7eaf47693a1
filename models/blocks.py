"""Building blocks shared by the architectures, each written once.

Every function takes and returns a Keras tensor of shape (N, H, W, C) (channels
last) unless it says otherwise, and uses only `keras.layers` and the suite's
subclasses of them (models/batchnorm.py's BatchNormalization, models/dropout.py's
Dropout: Keras' layers with faster TensorFlow paths), so the models run on the
TensorFlow, JAX and PyTorch backends. Convolutions are Keras' Conv2D: models/conv.py's
kernel gradient by matrix products measured no faster in these models' training (docs/speed.md).
"""
from keras import layers

from models.batchnorm import BatchNormalization
from models.dropout import Dropout


def rescale_input(input_shape, name="image"):
    """Input of raw RGB pixels 0-255 and its scaling to [0, 1] inside the model.

    Returns:
        (inputs, x): the keras.Input (N, H, W, C) and the rescaled tensor. The
        Rescaling layer has no weights, so it adds nothing to parameter counts.
    """
    inputs = layers.Input(shape=input_shape, name=name)
    return inputs, layers.Rescaling(1.0 / 255, name="rescale")(inputs)


def classifier_output(x, name="predictions"):
    """Softmax over the last axis, kept in float32 under mixed precision.

    Input (N, classes) logits; output (N, classes) probabilities in float32.
    """
    return layers.Activation("softmax", dtype="float32", name=name)(x)


def conv_relu(x, filters, kernel_size=3, strides=1, padding="same", dilation_rate=1):
    """A convolution with ReLU and bias, no normalization (the pre-BN CIFAR nets)."""
    return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                         dilation_rate=dilation_rate, activation="relu")(x)


def dense_bn_relu(x, units, dropout=0.0):
    """Fully connected -> BatchNormalization -> ReLU -> Dropout (the CS231n affine unit)."""
    x = layers.Dense(units, use_bias=False)(x)
    x = BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    return Dropout(dropout)(x) if dropout else x


# --- the convolution types of seed 002's Assignment 6B -------------------------------
# Each returns the convolution only (no normalization or activation); `conv_bn_relu`
# adds those. Grouped and dilated types split `filters` over two parallel branches and
# concatenate them on the channel axis, so every type outputs `filters` channels.

def normal_conv(x, filters):
    """3x3 convolution."""
    return layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)


def spatial_separable_conv(x, filters):
    """Spatially separable convolution: 3x1 then 1x3 (fewer weights than one 3x3)."""
    x = layers.Conv2D(filters, (3, 1), padding="same", use_bias=False)(x)
    return layers.Conv2D(filters, (1, 3), padding="same", use_bias=False)(x)


def depthwise_separable_conv(x, filters):
    """Depthwise separable convolution: Keras' SeparableConv2D, 3x3 depthwise then 1x1."""
    return layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)


def grouped_conv(x, filters):
    """Grouped convolution: parallel 3x3 and 5x5 branches of filters/2 each, concatenated."""
    half = filters // 2
    a = layers.Conv2D(half, 3, padding="same", use_bias=False)(x)
    b = layers.Conv2D(filters - half, 5, padding="same", use_bias=False)(x)
    return layers.Concatenate()([a, b])


def dilated_grouped_conv(x, filters):
    """Grouped dilated convolution: parallel 3x3 branches with dilation rates 1 and 2."""
    half = filters // 2
    a = layers.Conv2D(half, 3, padding="same", use_bias=False)(x)
    b = layers.Conv2D(filters - half, 3, padding="same", dilation_rate=2, use_bias=False)(x)
    return layers.Concatenate()([a, b])


CONV_TYPES = {
    "normal": normal_conv,
    "spatial_separable": spatial_separable_conv,
    "separable": depthwise_separable_conv,
    "grouped": grouped_conv,
    "dilated": dilated_grouped_conv,
}


def conv_bn_relu(x, filters, conv_type="normal", dropout=0.0):
    """One convolution of a 6B type -> BatchNormalization -> ReLU -> optional Dropout.

    Args:
        x: (N, H, W, C) tensor.
        filters: output channels.
        conv_type: a key of CONV_TYPES.
        dropout: dropout rate after the activation (0 for none).

    Returns:
        (N, H, W, filters) tensor.

    Raises:
        ValueError: unknown conv_type.
    """
    if conv_type not in CONV_TYPES:
        raise ValueError(f"unknown conv_type {conv_type!r}; choose one of {sorted(CONV_TYPES)}")
    x = CONV_TYPES[conv_type](x, filters)
    x = BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    return Dropout(dropout)(x) if dropout else x


def transition_block(x, filters):
    """Transition block of seed 002: 1x1 pointwise convolution, then 2x2 max pooling.

    Input (N, H, W, C); output (N, H/2, W/2, filters). It narrows the channels that
    the pyramid's convolution block widened, then halves the resolution.
    """
    x = layers.Conv2D(filters, 1, activation="relu")(x)
    return layers.MaxPooling2D(2)(x)
