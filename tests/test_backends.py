"""The whole job on the backend this pytest process runs on ($KERAS_BACKEND; TensorFlow by default).

CI runs these (`-m backends`) in its main environment on TensorFlow, and again in a second
environment without TensorFlow, once with KERAS_BACKEND=jax and once with torch: train with
augmentation, SIGKILL in epoch 2, resume to the same history as an uninterrupted run, then
load, evaluate and predict with the best checkpoint, all on the real CIFAR-10 subset.
"""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run_cli

pytestmark = pytest.mark.backends
BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
ENGINE = "layers" if BACKEND == "tensorflow" else "pydataset"     # what --augment-engine auto picks
KILL_AT = os.path.join(ROOT, "tests", "kill_at.py")


def recipe(data_dir, out):
    # lenet5 has dropout, and its recipe shifts and flips: both must resume exactly. 200 images, 4 batches an epoch.
    return ["lenet5", "--epochs", "2", "--batch-size", "50", "--limit-train", "200", "--val-split", "100",
            "--data-dir", data_dir, "--output-dir", out, "--seed", "5"]


def kill_in(moment, n, *args):
    return subprocess.run([sys.executable, KILL_AT, moment, str(n), "KILL", "--", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def only_run_dir(out):
    (name,) = os.listdir(out)
    return os.path.join(out, name)


def test_train_killed_in_epoch_2_resumes_to_the_uninterrupted_history_then_load_and_predict(real_subset, tmp_path):
    killed = kill_in("train-batch", 6, "train", *recipe(real_subset, tmp_path / "killed"))   # epoch 2
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-1500:]
    assert f"augment engine {ENGINE}" in killed.stdout
    run_dir = only_run_dir(tmp_path / "killed")
    resumed = run_cli("train", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    assert "after epoch 1 of 2" in resumed.stdout
    whole = run_cli("train", *recipe(real_subset, tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-1500:]
    whole_dir = only_run_dir(tmp_path / "whole")

    histories = [pd.read_csv(os.path.join(d, "history.csv")) for d in (run_dir, whole_dir)]
    assert list(histories[0]["epoch"]) == [0, 1]
    for column in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        np.testing.assert_allclose(histories[0][column], histories[1][column], rtol=1e-6, err_msg=column)
    metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
    config = json.load(open(os.path.join(run_dir, "config.json")))
    assert metrics["backend"] == BACKEND and config["experiment"]["augment_engine"] == ENGINE
    assert metrics["resumed_after_epochs"] == [1]

    loaded = run_cli("load", os.path.join(run_dir, "best.h5"), "--data-dir", real_subset)
    assert loaded.returncode == 0, loaded.stderr[-1500:]
    assert f"test top-1 accuracy: {100 * metrics['test_top1']:.2f}% ({metrics['test_images']} images)" in loaded.stdout
    evaluated = run_cli("evaluate", run_dir, "--data-dir", real_subset)
    assert evaluated.returncode == 0 and f"{100 * metrics['test_top1']:.2f}%" in evaluated.stdout

    from PIL import Image
    from data import CLASSES, load_cifar10
    _, (x_test, _) = load_cifar10(real_subset)
    Image.fromarray(x_test[0]).save(tmp_path / "first.png")
    predicted = run_cli("predict", run_dir, tmp_path / "first.png")
    assert predicted.returncode == 0, predicted.stderr[-1500:]
    line = predicted.stdout.strip().splitlines()[-1]
    assert line.startswith(f"{tmp_path / 'first.png'}: ") and line.split(": ")[1].split()[0] in CLASSES


@pytest.mark.parametrize("name", ["ygnet", "fast94"])
def test_shipped_models_trained_on_tensorflow_load_and_evaluate_here(real_subset, name):
    loaded = run_cli("load", name, "--data-dir", real_subset)
    assert loaded.returncode == 0, loaded.stderr[-1500:]
    accuracy = float(loaded.stdout.split("test top-1 accuracy: ")[1].split("%")[0])
    card = float(loaded.stdout.split(f"model card pretrained/{name}.md: ")[1].split("%")[0])
    assert abs(accuracy - card) < 10      # 200 of the 10,000 test images: within sampling noise of the card


def test_imagedatagenerator_engine_says_it_needs_tensorflow_where_it_is_missing(synthetic_dir, tmp_path):
    if BACKEND == "tensorflow":
        pytest.skip("TensorFlow is installed here")
    root, _ = synthetic_dir
    out = run_cli("train", "lenet5", "--epochs", "1", "--augment-engine", "imagedatagenerator", "--data-dir", root,
                  "--val-split", "10", "--output-dir", tmp_path / "runs")
    assert out.returncode == 2
    assert out.stderr.strip() == ("run.py train: error: the imagedatagenerator augment engine needs TensorFlow "
                                  "(tf.keras' ImageDataGenerator), which is not installed; use --augment-engine "
                                  "pydataset (or auto)")
    assert not (tmp_path / "runs").exists()
