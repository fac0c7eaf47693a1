"""Activations the suite's models take besides Keras' names: GELU's tanh approximation
(Hendrycks and Gimpel 2016), which a Keras activation string cannot ask for.

Keras' "gelu" is the exact GELU, x Phi(x). Its tanh approximation is a different function,
offered for fast94 as an option (`--hp activation=gelu_tanh`) with its measured speed and
accuracy in docs/speed.md: a change that trades accuracy for speed is not a default.
"""
from keras import activations, saving


@saving.register_keras_serializable(package="cifar_suite")
def gelu_tanh(x):
    """GELU's tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): Keras'
    `gelu(x, approximate=True)` under a name a saved model's config can hold. Elementwise: any
    shape in, the same shape and dtype out."""
    return activations.gelu(x, approximate=True)


# Activation names taken besides Keras' own.
SUITE_ACTIVATIONS = {"gelu_tanh": gelu_tanh}


def get_activation(name):
    """The activation for `name`: the suite's function (SUITE_ACTIVATIONS) or Keras' name as given
    (Keras resolves and checks it when a layer is built; an unknown name is refused there)."""
    return SUITE_ACTIVATIONS.get(name, name)
