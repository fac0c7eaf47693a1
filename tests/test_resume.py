"""Crash-safe training: SIGKILL at five moments and resume, Ctrl-C, and what a resume restores."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from training.evaluate import load_saved_model

pytestmark = pytest.mark.precision     # CI runs these again with bfloat16 forced

KILL_AT = os.path.join(ROOT, "tests", "kill_at.py")


def recipe(data_dir, out):
    return ["lenet5", "--epochs", "3", "--batch-size", "10", "--data-dir", data_dir, "--limit-train", "60",
            "--val-split", "20", "--augment", "width_shift_range=2,horizontal_flip=true",   # lenet5 has dropout
            "--output-dir", out, "--seed", "3"]


def run(*args, kill=None):
    """run.py ARGS in a subprocess; kill=(moment, n, signal) injects a kill through tests/kill_at.py."""
    prefix = [KILL_AT, *map(str, kill), "--"] if kill else [os.path.join(ROOT, "run.py")]
    return subprocess.run([sys.executable, *prefix, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def only_run_dir(out):
    (run_dir,) = os.listdir(out)
    return os.path.join(out, run_dir)


def test_killed_five_times_then_resumed_equals_an_uninterrupted_run(synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    first = run("train", *recipe(root, tmp_path / "killed"), kill=("train-batch", 5, "KILL"))   # 3 batches an epoch: in epoch 2
    assert first.returncode == -signal.SIGKILL
    run_dir = only_run_dir(tmp_path / "killed")
    kills = [("checkpoint-write", 1), ("backup-write", 1), ("history-written", 2), ("evaluation", 1)]
    for moment, n in kills:
        resumed = run("train", "--resume", run_dir, kill=(moment, n, "KILL"))
        assert resumed.returncode == -signal.SIGKILL, (moment, resumed.stderr[-1500:])
    last = run("train", "--resume", run_dir)
    assert last.returncode == 0, last.stderr[-1500:]
    assert "resuming" in last.stdout and "after epoch 3 of 3" in last.stdout   # killed during evaluation

    whole = run("train", *recipe(root, tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-1500:]
    whole_dir = only_run_dir(tmp_path / "whole")
    resumed_history, whole_history = (pd.read_csv(os.path.join(d, "history.csv")) for d in (run_dir, whole_dir))
    assert list(resumed_history["epoch"]) == [0, 1, 2]                     # every epoch exactly once
    # Same seed, same results: weights, optimizer state, schedule, dropout and augmentation seeds resumed.
    for column in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        np.testing.assert_array_equal(resumed_history[column], whole_history[column])
    metrics = [json.load(open(os.path.join(d, "metrics.json"))) for d in (run_dir, whole_dir)]
    assert metrics[0]["test_top1"] == metrics[1]["test_top1"]
    assert metrics[0]["test_loss"] == pytest.approx(metrics[1]["test_loss"], abs=1e-6)
    assert metrics[0]["resumed_after_epochs"] == [1, 1, 1, 2, 3] and metrics[1]["resumed_after_epochs"] == []
    load_saved_model(os.path.join(run_dir, "best.h5"))
    assert not [f for f in os.listdir(run_dir) if ".tmp" in f or f == "backup"]


@pytest.mark.parametrize("sig, status, said", [("INT", 130, "interrupted"), ("TERM", 143, "terminated (SIGTERM)")])
def test_ctrl_c_or_sigterm_saves_the_state_and_says_how_to_resume(synthetic_dir, tmp_path, sig, status, said):
    root, _ = synthetic_dir
    out = tmp_path / "runs"
    stopped = run("train", *recipe(root, out), kill=("train-batch", 5, sig))
    run_dir = only_run_dir(out)
    assert stopped.returncode == status
    assert stopped.stderr.strip().splitlines() == [
        f"run.py train: {said}; 1 of 3 epochs are saved in {run_dir}; "
        f"continue with: python run.py train --resume {run_dir}"]
    assert list(pd.read_csv(os.path.join(run_dir, "history.csv"))["epoch"]) == [0]
    resumed = run("train", "--resume", run_dir)
    assert resumed.returncode == 0 and "after epoch 1 of 3" in resumed.stdout
    assert list(pd.read_csv(os.path.join(run_dir, "history.csv"))["epoch"]) == [0, 1, 2]
