"""run.py tune: tables, a killed sweep resumed without repeating finished trials, a chief with two workers."""
import collections
import os
import re
import signal
import socket
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT, write_batches

TRIAL_LINE = re.compile(r"^trial (\d+) of (\d+): (.*); val_accuracy ([\d.]+); best so far ([\d.]+)"
                        r"(?:; \d+ (?:s|min|h) left)?$", re.M)


@pytest.fixture
def sweep_data(tmp_path):
    """330 synthetic images: 266 for training (room for every batch size of the space), 64 for validation."""
    write_batches(tmp_path / "data" / "cifar-10-batches-py", n_train=330)
    return str(tmp_path / "data")


def tune_args(data, out, trials, tuner="random"):
    return ["tune", "tutorial_cnn", "--tuner", tuner, "--max-trials", str(trials), "--epochs", "1", "--data-dir", data,
            "--val-split", "64", "--output-dir", str(out)]


def start(args, kill=None, env=None):
    prefix = [os.path.join(ROOT, "tests", "kill_at.py"), *kill, "--"] if kill else [os.path.join(ROOT, "run.py")]
    return subprocess.Popen([sys.executable, *prefix, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def finish(process, timeout=300):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_killed_sweep_resumes_without_repeating_finished_trials(sweep_data, tmp_path):
    out = tmp_path / "runs"
    status, first, err = finish(start(tune_args(sweep_data, out, 3), kill=["trial-start", "2", "KILL"]))
    assert status == -signal.SIGKILL, err[-1500:]
    done = TRIAL_LINE.findall(first)
    assert [t[0] for t in done] == ["1"]                               # killed while trial 2 ran

    status, second, err = finish(start(tune_args(sweep_data, out, 3)))
    assert status == 0, err[-1500:]
    assert [t[0] for t in TRIAL_LINE.findall(second)] == ["2", "3"]    # trial 1 kept, trial 2 redone
    folder = out / "tune" / "tutorial_cnn"
    trials = pd.read_csv(folder / "trials.csv")
    assert list(trials["trial"]) == [1, 2, 3] and set(trials["status"]) == {"COMPLETED"}
    assert f"lr={trials['lr'][0]:.3g}," in done[0][2]                   # the finished trial's own values
    assert (trials["epochs"] == 1).all() and (trials["seconds"] > 0).all()          # from each trial's history.csv
    assert trials["val_accuracy"].max() == pytest.approx(float(TRIAL_LINE.findall(second)[-1][4]), abs=1e-4)
    assert {"keras_tuner", "best.json", "trials.csv", "sweep.png"} <= set(os.listdir(folder))

    status, third, err = finish(start(tune_args(sweep_data, out, 1) + ["--overwrite"]))
    assert status == 0, err[-1500:]
    assert len(pd.read_csv(folder / "trials.csv")) == 1                 # --overwrite started over


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_chief_and_two_workers_run_every_trial_once(sweep_data, tmp_path):
    out, port = tmp_path / "runs", free_port()
    env = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": port}
    chief = start(tune_args(sweep_data, out, 4), env={**env, "KERASTUNER_TUNER_ID": "chief"})
    workers = [start(tune_args(sweep_data, out, 4), env={**env, "KERASTUNER_TUNER_ID": f"tuner{i}"})
               for i in range(2)]
    results = [finish(p, timeout=400) for p in workers + [chief]]      # all three must exit by themselves
    assert [r[0] for r in results] == [0, 0, 0], [r[2][-800:] for r in results]
    ran = collections.Counter(t[0] for status, stdout, _ in results[:2] for t in TRIAL_LINE.findall(stdout))
    assert ran == collections.Counter({"1": 1, "2": 1, "3": 1, "4": 1})  # each trial once, across the workers
    trials = pd.read_csv(out / "tune" / "tutorial_cnn" / "trials.csv")   # written by the chief
    assert len(trials) == 4 and set(trials["status"]) == {"COMPLETED"}


@pytest.mark.parametrize("tuner", ["bayesian", "hyperband"])
def test_bayesian_and_hyperband_sweeps_then_retrain(tuner, sweep_data, tmp_path, capsys):
    import run
    status = run.main(tune_args(sweep_data, tmp_path / "runs", 2, tuner) + ["--epochs", "2",
                                                                     "--retrain", "--retrain-epochs", "1"])
    out = capsys.readouterr().out
    assert status == 0
    lines = TRIAL_LINE.findall(out)
    assert lines and {total for _, total, *_ in lines} == {"2"}      # hyperband with 2 epochs: 2 trials
    assert len(lines) == 2
    folder = tmp_path / "runs" / "tune" / "tutorial_cnn"
    trials = pd.read_csv(folder / "trials.csv")
    assert len(trials) == len(lines) and (trials["status"] == "COMPLETED").all()
    best = __import__("json").load(open(folder / "best.json"))
    assert best["val_accuracy"] == pytest.approx(trials["val_accuracy"].max())
    (retrained,) = [d for d in os.listdir(tmp_path / "runs") if d.startswith("tutorial_cnn-")]
    config = __import__("json").load(open(tmp_path / "runs" / retrained / "config.json"))
    assert config["experiment"]["lr"] == pytest.approx(best["hyperparameters"]["lr"])
    assert os.path.exists(tmp_path / "runs" / retrained / "metrics.json")


def test_bad_distribution_variables_and_a_file_as_output_folder_are_one_line(sweep_data, tmp_path, monkeypatch,
                                                                            capsys):
    import run
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "abc")
    assert run.main(tune_args(sweep_data, tmp_path / "out", 1)) == 2
    assert capsys.readouterr().err.strip() == ("run.py tune: error: KERASTUNER_ORACLE_PORT='abc' is not a port "
                                               "number (1-65535)")
    monkeypatch.delenv("KERASTUNER_ORACLE_PORT")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    assert run.main(tune_args(sweep_data, tmp_path / "out", 1)) == 2
    assert "set KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT" in capsys.readouterr().err
    monkeypatch.delenv("KERASTUNER_TUNER_ID")
    (tmp_path / "file").write_text("x")
    assert run.main(tune_args(sweep_data, tmp_path / "file", 1)) == 2
    assert capsys.readouterr().err.strip().endswith("file: output folder is a file")
    assert not (tmp_path / "out").exists() and (tmp_path / "file").read_text() == "x"


def test_a_damaged_saved_sweep_is_one_line_that_names_overwrite(sweep_data, tmp_path, capsys):
    import run
    assert run.main(tune_args(sweep_data, tmp_path, 1)) == 0
    oracle = tmp_path / "tune" / "tutorial_cnn" / "keras_tuner" / "oracle.json"
    oracle.write_text('{"ongoing_trials": {}, "tried_so_far": 7}')
    capsys.readouterr()
    assert run.main(tune_args(sweep_data, tmp_path, 2)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be reloaded" in err[0] and "--overwrite" in err[0]
    assert run.main([*tune_args(sweep_data, tmp_path, 1), "--overwrite"]) == 0


def test_a_worker_without_a_chief_gives_up_after_its_timeout(sweep_data, tmp_path, monkeypatch, capsys):
    import time

    import run
    with socket.socket() as s:                    # a free port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
    start = time.monotonic()
    assert run.main([*tune_args(sweep_data, tmp_path, 1), "--chief-timeout", "2"]) == 2
    assert time.monotonic() - start < 30
    out, err = capsys.readouterr()
    assert f"waiting up to 2 s for the chief at 127.0.0.1:{port}" in out
    assert err.strip() == (f"run.py tune: error: no chief answered at 127.0.0.1:{port} within 2 s (start it with "
                           "KERASTUNER_TUNER_ID=chief, or raise --chief-timeout)")


def test_hyperband_says_how_many_trials_it_will_run():
    import keras_tuner

    from tuning.tuner import TuneOptions, planned_trials
    # max_epochs 9, factor 3: brackets of 3 (9 epochs), 5 + 2 (3 then 9) and 9 + 3 + 1 (1, 3, 9) trials.
    oracle = keras_tuner.oracles.HyperbandOracle(objective="val_accuracy", max_epochs=9, factor=3)
    assert planned_trials(TuneOptions(tuner="hyperband", epochs=9), oracle) == 23
    two = keras_tuner.oracles.HyperbandOracle(objective="val_accuracy", max_epochs=2, factor=3)
    assert planned_trials(TuneOptions(tuner="hyperband", epochs=2), two) == 2
    assert planned_trials(TuneOptions(tuner="random", max_trials=7), None) == 7
