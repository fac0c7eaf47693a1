"""models/dropout.py: the suite's Dropout drops at the asked rate, independently, scales as Keras' layer does,
repeats its masks from a seed, and falls back to Keras' own call where its path does not apply."""
import keras
import numpy as np
import pytest

from models.dropout import Dropout

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="the two-masks-per-draw path is the TensorFlow backend's")


def dropped(layer, x):
    return keras.ops.convert_to_numpy(layer(x, training=True)) == 0


@pytest.mark.parametrize("rate, policy", [(0.1, "mixed_bfloat16"), (0.2, "mixed_bfloat16"), (0.5, "float32"),
                                          (0.25, "float32")])
def test_drops_at_the_asked_rate_in_bfloat16_too(rate, policy):
    layer = Dropout(rate, seed=1, dtype=policy)
    x = tf.ones((64, 32, 32, 64), layer.compute_dtype)                      # 4.2 million activations
    assert layer(x, training=True).dtype == layer.compute_dtype
    fraction = dropped(layer, x).mean()
    # within 4 standard deviations of the fraction; Keras' layer in bfloat16 dropped 0.1013 for 0.1, 0.2027 for 0.2
    assert abs(fraction - rate) < 4 * np.sqrt(rate * (1 - rate) / x.shape.num_elements())


def test_neighbouring_activations_drawn_from_one_integer_drop_independently():
    mask = dropped(Dropout(0.5, seed=3), tf.ones((1 << 22,))).reshape(-1, 2)   # the two halves of each draw
    both = (mask[:, 0] & mask[:, 1]).mean()
    assert abs(both - 0.25) < 4 * np.sqrt(0.25 * 0.75 / len(mask))


def test_kept_activations_are_scaled_and_the_gradient_flows_through_the_same_mask():
    x = tf.random.stateless_normal((8, 5, 5, 3), seed=(0, 1)) + 4.0        # no activation is 0 by chance
    layer = Dropout(0.3, seed=2)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    gradient = tape.gradient(y, x).numpy()
    kept = y.numpy() != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / 0.7, rtol=1e-6)
    np.testing.assert_allclose(gradient, kept / 0.7, rtol=1e-6)


def test_a_seed_repeats_the_masks_and_successive_calls_draw_new_ones():
    x = tf.ones((4, 16, 16, 8))
    first, second = Dropout(0.5, seed=7), Dropout(0.5, seed=7)
    a, b = dropped(first, x), dropped(first, x)
    assert (a == dropped(second, x)).all() and (b == dropped(second, x)).all()
    assert (a != b).any()


def test_inference_rate_0_and_noise_shape_run_keras_call(monkeypatch):
    x = tf.random.stateless_normal((4, 6, 6, 8), seed=(0, 2))
    np.testing.assert_array_equal(Dropout(0.5, seed=1)(x, training=False).numpy(), x.numpy())
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True).numpy(), x.numpy())
    shared = dropped(Dropout(0.5, noise_shape=(4, 1, 1, 8), seed=1), x)     # Keras' call: one mask per channel
    assert (shared == shared[:, :1, :1, :]).all()
    monkeypatch.setenv("CIFAR10_FAST_DROPOUT", "0")                         # the A/B switch: Keras' draws
    np.testing.assert_array_equal(dropped(Dropout(0.5, seed=5), x), dropped(keras.layers.Dropout(0.5, seed=5), x))


def test_a_model_with_it_saves_and_loads_in_safe_mode(tmp_path):
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(2)(Dropout(0.25, seed=4, name="drop")(inputs)))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.get_layer("drop")) is Dropout and loaded.get_layer("drop").rate == 0.25
    x = np.ones((3, 6), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
