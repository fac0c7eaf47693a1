"""All-convolutional nets: All-CNN-C (Springenberg et al. 2014) and seed 003's YGNet."""
from keras import Model, layers

from models.blocks import classifier_output, conv_relu, rescale_input
from models.dropout import Dropout
from models.registry import register_model


def _all_conv_head(x, classes, padding, final_relu):
    """Conv192 3x3, Conv192 1x1, Conv `classes` 1x1, global average pooling -> (N, classes)."""
    x = conv_relu(x, 192, 3, padding=padding)
    x = conv_relu(x, 192, 1)
    x = layers.Conv2D(classes, 1, activation="relu" if final_relu else None)(x)
    return layers.GlobalAveragePooling2D()(x)


@register_model
def ygnet(input_shape=(32, 32, 3), classes=10, input_dropout=0.2, dropout=0.5):
    """YGNet, seed 003: All-CNN-C with max pooling in place of its stride-2 convolutions.

    Conv96, Dropout .2, Conv96, Conv96, MaxPool 3 stride 2, Dropout .5; Conv192,
    Conv192 valid, Conv192, MaxPool 3 stride 2, Dropout .5; Conv192, Conv192 1x1,
    Conv `classes` 1x1; global average pooling; softmax. 3x3 kernels and same padding
    unless said; ReLU after every convolution but the last. Spatial size
    32 -> 15 -> 13 -> 6 pixels.

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 1,369,738 trainable parameters
        for 10 classes.
    """
    inputs, x = rescale_input(input_shape)
    x = conv_relu(x, 96)
    x = Dropout(input_dropout)(x)
    x = conv_relu(x, 96)
    x = conv_relu(x, 96)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = Dropout(dropout)(x)
    x = conv_relu(x, 192)
    x = conv_relu(x, 192, padding="valid")
    x = conv_relu(x, 192)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = Dropout(dropout)(x)
    x = _all_conv_head(x, classes, padding="same", final_relu=False)
    return Model(inputs, classifier_output(x), name="ygnet")


@register_model
def allcnn_c(input_shape=(32, 32, 3), classes=10, input_dropout=0.2, dropout=0.5):
    """All-CNN-C (Springenberg et al., "Striving for Simplicity", 2014, Table 2 model C).

    Dropout .2 on the input; Conv96, Conv96, Conv96 stride 2, Dropout .5; Conv192,
    Conv192, Conv192 stride 2, Dropout .5; Conv192 3x3 valid, Conv192 1x1, Conv
    `classes` 1x1 with ReLU as in the paper; global average pooling; softmax. Strided
    convolutions replace pooling. Spatial size 32 -> 16 -> 8 -> 6 pixels.

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 1,369,738 trainable parameters
        for 10 classes.
    """
    inputs, x = rescale_input(input_shape)
    x = Dropout(input_dropout)(x)
    for filters in (96, 192):
        x = conv_relu(x, filters)
        x = conv_relu(x, filters)
        x = conv_relu(x, filters, strides=2)
        x = Dropout(dropout)(x)
    x = _all_conv_head(x, classes, padding="valid", final_relu=True)
    return Model(inputs, classifier_output(x), name="allcnn_c")
