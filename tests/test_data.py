"""The CIFAR-10 loader: standard layout, tar.gz, the restricted unpickler, and bad files."""
import io
import os
import pickle

import numpy as np
import pytest

from data.cifar10 import RestrictedUnpickler, load_cifar10, load_local, read_batch, split_validation
from errors import DataError


def test_reads_parent_folder_batch_folder_and_env(synthetic_dir, monkeypatch):
    root, (x_tr, y_tr, x_te, y_te) = synthetic_dir
    for where in (root, root / "cifar-10-batches-py"):
        (x, y), (xt, yt) = load_local(str(where))
        assert x.shape == (50, 32, 32, 3) and x.dtype == np.uint8
        np.testing.assert_array_equal(x, x_tr)
        np.testing.assert_array_equal(y, y_tr)
        np.testing.assert_array_equal(xt, x_te)
        assert y.dtype == np.int64
    monkeypatch.setenv("CIFAR10_DIR", str(root))
    (x, _), _ = load_cifar10()
    np.testing.assert_array_equal(x, x_tr)


def test_reads_tar_gz_file_and_its_folder(synthetic_tar):
    archive, (x_tr, y_tr, x_te, y_te) = synthetic_tar
    for where in (archive, archive.parent):
        (x, y), (xt, yt) = load_local(str(where))
        np.testing.assert_array_equal(x, x_tr)
        np.testing.assert_array_equal(yt, y_te)


def test_channels_are_reordered_to_channels_last(tmp_path):
    data = np.zeros((1, 3072), np.uint8)
    data[0, :1024] = 255                         # the red plane in CIFAR-10's channel-first rows
    x, _ = read_batch(io.BytesIO(pickle.dumps({b"data": data, b"labels": [3]})), "b")
    assert x.shape == (1, 32, 32, 3)
    assert (x[0, :, :, 0] == 255).all() and (x[0, :, :, 1:] == 0).all()


class RunsCode:
    """Pickles into a call of os.system: what a crafted batch file would hold."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_and_runs_no_code(synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    marker = tmp_path / "pwned"
    with open(root / "cifar-10-batches-py" / "data_batch_3", "wb") as f:
        pickle.dump({b"data": RunsCode(marker), b"labels": [0]}, f)
    with pytest.raises(DataError, match=r"data_batch_3: not a valid CIFAR-10 batch \(refused to load global"):
        load_local(str(root))
    assert not marker.exists()


def test_unpickler_allows_numpy_arrays_only():
    arr = np.arange(6, dtype=np.uint8)
    assert (RestrictedUnpickler(io.BytesIO(pickle.dumps(arr))).load() == arr).all()
    with pytest.raises(pickle.UnpicklingError):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(np.random.default_rng(0)))).load()


def _overwrite(root, name, obj=None, raw=None):
    path = root / "cifar-10-batches-py" / name
    with open(path, "wb") as f:
        f.write(raw if raw is not None else pickle.dumps(obj))
    return path


@pytest.mark.parametrize("content, message", [
    ({"raw": b"\x80\x04garbage"}, "truncated or corrupt"),
    ({"obj": [1, 2, 3]}, "not a dict"),
    ({"obj": {b"labels": [0]}}, "no 'data' or 'labels'"),
    ({"obj": {b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}}, "uint8"),
    ({"obj": {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}}, r"shape \(N, 3072\)"),
    ({"obj": {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}}, "expected 2 integer labels"),
    ({"obj": {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}}, "within 0-9"),
])
def test_bad_batch_files_name_the_file(synthetic_dir, content, message):
    root, _ = synthetic_dir
    path = _overwrite(root, "data_batch_2", **content)
    with pytest.raises(DataError, match=message) as info:
        load_local(str(root))
    assert str(path) in str(info.value)


def test_truncated_batch_file(synthetic_dir):
    root, _ = synthetic_dir
    path = root / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="test_batch: truncated or corrupt"):
        load_local(str(root))


def test_missing_folder_file_and_bad_archive(synthetic_dir, tmp_path):
    with pytest.raises(DataError, match="no CIFAR-10 found"):
        load_local(str(tmp_path / "nowhere"))
    root, _ = synthetic_dir
    os.remove(root / "cifar-10-batches-py" / "data_batch_5")
    with pytest.raises(DataError, match="data_batch_5: missing"):
        load_local(str(root))
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"not a tar file")
    with pytest.raises(DataError, match="unreadable archive"):
        load_local(str(bad))


def test_validation_split_is_fixed_disjoint_and_optional():
    x = np.arange(100).reshape(100, 1, 1, 1).astype(np.uint8)
    y = np.arange(100) % 10
    (xa, _), (va, _) = split_validation(x, y, 20, seed=0)
    (xb, _), (vb, _) = split_validation(x, y, 20, seed=0)
    np.testing.assert_array_equal(va, vb)
    assert len(xa) == 80 and len(va) == 20
    assert not set(xa.ravel()) & set(va.ravel())
    assert split_validation(x, y, 0)[1] is None
    with pytest.raises(DataError, match="leaves no training images"):
        split_validation(x, y, 100)


def test_a_key_that_is_not_utf8_is_ignored_and_the_batch_loads():
    batch = {b"\xff\xfe": b"junk", b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]}
    x, y = read_batch(io.BytesIO(pickle.dumps(batch)), "b")
    assert x.shape == (2, 32, 32, 3) and list(y) == [1, 2]


def test_a_batch_file_that_cannot_be_read_is_one_error(synthetic_dir, monkeypatch):
    """Root ignores file modes, so the refused read is simulated where the loader opens the file."""
    import builtins

    from errors import DataError
    root, _ = synthetic_dir
    real_open = builtins.open

    def refusing_open(path, *args, **kwargs):
        if str(path).endswith("data_batch_3"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", refusing_open)
    with pytest.raises(DataError, match=r"data_batch_3: cannot read the batch file \(Permission denied\)"):
        load_local(str(root))
