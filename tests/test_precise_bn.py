"""Precise BatchNorm statistics (callbacks.precise_bn) on a tiny synthetic model."""
import json
import os

import keras
import numpy as np
import pytest

from callbacks import PreciseBatchNorm, recompute_batchnorm_statistics
from callbacks.precise_bn import batchnorm_layers


def tiny_model():
    """conv -> dropout -> BN -> dropout -> head: BN's inference inputs are the conv's outputs."""
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(keras.layers.Dropout(0.5, name="drop_before")(conv))
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs), keras.Model(inputs, conv)


@pytest.mark.backends     # CI runs it on JAX and PyTorch too
def test_moving_statistics_become_the_mean_of_batch_statistics():
    """... of the inputs BN gets at inference: the dropout before it is off while they are estimated
    (with it on, the variance would be about twice as large)."""
    keras.utils.set_random_seed(0)
    model, conv = tiny_model()
    images = np.random.default_rng(0).normal(3.0, 2.0, (13, 8, 8, 3)).astype("float32")
    bn = model.get_layer("bn")
    weights = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    others = [v for v in model.non_trainable_variables if v.path not in (bn.moving_mean.path, bn.moving_variance.path)]
    assert others, "the Dropout's seed generator state should be a non-trainable variable"
    before = [keras.ops.convert_to_numpy(v).copy() for v in others]

    assert recompute_batchnorm_statistics(model, images, batch_size=4) == 1

    features = keras.ops.convert_to_numpy(conv(images[:12])).reshape(3, 4 * 8 * 8, 4)  # 3 full batches
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), features.mean(1).mean(0), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_variance), features.var(1).mean(0), rtol=1e-4,
                               atol=1e-5)
    assert bn.momentum == 0.99 and model.get_layer("drop_before").rate == 0.5     # put back
    for w, old in zip(model.trainable_weights, weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w), old)
    for v, old in zip(others, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(v), old)


@pytest.mark.backends     # CI runs it on JAX and PyTorch too
def test_a_model_without_batchnorm_is_left_alone():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert recompute_batchnorm_statistics(model, np.zeros((8, 4), "float32")) == 0


def fit_two_epochs(callbacks):
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 3.0, (64, 8, 8, 3)).astype("float32")
    y = (x[..., 0].mean((1, 2)) > 5.0).astype("int32")
    model, conv = tiny_model()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x[:16], y[:16]),
              callbacks=callbacks(x))
    features_mean = keras.ops.convert_to_numpy(conv(x[:32])).mean((0, 1, 2))
    return keras.ops.convert_to_numpy(model.get_layer("bn").moving_mean), features_mean


@pytest.mark.backends     # CI runs it on JAX and PyTorch too
def test_callback_scores_a_short_run_with_settled_statistics():
    """Two epochs of 4 steps: Keras' moving averages (momentum 0.99) have moved 8% of the way from
    their initial zeros; re-estimated before validation, they are the training images' statistics."""
    precise, features_mean = fit_two_epochs(lambda x: [PreciseBatchNorm(x[:32], batch_size=16)])
    np.testing.assert_allclose(precise, features_mean, rtol=1e-4, atol=1e-5)
    keras_own, _ = fit_two_epochs(lambda x: [])
    assert np.abs(features_mean).max() > 0.1
    assert np.abs(keras_own).max() < 0.2 * np.abs(features_mean).max()


def test_train_precise_bn_checkpoints_hold_reestimated_statistics(synthetic_dir, tmp_path):
    """`run.py train --precise-bn N`: best.h5 (saved after a validation) and last.h5 of a run without
    validation hold the statistics re-estimated on the first N training images; the option is in
    config.json, so a resumed run keeps it. Without the flag the checkpoints hold Keras' own."""
    from conftest import run_cli
    from training.evaluate import load_saved_model
    from training.train import RunOptions, load_splits
    root, _ = synthetic_dir

    def statistics_after(args, checkpoint):
        out = tmp_path / f"runs{len(args)}{checkpoint}"
        result = run_cli("train", "pyramid", "--epochs", "1", "--batch-size", "10", "--limit-train", "30",
                         "--data-dir", root, "--output-dir", out, "--hp", "width_multiplier=0.25", *args)
        assert result.returncode == 0, result.stderr[-1500:]
        (run_dir,) = [out / d for d in os.listdir(out)]
        model = load_saved_model(str(run_dir / checkpoint))
        saved = [keras.ops.convert_to_numpy(v).copy() for layer in batchnorm_layers(model)
                 for v in (layer.moving_mean, layer.moving_variance)]
        val_split = int(args[args.index("--val-split") + 1])
        (x, _), *_ = load_splits(RunOptions(data_dir=str(root), val_split=val_split, limit_train=30))
        recompute_batchnorm_statistics(model, x[:20], batch_size=256)
        again = [keras.ops.convert_to_numpy(v) for layer in batchnorm_layers(model)
                 for v in (layer.moving_mean, layer.moving_variance)]
        config = json.load(open(run_dir / "config.json"))
        return max(float(np.abs(a - b).max()) for a, b in zip(saved, again)), config["options"]["precise_bn"]

    assert statistics_after(["--val-split", "10", "--precise-bn", "20"], "best.h5") == (pytest.approx(0, abs=1e-4), 20)
    assert statistics_after(["--val-split", "0", "--precise-bn", "20"], "last.h5") == (pytest.approx(0, abs=1e-4), 20)
    difference, option = statistics_after(["--val-split", "10"], "best.h5")
    assert difference > 1e-2 and option == 0
