"""run.py: bad input gets one line and exit 2; a real one-epoch run writes every file it promises."""
import json
import os
import re

import numpy as np
import pandas as pd
import pytest

import run
from conftest import run_cli

RUN_FILES = {"config.json", "history.csv", "best.h5", "last.h5", "summary.txt", "metrics.json",
             "accuracy.png", "loss.png", "confusion_matrix.png"}


def one_error_line(capsys, argv):
    """Run main(argv) in-process; return its single stderr line after checking status 2."""
    try:
        status = run.main(argv)
    except SystemExit as exc:                   # argparse's own errors
        status = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2, err
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def saved_models(tmp_path):
    """An .h5 with a Lambda layer, one truncated, one not HDF5, and one with a non-CIFAR input shape."""
    import keras
    from models import create_model
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t * 2)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x)).save(tmp_path / "lambda.h5")
    create_model("tutorial_cnn").save(tmp_path / "good.h5")
    (tmp_path / "truncated.h5").write_bytes((tmp_path / "good.h5").read_bytes()[:4000])
    (tmp_path / "text.h5").write_text("not a model")
    create_model("tutorial_cnn", input_shape=(28, 28, 3)).save(tmp_path / "mnist_shape.h5")
    return tmp_path


@pytest.mark.parametrize("argv, message", [
    (["train", "resnet9000"], "unknown experiment 'resnet9000'; choose one of: allcnn_c"),
    (["train", "lenet5", "--model", "resnet9000"], "unknown model 'resnet9000'"),
    (["train", "lenet5", "--epochs", "ten"], "argument --epochs: expected a number"),
    (["train", "lenet5", "--epochs", "0"], "argument --epochs: must be > 0"),
    (["train", "lenet5", "--epochs", "-3"], "argument --epochs: must be > 0"),
    (["train", "lenet5", "--batch-size", "0"], "argument --batch-size: must be > 0"),
    (["train", "lenet5", "--lr", "-0.1"], "argument --lr: must be > 0"),
    (["train", "lenet5", "--lr", "nan"], "argument --lr: must be > 0"),
    (["train", "lenet5", "--precision", "fp8"], "unknown precision 'fp8'"),
    (["train", "lenet5", "--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
    (["train", "lenet5", "--schedule", "warp"], "unknown schedule 'warp'"),
    (["train", "lenet5", "--augment-engine", "opencv"], "unknown augment engine 'opencv'"),
    (["train", "lenet5", "--augment", "rotate=10"], "unknown augmentation parameter 'rotate'"),
    (["train", "lenet5", "--augment", "rotation_range"], "expected key=value"),
    (["train", "lenet5", "--strategy", "tpu"], "unknown strategy 'tpu'"),
    (["bogus"], "invalid choice: 'bogus'"),
])
def test_bad_arguments_get_one_line_and_status_2(capsys, argv, message, synthetic_dir):
    root, _ = synthetic_dir
    line = one_error_line(capsys, argv + ["--data-dir", str(root), "--val-split", "10"] if argv[0] == "train" else argv)
    assert message in line


def test_bad_data_gets_one_line_naming_the_file_and_creates_no_run(capsys, synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    out = ["--output-dir", str(tmp_path / "runs")]
    assert "no CIFAR-10 found" in one_error_line(capsys, ["train", "lenet5", "--data-dir", str(tmp_path / "x")] + out)
    batch = root / "cifar-10-batches-py" / "data_batch_4"
    batch.write_bytes(batch.read_bytes()[:777])
    line = one_error_line(capsys, ["train", "lenet5", "--data-dir", str(root)] + out)
    assert "data_batch_4: truncated or corrupt" in line
    assert not (tmp_path / "runs").exists()


def test_batch_larger_than_training_data(capsys, synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    line = one_error_line(capsys, ["train", "lenet5", "--data-dir", str(root), "--val-split", "10",
                                   "--batch-size", "64", "--output-dir", str(tmp_path / "runs")])
    assert "batch size 64 is larger than the 40 training images" in line
    assert not (tmp_path / "runs").exists()


def test_output_dir_that_is_a_file_is_left_alone(capsys, synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    target = tmp_path / "runs"
    target.write_text("keep me")
    line = one_error_line(capsys, ["train", "tutorial_cnn", "--data-dir", str(root), "--val-split", "10",
                                   "--epochs", "1", "--output-dir", str(target)])
    assert "output folder is a file" in line
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("name, message", [
    ("lambda.h5", "Lambda"),
    ("truncated.h5", "cannot load model"),
    ("text.h5", "not an HDF5 file"),
    ("missing.h5", "no such model file"),
    ("mnist_shape.h5", "CIFAR-10 needs (None, 32, 32, 3) to (None, 10)"),
])
def test_bad_model_files_are_refused(capsys, saved_models, synthetic_dir, name, message):
    root, _ = synthetic_dir
    assert message in one_error_line(capsys, ["load", str(saved_models / name), "--data-dir", str(root)])


def test_load_without_shipped_model_says_so(capsys):
    assert "no pretrained model is shipped yet" in one_error_line(capsys, ["load"])


def test_evaluate_of_a_folder_that_is_not_a_run(capsys, tmp_path):
    assert "not a run folder" in one_error_line(capsys, ["evaluate", str(tmp_path)])


def test_list_shows_models_with_parameter_counts_and_recipes(capsys):
    assert run.main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"baseline\s+1,172,410", out)
    assert re.search(r"ygnet\s+ygnet, sgd lr 0.01, time_decay, batch 64, 200 epochs", out)


def test_subprocess_error_is_one_clean_line(synthetic_dir):
    root, _ = synthetic_dir
    result = run_cli("train", "nosuch", "--data-dir", root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip().splitlines()[0]] and "unknown experiment 'nosuch'" in result.stderr


def test_one_epoch_on_real_images_writes_every_file_and_load_agrees(real_subset, tmp_path):
    out = tmp_path / "runs"
    train = run_cli("train", "tutorial_cnn", "--epochs", "1", "--batch-size", "32", "--data-dir", real_subset,
                    "--val-split", "50", "--output-dir", out, "--seed", "1")
    assert train.returncode == 0, train.stderr[-2000:]
    (run_dir,) = out.iterdir()
    assert RUN_FILES <= set(os.listdir(run_dir))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    history = pd.read_csv(run_dir / "history.csv")
    assert config["experiment"]["epochs"] == 1 and config["experiment"]["batch_size"] == 32
    assert list(history["epoch"]) == [0]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds", "images_per_s"} <= set(history)
    assert history["lr"][0] == pytest.approx(0.001)
    assert metrics["test_images"] == 200 and sum(map(sum, metrics["confusion"])) == 200
    assert set(metrics["per_class"]) == {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                         "horse", "ship", "truck"}
    assert np.mean(list(metrics["per_class"].values())) == pytest.approx(metrics["test_top1"])
    assert metrics["backend"] == "tensorflow" and metrics["precision"] in ("float32", "mixed_bfloat16")
    loaded = run_cli("load", run_dir / "best.h5", "--data-dir", real_subset)
    assert loaded.returncode == 0, loaded.stderr
    assert f"test top-1 accuracy: {100 * metrics['test_top1']:.2f}%" in loaded.stdout
    evaluated = run_cli("evaluate", run_dir, "--data-dir", real_subset)
    assert f"test top-1 accuracy: {100 * metrics['test_top1']:.2f}%" in evaluated.stdout
