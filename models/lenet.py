"""Small LeNet-style nets: seed 003's LeNet-5 variant and seed 001's PyTorch-tutorial CNN."""
from keras import Model, layers

from models.blocks import classifier_output, conv_relu, rescale_input
from models.dropout import Dropout
from models.registry import register_model


def _lenet(name, input_shape, classes, filters, units, dropout):
    """(Conv 5x5 valid, ReLU, Dropout, MaxPool 2) per entry of `filters`, Flatten, ReLU Dense per `units`."""
    inputs, x = rescale_input(input_shape)
    for f in filters:
        x = conv_relu(x, f, 5, padding="valid")
        if dropout:
            x = Dropout(dropout)(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    for u in units:
        x = layers.Dense(u, activation="relu")(x)
    x = layers.Dense(classes)(x)
    return Model(inputs, classifier_output(x), name=name)


@register_model
def lenet5(input_shape=(32, 32, 3), classes=10, dropout=0.2):
    """LeNet-5 as seed 003 trained it: two 5x5 conv layers with dropout, three Dense layers.

    Conv32 5x5 valid, ReLU, Dropout .2, MaxPool; Conv64 5x5 valid, ReLU, Dropout .2,
    MaxPool; Dense 200, Dense 100 (ReLU), Dense `classes`. Spatial 32 -> 14 -> 5 pixels.

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 395,006 trainable parameters.
    """
    return _lenet("lenet5", input_shape, classes, (32, 64), (200, 100), dropout)


@register_model
def tutorial_cnn(input_shape=(32, 32, 3), classes=10):
    """The PyTorch CIFAR-10 tutorial's CNN (seed 001): Conv-ReLU-MaxPool twice, three Linear layers.

    Conv6 5x5, ReLU, MaxPool 2; Conv16 5x5, ReLU, MaxPool 2; Flatten; Linear 120, ReLU;
    Linear 84, ReLU; Linear `classes`. Spatial 32 -> 14 -> 5 pixels.

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 62,006 trainable parameters.
    """
    return _lenet("tutorial_cnn", input_shape, classes, (6, 16), (120, 84), dropout=0.0)
