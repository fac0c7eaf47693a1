"""airbench94_muon's whitening bias: PatchWhitening's bias_scale and callbacks.WhiteningBiasDecay, whose layer
learning rate falls linearly to 0 and stays there, whatever the run's schedule; the airbench94_muon recipe uses both."""
import keras
import numpy as np
import pytest
from keras import ops

from callbacks import WhiteningBiasDecay
from errors import SuiteError
from experiments import get_experiment
from models import create_model
from models.airbench import PatchWhitening
from training.train import schedule_and_callbacks


def bias_model(bias_scale, name="whitening"):
    """A model whose loss is linear in the whitening bias (kernel 0, frozen head, MAE far from the target):
    every step's gradient is the same, so the bias moves by lr x the layer's factor x a constant."""
    inputs = keras.Input((4, 4, 1))
    x = PatchWhitening(bias_scale=bias_scale, name=name)(inputs)                 # (N, 3, 3, 8): the bias
    x = keras.layers.GlobalAveragePooling2D()(x)
    head = keras.layers.Dense(2, use_bias=False, trainable=False,
                              kernel_initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=1))
    return keras.Model(inputs, head(x))


def effective_bias(model):
    layer = model.get_layer("whitening")
    return ops.convert_to_numpy(layer.bias) * layer.bias_scale


@pytest.mark.backends
@pytest.mark.parametrize("bias_scale", [1.0, 3.0])
def test_the_layer_learning_rate_falls_linearly_to_zero_whatever_the_schedule(bias_scale):
    model = bias_model(bias_scale)
    schedule = keras.optimizers.schedules.PolynomialDecay(0.01, decay_steps=10, end_learning_rate=0.002)
    model.compile(keras.optimizers.SGD(schedule, momentum=0.0), loss="mean_absolute_error")
    head = ops.convert_to_numpy(model.layers[-1].kernel)
    x, y = np.zeros((40, 4, 4, 1), "float32"), np.full((40, 2), 1000.0, "float32")
    biases = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: biases.append(effective_bias(model)))
    start = effective_bias(model)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
              callbacks=[WhiteningBiasDecay(decay_steps=4, initial_lr=0.01), record])
    # step t moves the bias by lr(0) x (1 - t/4) x bias_scale**2 x the gradient's negative, head.mean(axis=1)
    expected_factors = np.cumsum([1, 0.75, 0.5, 0.25, 0, 0, 0, 0, 0, 0])
    expected = start + np.outer(expected_factors, 0.01 * bias_scale ** 2 * head.mean(axis=1))
    np.testing.assert_allclose(np.array(biases), expected, rtol=1e-5, atol=1e-7)


def test_a_model_without_the_layer_gets_a_one_line_error():
    model = bias_model(1.0, name="first_conv")
    model.compile(keras.optimizers.SGD(0.01), loss="mean_absolute_error")
    with pytest.raises(SuiteError, match="has no layer 'whitening'.*patch whitening"):
        model.fit(np.zeros((4, 4, 4, 1)), np.zeros((4, 2)), verbose=0, callbacks=[WhiteningBiasDecay(4, 0.01)])


def test_bias_scale_stores_the_bias_scaled_down_and_computes_the_same_function():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 8, 8, 3)) + np.array([0.5, 0.2, -0.1])).astype("float32")
    plain, scaled = PatchWhitening(), PatchWhitening.from_config(PatchWhitening(bias_scale=9.0).get_config())
    for layer in (plain, scaled):
        layer.build(x.shape)
        layer.adapt(x)
    assert scaled.bias_scale == 9.0
    np.testing.assert_allclose(ops.convert_to_numpy(scaled.bias) * 9, ops.convert_to_numpy(plain.bias), rtol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(scaled(x)), ops.convert_to_numpy(plain(x)), atol=1e-4)


def test_airbench94_muon_schedules_its_whitening_bias_over_three_epochs_at_the_bias_learning_rate():
    exp = get_experiment("airbench94_muon")
    assert exp.epochs == 8 and exp.whitening_bias_epochs == 3
    learning_rate, extra = schedule_and_callbacks(exp, 50_000)                # 25 steps of 2000 an epoch
    decay = [c for c in extra if isinstance(c, WhiteningBiasDecay)]
    assert len(decay) == 1 and decay[0].decay_steps == 75
    _, short = schedule_and_callbacks(exp.with_overrides(whitening_bias_epochs=0.001), 50_000)
    assert [c.decay_steps for c in short if isinstance(c, WhiteningBiasDecay)] == [1]       # at least one step
    assert decay[0].initial_lr == pytest.approx(float(ops.convert_to_numpy(learning_rate(0)))) == pytest.approx(1.31)
    model = create_model("fast94", **exp.model_kwargs)
    assert model.get_layer("whitening").bias_scale == 9.0                     # 81 x 1.31 = 106, as the BatchNorm biases
    for name in ("fast94_muon", "fast94"):                                     # the whitening bias follows the schedule
        _, extra = schedule_and_callbacks(get_experiment(name), 50_000)
        assert not any(isinstance(c, WhiteningBiasDecay) for c in extra)
