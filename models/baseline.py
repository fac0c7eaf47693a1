"""The 6A base network of seed 002 (EVA Session 6, Assignment 6A): dense layers, 1.17M parameters."""
from keras import Model, layers

from models.blocks import classifier_output, conv_relu, rescale_input
from models.dropout import Dropout
from models.registry import register_model


@register_model
def baseline(input_shape=(32, 32, 3), classes=10, dropout=0.25, dense_dropout=0.5):
    """Seed 002's base network, layer for layer: three conv pairs, then Dense 512 and 256.

    Conv48 same, Conv48 valid, MaxPool, Dropout; Conv96 same, Conv96 valid, MaxPool,
    Dropout; Conv192 same, Conv192 valid, MaxPool, Dropout; Flatten; Dense 512, Dropout;
    Dense 256, Dropout; Dense `classes`. ReLU after every convolution and hidden Dense.

    Args:
        input_shape: (32, 32, 3) raw RGB pixels.
        classes: output classes.
        dropout: rate after each pooling (0.25 in the seed).
        dense_dropout: rate after each hidden Dense layer (0.5 in the seed).

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 1,172,410 trainable parameters
        for 10 classes (the input Rescaling layer has none).
    """
    inputs, x = rescale_input(input_shape)
    for filters in (48, 96, 192):
        x = conv_relu(x, filters, padding="same")
        x = conv_relu(x, filters, padding="valid")
        x = layers.MaxPooling2D(2)(x)
        x = Dropout(dropout)(x)
    x = layers.Flatten()(x)
    for units in (512, 256):
        x = layers.Dense(units, activation="relu")(x)
        x = Dropout(dense_dropout)(x)
    x = layers.Dense(classes)(x)
    return Model(inputs, classifier_output(x), name="baseline")
