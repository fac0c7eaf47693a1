"""Seed 001's fully connected network (its numpy backpropagation exercise)."""
from keras import Model, layers

from models.blocks import classifier_output, rescale_input
from models.registry import register_model


@register_model
def mlp(input_shape=(32, 32, 3), classes=10, hidden=(500, 50), activation="sigmoid"):
    """Multilayer perceptron: Flatten, Dense 500 sigmoid, Dense 50 sigmoid, Dense `classes`.

    Seed 001 feeds it 784 inputs (28x28); here it takes CIFAR-10's 32x32x3 = 3,072.

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 1,562,060 trainable parameters.
    """
    inputs, x = rescale_input(input_shape)
    x = layers.Flatten()(x)
    for units in hidden:
        x = layers.Dense(units, activation=activation)(x)
    x = layers.Dense(classes)(x)
    return Model(inputs, classifier_output(x), name="mlp")
