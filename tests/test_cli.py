"""run.py: a real one-epoch run writes every file it promises (bad input: test_bad_inputs.py)."""
import json
import os
import re

import numpy as np
import pandas as pd
import pytest

import run
from conftest import ROOT, run_cli

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


def test_list_shows_models_with_parameter_counts_and_recipes(capsys):
    assert run.main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"baseline\s+1,172,410", out)
    assert re.search(r"ygnet\s+ygnet, sgd lr 0.01, time_decay, batch 64, 200 epochs", out)


def test_train_help_names_every_valid_schedule_optimizer_and_precision(capsys):
    from experiments import OPTIMIZERS, PRECISIONS, SCHEDULES
    with pytest.raises(SystemExit):
        run.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in SCHEDULES + OPTIMIZERS + PRECISIONS:
        assert re.search(rf"[ ,]{name}[ ,]", text), name


def test_subprocess_error_is_one_clean_line(synthetic_dir):
    root, _ = synthetic_dir
    result = run_cli("train", "nosuch", "--data-dir", root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip().splitlines()[0]] and "unknown experiment 'nosuch'" in result.stderr


@pytest.mark.precision
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
    forced = os.environ["CIFAR10_AUTO_PRECISION"]      # conftest: --auto-precision, else float32
    assert metrics["backend"] == "tensorflow"
    assert metrics["precision"] == forced      # so `load` and `evaluate` below, other processes, use it too
    assert metrics["data"]["test_images"] == 200 and config["data"] == metrics["data"]
    loaded = run_cli("load", run_dir / "best.h5", "--data-dir", real_subset)
    assert loaded.returncode == 0, loaded.stderr
    assert f"test top-1 accuracy: {100 * metrics['test_top1']:.2f}%" in loaded.stdout
    evaluated = run_cli("evaluate", run_dir, "--data-dir", real_subset)
    assert f"test top-1 accuracy: {100 * metrics['test_top1']:.2f}%" in evaluated.stdout


def test_key_values_keep_commas_inside_brackets_and_quotes():
    assert run.key_values("drop_epochs=[10,20],factor=0.1") == {"drop_epochs": [10, 20], "factor": 0.1}
    assert run.key_values("input_shape=[64,64,3]") == {"input_shape": [64, 64, 3]}
    assert run.key_values('name="a,b",x=true') == {"name": "a,b", "x": True}
    assert run.key_values("none") == {}


def test_a_backend_that_is_not_installed_is_one_line():
    import importlib.util
    missing = next((b for b in ("jax", "torch") if not importlib.util.find_spec(b)), None)
    if missing is None:
        pytest.skip("JAX and PyTorch are both installed")
    done = run_cli("list", env={"KERAS_BACKEND": missing})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"run.py list: error: KERAS_BACKEND={missing} but {missing} is not "
                                                f"installed (pip install {missing}, or unset KERAS_BACKEND for "
                                                "TensorFlow)"]
    unknown = run_cli("list", env={"KERAS_BACKEND": "mxnet"})
    assert unknown.returncode == 2 and "KERAS_BACKEND='mxnet': choose one of" in unknown.stderr


def test_tf_config_never_makes_auto_wait_for_workers_and_a_bad_one_is_refused(monkeypatch):
    from errors import SuiteError
    from training.hardware import distribution_scope
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    _, described = distribution_scope("auto")
    assert described.startswith("default")                       # a TF_CONFIG alone starts no multiworker wait
    for task, message in (({"type": "worker", "index": 2}, "index\": 0..1}"),
                          ({"type": "chief", "index": 0}, "TF_CONFIG task must be")):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
        with pytest.raises(SuiteError, match=message):
            distribution_scope("multiworker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"task": {"type": "worker", "index": 0}}))
    with pytest.raises(SuiteError, match="TF_CONFIG needs"):
        distribution_scope("multiworker")


@pytest.mark.parametrize("given, want", [(None, "1"), ("0", "0"), ("1", "1")])
def test_run_turns_onednn_on_before_tensorflow_loads_unless_told(given, want):
    """TensorFlow's x86 wheels leave oneDNN off on CPUs without AVX512_VNNI, AVX512_BF16, AVX-VNNI or AMX;
    importing run.py turns it on there (TF_ENABLE_ONEDNN_OPTS=1, read once when TensorFlow loads),
    before anything imports TensorFlow, and a value the user set wins."""
    import subprocess
    import sys
    if not run.X86:
        pytest.skip("run.py sets TF_ENABLE_ONEDNN_OPTS on x86 CPUs only")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    code = "import os, sys, run; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [want, "False"]
