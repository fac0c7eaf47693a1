"""models/activations.py: the suite's gelu is Keras' exact GELU in value and gradient (computed from erf
with a hand-written gradient on TensorFlow, Keras' own under CIFAR10_ERF_GELU=0), gelu_tanh is GELU's
tanh approximation (near, not equal to, the exact one), and activation names resolve to the suite's
function or pass through to Keras."""
import math

import keras
import numpy as np
import pytest

from models.activations import ERF_GELU_SWITCH, gelu, gelu_tanh, get_activation

X = np.linspace(-12, 12, 4801, dtype="float32")
ERF = np.vectorize(math.erf)


def exact_gelu_and_gradient(x):
    """GELU and its derivative in float64: x Phi(x) and Phi(x) + x phi(x)."""
    x = np.asarray(x, dtype=np.float64)
    cdf = 0.5 * (1 + ERF(x / math.sqrt(2)))
    return x * cdf, cdf + x * np.exp(-x ** 2 / 2) / math.sqrt(2 * math.pi)


def value_and_gradient(f, x, dtype):
    """f(x) and df/dx at float32 points cast to `dtype`, both as float64 arrays (TensorFlow's tape)."""
    import tensorflow as tf
    x = tf.cast(tf.constant(x), dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    assert y.dtype == x.dtype and y.shape == x.shape
    grad = tape.gradient(y, x)
    return tf.cast(y, tf.float64).numpy(), tf.cast(grad, tf.float64).numpy(), tf.cast(x, tf.float64).numpy()


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the erf form is TensorFlow's path")
@pytest.mark.parametrize("dtype, rtol, atol, keras_atol", [("float32", 0, 2e-6, 2e-6), ("bfloat16", 2 ** -8, 1e-6, 0.02)])
def test_gelu_has_the_exact_gelus_value_and_gradient(dtype, rtol, atol, keras_atol):
    y, grad, x = value_and_gradient(gelu, X, dtype)
    want_y, want_grad = exact_gelu_and_gradient(x)            # at the points as cast: bfloat16 rounds x too
    np.testing.assert_allclose(y, want_y, rtol=rtol, atol=atol)          # bfloat16: within one rounding of
    np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=atol)    # the exact value, Phi's tail included
    keras_y, keras_grad, _ = value_and_gradient(keras.activations.gelu, X, dtype)
    np.testing.assert_allclose(y, keras_y, rtol=rtol, atol=keras_atol)
    np.testing.assert_allclose(grad, keras_grad, rtol=rtol, atol=keras_atol)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the erf form is TensorFlow's path")
def test_the_switch_chooses_erf_or_keras_erfc_when_traced(monkeypatch):
    import tensorflow as tf

    def op_types(x):
        graph = tf.function(gelu).get_concrete_function(tf.TensorSpec((4,), x)).graph
        return {op.type for op in graph.get_operations()}
    on = op_types(tf.float32)
    assert "Erf" in on and "Erfc" not in on
    assert {"Cast", "Erf"} <= op_types(tf.bfloat16)                   # computed in float32
    monkeypatch.setenv(ERF_GELU_SWITCH, "0")
    off = op_types(tf.float32)
    assert "Erfc" in off and "Erf" not in off                         # Keras' tf.nn.gelu


@pytest.mark.backends      # CI runs it on JAX and PyTorch too: Keras' GELU there
def test_gelu_tanh_is_the_tanh_approximation_and_names_resolve():
    x = np.linspace(-4, 4, 81, dtype="float32")
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gelu_tanh(x)), expected, atol=1e-6)
    exact = keras.ops.convert_to_numpy(gelu(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(exact, exact_gelu_and_gradient(x)[0], atol=2e-6)   # on every backend
    assert 1e-4 < np.abs(expected - exact).max() < 1e-2                 # near the exact GELU, not it
    assert get_activation("gelu_tanh") is gelu_tanh and get_activation("gelu") is gelu
    assert get_activation("relu") == "relu" and get_activation("silu") == "silu"   # Keras' names pass through
