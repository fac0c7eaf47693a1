"""models.batchnorm: the fused BatchNormalization computes what Keras' layer computes, faster, on TensorFlow."""
import keras
import numpy as np
import pytest

from models.batchnorm import BatchNormalization, fused_enabled

on_tensorflow = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the fused kernel is TensorFlow's")


def pair(shape, policy="float32", **kwargs):
    """Our layer and Keras' with the same (non-trivial) weights, both built for `shape`."""
    ours, theirs = BatchNormalization(dtype=policy, **kwargs), keras.layers.BatchNormalization(dtype=policy, **kwargs)
    ours.build(shape)
    theirs.build(shape)
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in theirs.weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def forward_and_gradients(layer, x, training):
    """(output, d sum(output * w) / d input, the same for each trainable weight) as numpy arrays."""
    import tensorflow as tf
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(layer(x, training=training), "float32")
        loss = tf.reduce_sum(y * tf.reshape(tf.range(y.shape[-1], dtype="float32"), [-1]))
    grads = tape.gradient(loss, [x] + layer.trainable_variables)
    return [np.asarray(y)] + [np.asarray(g) for g in grads]


@on_tensorflow
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [{"momentum": 0.5}, {"momentum": 0.4, "epsilon": 1e-12, "center": False,
                                                        "scale": False}])
def test_matches_keras_in_float32(training, kwargs):
    x = (np.random.default_rng(1).normal(size=(6, 5, 5, 4)) * 3 + 2).astype("float32")
    ours, theirs = pair(x.shape, **kwargs)
    for a, b in zip(forward_and_gradients(ours, x, training), forward_and_gradients(theirs, x, training)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), rtol=1e-5)
    if training:          # the statistics moved (towards the batch's biased variance, not the corrected one)
        assert not np.allclose(ours.moving_variance.numpy(), pair(x.shape, **kwargs)[0].moving_variance.numpy())


@on_tensorflow
def test_matches_keras_in_mixed_bfloat16():
    x = np.random.default_rng(2).normal(size=(8, 4, 4, 16)).astype("float32")
    ours, theirs = pair(x.shape, policy="mixed_bfloat16")
    a, b = ours(x, training=True), theirs(x, training=True)
    assert keras.backend.standardize_dtype(a.dtype) == "bfloat16"
    np.testing.assert_allclose(np.asarray(a, "float32"), np.asarray(b, "float32"), rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), rtol=1e-2)


@on_tensorflow
def test_runs_the_fused_kernel_and_falls_back(monkeypatch):
    import tensorflow as tf

    def op_types(layer, shape):
        fn = tf.function(lambda x: layer(x, training=True)).get_concrete_function(tf.TensorSpec(shape, "float32"))
        return {op.type for op in fn.graph.get_operations()}

    assert fused_enabled()
    assert "FusedBatchNormV3" in op_types(pair((2, 3, 3, 4))[0], (2, 3, 3, 4))
    assert "FusedBatchNormV3" not in op_types(pair((2, 4))[0], (2, 4))          # 2-D input: Keras' own call
    monkeypatch.setenv("CIFAR10_FUSED_BATCHNORM", "0")
    assert not fused_enabled() and "FusedBatchNormV3" not in op_types(pair((2, 3, 3, 4))[0], (2, 3, 3, 4))


def test_two_dimensional_input_is_keras_own():
    x = np.random.default_rng(3).normal(size=(5, 6)).astype("float32")
    ours, theirs = pair(x.shape, momentum=0.5)
    np.testing.assert_allclose(np.asarray(ours(x, training=True)), np.asarray(theirs(x, training=True)), atol=1e-6)


def test_saves_and_loads_in_safe_mode(tmp_path):
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, BatchNormalization(momentum=0.5)(inputs))
    x = np.random.default_rng(4).normal(size=(2, 4, 4, 3)).astype("float32")
    model(x, training=True)
    path = str(tmp_path / "bn.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded.layers[-1], BatchNormalization)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
