"""Seed 004's five-convolution TensorFlow network (amitasviper/CIFAR-10_CNN)."""
from keras import Model, layers

from models.blocks import classifier_output, conv_relu, rescale_input
from models.dropout import Dropout
from models.registry import register_model


@register_model
def convnet5(input_shape=(32, 32, 3), classes=10, dropout=0.25):
    """Five 3x3 ReLU convolutions with two max-pools, then three Dense layers.

    Conv32; Conv64, MaxPool, Dropout .25; Conv128; Conv128, MaxPool, Dropout .25;
    Conv128; Flatten; Dense 128, Dense 128 (ReLU), Dense `classes`. Same padding
    (the seed does not say). The seed ends in a sigmoid; this ends in a softmax,
    as the other models do. Spatial 32 -> 16 -> 8 pixels.

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 1,454,922 trainable parameters.
    """
    inputs, x = rescale_input(input_shape)
    x = conv_relu(x, 32)
    x = conv_relu(x, 64)
    x = layers.MaxPooling2D(2)(x)
    x = Dropout(dropout)(x)
    x = conv_relu(x, 128)
    x = conv_relu(x, 128)
    x = layers.MaxPooling2D(2)(x)
    x = Dropout(dropout)(x)
    x = conv_relu(x, 128)
    x = layers.Flatten()(x)
    for units in (128, 128):
        x = layers.Dense(units, activation="relu")(x)
    x = layers.Dense(classes)(x)
    return Model(inputs, classifier_output(x), name="convnet5")
