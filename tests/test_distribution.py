"""Training over two devices, with the engines Keras and TensorFlow have (nothing of our own).

- JAX: keras.distribution.DataParallel (`--strategy mirrored`) over two CPU devices
  (XLA_FLAGS=--xla_force_host_platform_device_count=2): every batch is split in two
  halves, one per device, and the result matches a one-device run. Needs JAX.
- TensorFlow: MultiWorkerMirroredStrategy (`--strategy multiworker`), two worker
  processes on 127.0.0.1 with their TF_CONFIG: both finish, only the chief writes the run
  folder, and its model loads. Needs TensorFlow.
"""
import importlib.util
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run_cli

pytestmark = pytest.mark.multidevice
RECORD_SHARDS = os.path.join(ROOT, "tests", "record_shards.py")
TWO_CPU_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


def recipe(data_dir, out, strategy):
    # Dropout off: the two runs draw dropout masks for differently sharded tensors.
    return ["train", "lenet5", "--epochs", "1", "--batch-size", "50", "--limit-train", "200", "--val-split", "100",
            "--hp", "dropout=0", "--data-dir", data_dir, "--output-dir", out, "--strategy", strategy]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs JAX (the backend of keras.distribution)")
def test_jax_data_parallel_splits_every_batch_over_two_devices_and_matches_one_device(real_subset, tmp_path):
    env = {**os.environ, **TWO_CPU_DEVICES, "KERAS_BACKEND": "jax"}
    shards = tmp_path / "shards.json"
    two = subprocess.run([sys.executable, RECORD_SHARDS, shards, "--", *recipe(real_subset, tmp_path / "two", "mirrored")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-2000:]
    assert "strategy mirrored (keras.distribution.DataParallel over 2 devices)" in two.stdout
    batches = json.loads(shards.read_text())
    assert len(batches) >= 4                                    # the 4 training batches (and validation's)
    for shards_of_batch in batches[:4]:
        devices = {device for device, _ in shards_of_batch}
        assert len(devices) == 2, shards_of_batch               # two different devices...
        assert [shape for _, shape in shards_of_batch] == [[25, 32, 32, 3]] * 2   # ...half the batch each

    one = subprocess.run([sys.executable, "run.py", *recipe(real_subset, tmp_path / "one", "default")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    assert "strategy default (one device" in one.stdout
    two_dir, one_dir = (os.path.join(d, os.listdir(d)[0]) for d in (tmp_path / "two", tmp_path / "one"))
    histories = [pd.read_csv(os.path.join(d, "history.csv")) for d in (two_dir, one_dir)]
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(histories[0][column], histories[1][column], rtol=2e-3, err_msg=column)
    metrics = [json.load(open(os.path.join(d, "metrics.json"))) for d in (two_dir, one_dir)]
    assert abs(metrics[0]["test_top1"] - metrics[1]["test_top1"]) <= 0.01     # at most 2 of 200 test images


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs TensorFlow")
def test_tensorflow_multiworker_two_workers_finish_and_only_the_chief_writes(real_subset, tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, "run.py", *recipe(real_subset, tmp_path / f"worker{index}", "multiworker")],
            cwd=ROOT, env={**os.environ, "TF_CONFIG": tf_config, "CUDA_VISIBLE_DEVICES": ""},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=400) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, (out[-1500:], err[-3000:])
    assert "strategy multiworker (MultiWorkerMirroredStrategy, 2 replicas)" in outputs[0][0]
    chief_runs = os.listdir(tmp_path / "worker0")
    assert len(chief_runs) == 1
    assert not (tmp_path / "worker1").exists() or os.listdir(tmp_path / "worker1") == []   # the other worker: nothing
    run_dir = tmp_path / "worker0" / chief_runs[0]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    loaded = run_cli("load", run_dir / "best.h5", "--data-dir", real_subset)
    assert loaded.returncode == 0, loaded.stderr[-1500:]
    assert f"test top-1 accuracy: {100 * metrics['test_top1']:.2f}%" in loaded.stdout
