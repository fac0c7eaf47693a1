"""models/conv.py: Keras' Conv2D with the kernel gradient as matrix products where that measured faster.

Synthetic arrays only: the layer must compute what keras.layers.Conv2D computes (output, input
gradient, kernel gradient), take the matrix-product path exactly where the module says (on a CPU
without AMX unless CIFAR10_MATMUL_KERNEL_GRADIENT says otherwise), and save and load as Keras'
layer does.
"""
import keras
import numpy as np
import pytest

from errors import SuiteError
from models import conv

ON_TF = keras.backend.backend() == "tensorflow"


@pytest.fixture
def cpu_without_amx(monkeypatch):
    """The path's default setting ('auto') on the CPU it was measured on, whatever CPU runs the tests."""
    monkeypatch.delenv(conv.ENV, raising=False)
    monkeypatch.setattr(conv, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    monkeypatch.setattr(conv, "gpus", lambda: [])


def twins(kernel_size=3, padding="same", pixels=7, dtype="mixed_bfloat16", **kwargs):
    """(Keras' Conv2D, the suite's Conv2D) with the same weights, built for (None, pixels, pixels, 4)."""
    ref = keras.layers.Conv2D(8, kernel_size, padding=padding, dtype=dtype, **kwargs)
    new = conv.Conv2D(8, kernel_size, padding=padding, dtype=dtype, **kwargs)
    for layer in (ref, new):
        layer.build((None, pixels, pixels, 4))
    new.set_weights(ref.get_weights())
    return ref, new


@pytest.mark.backends
def test_output_equals_keras_conv2d():
    ref, new = twins(use_bias=True, activation="relu", dtype="float32")
    x = np.random.default_rng(0).normal(size=(2, 7, 7, 4)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(new(x)), keras.ops.convert_to_numpy(ref(x)),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size, padding", [(3, "same"), (3, "valid"), (2, "same")])
def test_matmul_path_gives_keras_gradients(monkeypatch, kernel_size, padding):
    tf = pytest.importorskip("tensorflow")
    if not ON_TF:
        pytest.skip("the matrix-product path exists on the TensorFlow backend only")
    monkeypatch.setenv(conv.ENV, "1")             # on any CPU, AMX included
    calls = []
    shifted = conv.shifted_matmul_kernel_gradient
    monkeypatch.setattr(conv, "shifted_matmul_kernel_gradient", lambda *a: calls.append(a) or shifted(*a))
    ref, new = twins(kernel_size, padding)
    x = tf.constant(np.random.default_rng(1).normal(size=(3, 7, 7, 4)), "float32")
    results = []
    for layer in (ref, new):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, "float32") ** 2)
        results.append([y, *tape.gradient(loss, [x, layer.kernel])])
    assert len(calls) == 1                     # the suite's layer took the matrix-product path, once
    for name, want, got in zip(("output", "input gradient", "kernel gradient"), *results):
        want, got = np.asarray(tf.cast(want, "float32")), np.asarray(tf.cast(got, "float32"))
        # both in bfloat16 (8 bits of mantissa): equal up to its rounding
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-2 * np.abs(want).max(), err_msg=name)


@pytest.mark.parametrize("change, applies", [
    ({}, True),                                          # 7 x 7 output, bfloat16, stride 1
    ({"pixels": 3}, True),
    ({"pixels": 8}, True),                               # 64 pixels: MAX_OUTPUT_PIXELS
    ({"pixels": 9}, False),
    ({"pixels": 15}, False),
    ({"dtype": "float32"}, False),
    ({"strides": 2, "pixels": 15}, False),
    ({"dilation_rate": 2}, False),
])
def test_matmul_path_applies_where_measured(cpu_without_amx, change, applies):
    pixels = change.pop("pixels", 7)
    _, layer = twins(pixels=pixels, **change)
    x = keras.KerasTensor((None, pixels, pixels, 4))
    assert layer.matmul_gradient_applies(x) is (applies and ON_TF)


def test_cpu_with_amx_keeps_onednns_kernel_gradient_unless_told(cpu_without_amx, monkeypatch):
    _, layer = twins()
    x = keras.KerasTensor((None, 7, 7, 4))
    monkeypatch.setattr(conv, "cpu_flags", lambda: {"avx512_bf16", "amx_bf16", "amx_tile"})
    assert not layer.matmul_gradient_applies(x)
    monkeypatch.setenv(conv.ENV, "1")
    assert layer.matmul_gradient_applies(x) is ON_TF


def test_environment_variable_turns_the_path_off_and_rejects_other_values(cpu_without_amx, monkeypatch):
    _, layer = twins()
    x = keras.KerasTensor((None, 7, 7, 4))
    monkeypatch.setenv(conv.ENV, "auto")
    assert layer.matmul_gradient_applies(x) is ON_TF
    monkeypatch.setenv(conv.ENV, "0")
    assert not layer.matmul_gradient_applies(x)
    monkeypatch.setenv(conv.ENV, "yes")
    with pytest.raises(SuiteError, match="CIFAR10_MATMUL_KERNEL_GRADIENT='yes'"):
        layer.matmul_gradient_applies(x)


def test_saves_and_loads_as_the_suites_layer(tmp_path):
    inputs = keras.Input((7, 7, 4))
    model = keras.Model(inputs, conv.Conv2D(8, 3, padding="same")(inputs))
    path = tmp_path / "conv.keras"
    model.save(path)
    loaded = keras.models.load_model(path)             # safe_mode stays on
    assert type(loaded.layers[1]) is conv.Conv2D
    x = np.random.default_rng(2).normal(size=(2, 7, 7, 4)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)),
                               rtol=1e-6, atol=1e-6)


def test_fast94_convolutions_are_the_suites_layer():
    from models import create_model
    convs = [layer for layer in create_model("fast94").layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 6 and all(type(layer) is conv.Conv2D for layer in convs)
