"""run.py train --tensorboard: Keras' TensorBoard logs in RUN_DIR/tb, and a resumed run continues its curves."""
import importlib.util
import os
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli

pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                reason="Keras' TensorBoard callback writes with TensorFlow's tf.summary")


def scalars(folder):
    """{tag: [steps]} of the scalars in a TensorBoard event folder (Keras 3 writes them as tensors)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return {tag: [e.step for e in events.Tensors(tag)] for tag in events.Tags()["tensors"]}


def test_tensorboard_logs_every_epoch_once_across_a_kill_and_resume(synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    args = ["train", "lenet5", "--epochs", "3", "--batch-size", "10", "--limit-train", "30", "--val-split", "10",
            "--data-dir", root, "--output-dir", tmp_path / "runs", "--tensorboard"]
    killed = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "kill_at.py"), "train-batch", "5", "KILL",
                             "--", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-1500:]      # in epoch 2 (3 batches an epoch)
    (run_dir,) = [tmp_path / "runs" / d for d in os.listdir(tmp_path / "runs")]
    resumed = run_cli("train", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    train, validation = scalars(run_dir / "tb" / "train"), scalars(run_dir / "tb" / "validation")
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_lr", "epoch_images_per_s"):
        assert train[tag] == [0, 1, 2], tag                    # every epoch once, across two processes
    assert validation["epoch_accuracy"] == [0, 1, 2]
    assert any(tag.endswith("histogram") or "kernel" in tag for tag in train)   # weight histograms


def test_tune_tensorboard_logs_each_trial_in_its_folder(synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    result = run_cli("tune", "tutorial_cnn", "--tuner", "random", "--max-trials", "2", "--epochs", "2",
                     "--limit-train", "30", "--val-split", "10", "--data-dir", root, "--output-dir", tmp_path,
                     "--tensorboard")
    assert result.returncode == 0, result.stderr[-1500:]
    trials = tmp_path / "tune" / "tutorial_cnn" / "trials"
    assert sorted(os.listdir(trials)) == ["trial_0", "trial_1"]
    for trial in os.listdir(trials):
        train, validation = scalars(trials / trial / "tb" / "train"), scalars(trials / trial / "tb" / "validation")
        for tag in ("epoch_loss", "epoch_accuracy", "epoch_lr", "epoch_images_per_s"):
            assert train[tag] == [0, 1], (trial, tag)
        assert validation["epoch_accuracy"] == [0, 1]
