"""fast94's parts: patch whitening, identity init, test-time views, the schedule, alternating flips."""
import keras
import numpy as np
import pytest

from callbacks.lookahead import Lookahead
from callbacks.schedules import make_schedule
from data.pipeline import train_dataset
from errors import SuiteError
from models import adapt_model, create_model, with_test_time_augmentation
from models.activations import gelu, gelu_tanh
from models.airbench import PartialDirac, PatchWhitening
from models.tta import ViewTransform
from training.evaluate import load_saved_model

pytestmark = pytest.mark.precision     # CI runs these again with bfloat16 forced


def correlated_images(n=200, seed=0):
    """Images whose neighbouring pixels and channels are strongly correlated, like photographs."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 8, 8, 1)).repeat(4, axis=1).repeat(4, axis=2)
    return base + 0.3 * rng.normal(size=(n, 32, 32, 3)) + np.array([0.5, 0.2, -0.1])


def test_patch_whitening_gives_uncorrelated_unit_variance_features():
    x = correlated_images()
    layer = PatchWhitening(eps=0.0)
    layer.build(x.shape)
    layer.adapt(x)
    out = keras.ops.convert_to_numpy(layer(keras.ops.convert_to_tensor(x, "float32")))
    assert out.shape == (200, 31, 31, 24)
    feats = out.reshape(-1, 24)[:, :12]                  # the second 12 channels are the negatives
    np.testing.assert_allclose(out.reshape(-1, 24)[:, 12:], -feats, atol=1e-5)
    np.testing.assert_allclose(feats.mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(np.cov(feats, rowvar=False), np.eye(12), atol=2e-3)


def test_partial_dirac_passes_the_first_channels_through():
    w = keras.ops.convert_to_numpy(PartialDirac(seed=1)((3, 3, 4, 6)))
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 4)).astype("float32")
    y = keras.ops.convert_to_numpy(keras.ops.conv(x, w, padding="same"))
    np.testing.assert_allclose(y[..., :4], x, atol=1e-6)
    assert np.abs(w[..., 4:]).max() <= 1 / np.sqrt(36) and np.abs(w[..., 4:]).max() > 0


def test_view_transform_mirrors_and_translates_with_reflection():
    x = np.arange(2 * 4 * 4 * 1, dtype="float32").reshape(2, 4, 4, 1)
    flip = keras.ops.convert_to_numpy(ViewTransform(flip=True)(x))
    np.testing.assert_array_equal(flip, x[:, :, ::-1])
    down_right = keras.ops.convert_to_numpy(ViewTransform(dy=1, dx=1)(x))
    np.testing.assert_array_equal(down_right[:, 1:, 1:], x[:, :-1, :-1])      # content moved by one pixel
    np.testing.assert_array_equal(down_right[:, 0, 1:], x[:, 1, :-1])        # reflected border row


def test_level2_tta_is_the_weighted_mean_of_six_views(tmp_path):
    model = create_model("lenet5")
    x = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    views = [ViewTransform(flip=f, dy=d, dx=d) for d in (0, 1, -1) for f in (False, True)]
    p = [np.asarray(model.predict(keras.ops.convert_to_numpy(v(x.astype("float32"))), verbose=0)) for v in views]
    expected = 0.25 * (p[0] + p[1]) + 0.125 * (p[2] + p[3] + p[4] + p[5])
    tta = with_test_time_augmentation(model, 2)
    np.testing.assert_allclose(tta.predict(x, verbose=0), expected, atol=1e-6)
    tta.save(tmp_path / "tta.h5")                               # it saves and loads in safe mode
    np.testing.assert_allclose(load_saved_model(str(tmp_path / "tta.h5")).predict(x, verbose=0), expected, atol=1e-6)
    assert with_test_time_augmentation(model, 0) is model
    with pytest.raises(ValueError):
        with_test_time_augmentation(model, 3)


def test_fast94_adapts_its_whitening_and_saves_it(tmp_path):
    model = create_model("fast94")
    x = correlated_images(50).clip(0, 1) * 255
    assert adapt_model(model, x.astype(np.uint8)) == 1
    kernel = model.get_layer("whitening").kernel
    assert np.abs(keras.ops.convert_to_numpy(kernel)).max() > 0
    assert not any(w is kernel for w in model.trainable_weights)             # frozen
    model.save(tmp_path / "m.h5")
    loaded = load_saved_model(str(tmp_path / "m.h5"))
    sample = x[:3].astype(np.uint8)
    np.testing.assert_allclose(loaded.predict(sample, verbose=0), model.predict(sample, verbose=0), atol=1e-5)
    assert adapt_model(create_model("lenet5"), sample) == 0


def test_warmup_linear_schedule_rises_then_falls_linearly():
    s, _ = make_schedule("warmup_linear", 2.0, {"warmup": 0.25, "start": 0.2, "end": 0.1}, 4, 25)  # 100 steps
    rate = lambda step: float(keras.ops.convert_to_numpy(s(step)))   # noqa: E731
    assert rate(0) == pytest.approx(0.4)
    assert rate(12) == pytest.approx(0.4 + 1.6 * 12 / 25, rel=1e-5)
    assert rate(25) == pytest.approx(2.0)
    assert rate(62.5) == pytest.approx(2.0 * (1 - 0.9 * 0.5), rel=1e-5)
    assert rate(100) == pytest.approx(0.2, rel=1e-5)
    assert rate(150) == pytest.approx(0.2, rel=1e-5)


def test_alternating_flip_mirrors_each_image_in_every_other_epoch():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8), np.arange(12)
    flipped = []
    for batch, labels in train_dataset(x, y, 12, {"alternating_flip": True}, seed=5, epochs=3):
        imgs = batch.numpy().astype(np.uint8)
        order = np.argsort(labels.numpy())
        mirrored = [np.array_equal(imgs[i], x[labels[i]][:, ::-1]) for i in order]
        assert all(m or np.array_equal(imgs[i], x[labels[i]]) for m, i in zip(mirrored, order))
        flipped.append(np.array(mirrored))
    assert 0 < flipped[0].sum() < 12                                   # a random half to start with
    np.testing.assert_array_equal(flipped[1], ~flipped[0])
    np.testing.assert_array_equal(flipped[2], flipped[0])


def lookahead_fit(callbacks, steps=20):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8 * steps // 2, 4)), rng.normal(size=(8 * steps // 2, 2))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(),
                              keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=callbacks)
    return model


@pytest.mark.backends              # on JAX the weights live outside the variables during fit: callbacks.sync_weights
def test_lookahead_moves_weights_to_their_average_and_ends_on_it():
    plain = lookahead_fit([]).get_weights()
    no_op = lookahead_fit([Lookahead(20, base=0.0)]).get_weights()        # decay 0: weights stay as trained
    for a, b in zip(plain, no_op):
        np.testing.assert_allclose(a, b, atol=1e-6)
    la = Lookahead(20, base=0.95)
    model = lookahead_fit([la])
    assert any(not np.allclose(a, b) for a, b in zip(plain, model.get_weights()))
    floats = [v for v in model.weights if "float" in str(v.dtype)]
    assert len(floats) == 8 and any("moving_mean" in v.path for v in floats)   # BN statistics included
    for avg, var in zip(la.average, floats):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(avg), keras.ops.convert_to_numpy(var.value))


def test_lookahead_update_is_a_lerp_towards_the_weights():
    la = Lookahead(10)
    la.set_model(lookahead_fit([]))
    la.on_train_begin()
    la.on_train_batch_begin(0)
    start = [keras.ops.convert_to_numpy(a) for a in la.average]
    moved = [s + 1.0 for s in start]
    la.model.set_weights(moved)
    la.update(0.25)
    for s, v in zip(start, la.model.get_weights()):
        np.testing.assert_allclose(v, s + 0.75, atol=1e-6)


def test_float32_norm_computes_batchnorm_and_gelu_in_float32_and_keeps_the_weights():
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")      # conftest puts float32 back
    plain, fast = create_model("fast94", float32_norm=False), create_model("fast94")    # True: the default
    def group_dtypes(model):          # BN and activations of the conv groups: not the first GELU or the softmax
        kinds = (keras.layers.BatchNormalization, keras.layers.Activation)
        return [layer.compute_dtype for layer in model.layers if isinstance(layer, kinds)][1:-1]
    assert group_dtypes(plain) == ["bfloat16"] * 12 and group_dtypes(fast) == ["float32"] * 12
    assert {layer.compute_dtype for layer in fast.layers if isinstance(layer, keras.layers.Conv2D)} == {"bfloat16"}
    fast.set_weights(plain.get_weights())                          # same variables, same shapes
    x = correlated_images(8).clip(0, 1) * 255
    np.testing.assert_allclose(fast.predict(x, verbose=0), plain.predict(x, verbose=0), atol=0.05)


@pytest.mark.parametrize("name, function", [("gelu", gelu), ("gelu_tanh", gelu_tanh)])
def test_fast94_activations_are_the_suites_gelu_or_the_asked_one_and_survive_saving(tmp_path, name, function):
    keras.utils.set_random_seed(0)
    model = create_model("fast94") if name == "gelu" else create_model("fast94", activation=name)   # gelu: the default
    acts = activation_functions(model)
    assert len(acts) == 8 and all(a is function for a in acts[:-1])      # whitening + 6 in the groups; then softmax
    images = (correlated_images(4).clip(0, 1) * 255).astype(np.uint8)
    model.save(tmp_path / "m.h5")
    loaded = load_saved_model(str(tmp_path / "m.h5"))
    assert activation_functions(loaded)[:-1] == acts[:-1]
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)
    with pytest.raises(SuiteError, match="gelu_fast"):
        create_model("fast94", activation="gelu_fast")


def activation_functions(model):
    return [layer.activation for layer in model.layers if isinstance(layer, keras.layers.Activation)]


def test_linear_decay_without_warmup_and_the_head_initialization_of_fast94_muon():
    s, _ = make_schedule("warmup_linear", 1.0, {"warmup": 0, "start": 1, "end": 0.005}, 8, 25)   # 200 steps
    rate = lambda step: float(keras.ops.convert_to_numpy(s(step)))   # noqa: E731
    assert rate(0) == rate(1) == pytest.approx(1.0)
    assert rate(100) == pytest.approx(1 - 0.995 * 99 / 199, rel=1e-5) and rate(200) == pytest.approx(0.005)
    keras.utils.set_random_seed(0)
    head = create_model("fast94", head_std=0.03125).layers[-3]
    kernel = keras.ops.convert_to_numpy(head.kernel)
    assert isinstance(head, keras.layers.Dense) and kernel.std() == pytest.approx(0.03125, rel=0.15)
    assert np.abs(kernel).max() <= 0.03125 * np.sqrt(3) + 1e-7                 # uniform: |w| <= std * sqrt(3)
