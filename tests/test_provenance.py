"""Which data a run used: sha256 of the arrays in config.json and metrics.json, its short form in reports."""
import json
import os

import numpy as np
import pytest

from conftest import PREPARE
from data.provenance import KNOWN_COPIES, array_sha256, data_provenance, describe_copy, short_provenance
from experiments import get_experiment
from reporting import report_table
from training.train import RunOptions, train


def test_record_names_the_folder_and_hashes_the_arrays_as_loaded(synthetic_dir):
    root, (x_tr, y_tr, x_te, y_te) = synthetic_dir
    record = data_provenance((x_tr, y_tr), (x_te, y_te), str(root))
    assert record["data_dir"] == os.path.abspath(root) and record["copy"] == "unknown"
    assert (record["train_images"], record["test_images"]) == (50, 20)
    assert record["x_train_sha256"] == array_sha256(x_tr)
    changed = x_tr.copy()
    changed[0, 0, 0, 0] ^= 1                                              # one bit of one pixel
    assert data_provenance((changed, y_tr), (x_te, y_te))["x_train_sha256"] != record["x_train_sha256"]
    assert data_provenance((x_tr, y_tr), (x_te, y_te))["data_dir"] == "keras download"
    assert short_provenance(record) == f"unknown 50/20 {record['x_train_sha256'][:8]}"
    assert short_provenance(None) == "?"
    assert "unrecognised copy" in describe_copy(record) and record["x_test_sha256"] in describe_copy(record)


def test_labels_hash_as_uint8_like_the_shared_sums():
    y = np.array([3, 1, 4, 1, 5], np.int64)
    assert array_sha256(y) == array_sha256(y.astype(np.uint8))


def test_known_copy_is_the_shared_lossless_data():
    sums_file = os.path.join(os.path.dirname(PREPARE), "cifar10", "SHA256SUMS")
    if not os.path.isfile(sums_file):
        pytest.skip("../shared/data is absent")
    sums = dict(line.split()[::-1] for line in open(sums_file) if line.strip())
    assert KNOWN_COPIES[(sums["x_train"], sums["x_test"])] == "lossless"


def test_a_run_records_its_data_and_the_report_shows_it(synthetic_dir, tmp_path):
    root, (x_tr, y_tr, x_te, y_te) = synthetic_dir
    run_dir, metrics = train(get_experiment("tutorial_cnn").with_overrides(epochs=1, batch_size=10),
                             RunOptions(data_dir=str(root), val_split=10, output_dir=str(tmp_path), verbose=0))
    config = json.load(open(os.path.join(run_dir, "config.json")))
    expected = data_provenance((x_tr, y_tr), (x_te, y_te), str(root))
    assert config["data"] == expected and metrics["data"] == expected
    assert json.load(open(os.path.join(run_dir, "metrics.json")))["data"] == expected
    assert report_table([run_dir]).iloc[0]["data"] == short_provenance(expected)
