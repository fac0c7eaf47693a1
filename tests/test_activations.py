"""models/activations.py: gelu_tanh is GELU's tanh approximation (near, not equal to, Keras' exact GELU)
and activation names resolve to the suite's function or pass through to Keras."""
import keras
import numpy as np

from models.activations import get_activation, gelu_tanh


def test_gelu_tanh_is_the_tanh_approximation_and_names_resolve():
    x = np.linspace(-4, 4, 81, dtype="float32")
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gelu_tanh(x)), expected, atol=1e-6)
    exact = keras.ops.convert_to_numpy(keras.activations.gelu(x))
    assert 1e-4 < np.abs(expected - exact).max() < 1e-2                 # near the exact GELU, not it
    assert get_activation("gelu_tanh") is gelu_tanh
    assert get_activation("gelu") == "gelu" and get_activation("relu") == "relu"   # Keras' names pass through
