"""Training in-process on synthetic images: repeatable with a seed, NaN-safe, never reusing a run folder."""
import os
import re

import keras
import numpy as np
import pandas as pd
import pytest

from callbacks import NonFiniteLoss
from experiments import get_experiment
from training.evaluate import load_saved_model
from training.rundir import new_run_dir
from training.train import RunOptions, train

pytestmark = pytest.mark.precision     # CI runs these again with bfloat16 forced


def tiny(exp_name="tutorial_cnn", **overrides):
    recipe = dict(epochs=2, batch_size=10, augment={"width_shift_range": 0.1, "horizontal_flip": True})
    return get_experiment(exp_name).with_overrides(**{**recipe, **overrides})


def options(root, tmp_path, **kw):
    return RunOptions(data_dir=str(root), val_split=10, output_dir=str(tmp_path / "runs"), verbose=0, **kw)


def test_same_seed_gives_the_same_run(synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    dirs = [train(tiny(), options(root, tmp_path, seed=7))[0] for _ in range(2)]
    a, b = (pd.read_csv(os.path.join(d, "history.csv")) for d in dirs)
    assert dirs[0] != dirs[1]
    np.testing.assert_array_equal(a["loss"], b["loss"])
    np.testing.assert_array_equal(a["val_accuracy"], b["val_accuracy"])


def test_history_records_the_schedule(synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    exp = tiny(epochs=3, lr=0.1, schedule="step", schedule_args={"drop_epochs": [1, 2], "factor": 0.5})
    run_dir, metrics = train(exp, options(root, tmp_path))
    history = pd.read_csv(os.path.join(run_dir, "history.csv"))
    assert list(history["lr"].round(6)) == [0.1, 0.05, 0.025]      # each epoch's rate
    assert metrics["epochs"] == 3 and (history["images_per_s"] > 0).all()


class PoisonWeights(keras.callbacks.Callback):
    """Sets every weight to NaN in epoch `epoch` (0-based): before its training ('train') or before
    its validation pass ('validation'). Stands in for a diverging run, which the recipe checks refuse."""

    def __init__(self, epoch, when):
        super().__init__()
        self.at, self.when, self.epoch = epoch, when, None

    def _poison(self):
        self.model.set_weights([np.full(w.shape, np.nan, w.dtype) for w in self.model.get_weights()])

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if epoch == self.at and self.when == "train":
            self._poison()

    def on_test_begin(self, logs=None):
        if self.epoch == self.at and self.when == "validation":
            self._poison()


@pytest.mark.parametrize("when, message", [
    ("train", r"the loss became NaN or infinite in epoch 2"),
    ("validation", r"the validation loss became NaN or infinite in epoch 2"),
])
def test_non_finite_loss_stops_with_a_clear_error_and_keeps_the_good_checkpoints(synthetic_dir, tmp_path,
                                                                                  monkeypatch, when, message):
    import training.train as training
    real = training.schedule_and_callbacks
    monkeypatch.setattr(training, "schedule_and_callbacks",
                        lambda exp, n: (real(exp, n)[0], [*real(exp, n)[1], PoisonWeights(1, when)]))
    root, _ = synthetic_dir
    with pytest.raises(NonFiniteLoss, match=message + r".*kept the last good checkpoints.*best.h5"):
        train(tiny(epochs=3), options(root, tmp_path))
    (run_dir,) = (tmp_path / "runs").iterdir()
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == [0]                          # only the good epoch was logged
    assert np.isfinite(history["val_loss"]).all()
    for name in ("best.h5", "last.h5"):
        weights = load_saved_model(str(run_dir / name)).get_weights()
        assert all(np.isfinite(w).all() for w in weights)


def test_a_new_run_never_reuses_a_folder(tmp_path):
    first = new_run_dir(str(tmp_path), "exp")
    (open(os.path.join(first, "keep.txt"), "w")).write("x")
    second = new_run_dir(str(tmp_path), "exp")
    assert first != second and os.listdir(second) == []
    assert open(os.path.join(first, "keep.txt")).read() == "x"


def test_final_weights_recipe_tests_the_weight_average_with_tta_and_prints_time_to_target(
        synthetic_dir, tmp_path, capsys):
    root, _ = synthetic_dir
    exp = tiny("lenet5", epochs=2, ema_momentum=0.9, evaluate_weights="final", tta_level=2, target_accuracy=0.0,
               augment={"alternating_flip": True})
    run_dir, metrics = train(exp, options(root, tmp_path))
    assert metrics["evaluated"] == "final.h5" and metrics["tta_level"] == 2
    final, last = (load_saved_model(os.path.join(run_dir, f)) for f in ("final.h5", "last.h5"))
    assert final.name == "lenet5_tta2"                       # the test-time views are inside the file
    inner = final.get_layer("lenet5")
    assert any(not np.array_equal(a, b) for a, b in zip(inner.get_weights(), last.get_weights()))  # the EMA
    out = capsys.readouterr().out
    assert re.search(r"time to 0\.0%: \d+ s \(\d+ s training, 2 epochs, \+ \d+ s test evaluation with test-time", out)
    assert metrics["time_to_target_seconds"] == pytest.approx(metrics["wall_seconds"] + metrics["test_seconds"])


def test_fast94_recipe_runs_end_to_end_with_whitening_lookahead_and_tta(synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    exp = get_experiment("fast94").with_overrides(epochs=1, batch_size=10)
    run_dir, metrics = train(exp, options(root, tmp_path))
    assert metrics["evaluated"] == "final.h5" and metrics["tta_level"] == 2 and metrics["epochs"] == 1
    whitening = load_saved_model(os.path.join(run_dir, "final.h5")).get_layer("fast94").get_layer("whitening")
    assert np.abs(whitening.get_weights()[0]).max() > 0                 # adapted to the training images


def test_a_full_disk_during_a_checkpoint_is_one_error_and_keeps_the_last_good_file(synthetic_dir, tmp_path,
                                                                                   monkeypatch):
    import errno

    from errors import SuiteError
    real = keras.callbacks.ModelCheckpoint.on_epoch_end

    def disk_fills_in_epoch_2(self, epoch, logs=None):
        if epoch == 1 and self.filepath.endswith("last.tmp.h5"):
            open(self.filepath, "wb").write(b"half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, epoch, logs)
    monkeypatch.setattr(keras.callbacks.ModelCheckpoint, "on_epoch_end", disk_fills_in_epoch_2)
    root, _ = synthetic_dir
    with pytest.raises(SuiteError, match=r"last.h5: could not write the checkpoint of epoch 2 \(No space left"):
        train(tiny(epochs=3), options(root, tmp_path))
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert not (run_dir / "last.tmp.h5").exists()
    assert load_saved_model(str(run_dir / "last.h5")) is not None                 # epoch 1's, intact


def test_run_environment_records_the_suites_variables(monkeypatch):
    from training.train import environment
    monkeypatch.setenv("CIFAR10_MATMUL_KERNEL_GRADIENT", "0")
    monkeypatch.setenv("CIFAR10_FUSED_BATCHNORM", "0")
    monkeypatch.setenv("ONEDNN_DEFAULT_FPMATH_MODE", "BF16")        # float32 convolutions in bfloat16
    monkeypatch.setenv("UNRELATED_VARIABLE", "1")
    env = environment("float32", "default", "asked for")
    assert env["variables"]["CIFAR10_MATMUL_KERNEL_GRADIENT"] == "0"
    assert env["variables"]["CIFAR10_FUSED_BATCHNORM"] == "0"
    assert env["variables"]["ONEDNN_DEFAULT_FPMATH_MODE"] == "BF16"
    assert "UNRELATED_VARIABLE" not in env["variables"]
    assert env["precision"] == "float32" and env["backend"] == keras.backend.backend()
    assert env["matmul_kernel_gradient"] is False                  # CIFAR10_MATMUL_KERNEL_GRADIENT=0
    monkeypatch.setenv("CIFAR10_MATMUL_KERNEL_GRADIENT", "1")
    forced = environment("float32", "default", "asked for")
    assert forced["matmul_kernel_gradient"] is (keras.backend.backend() == "tensorflow")
