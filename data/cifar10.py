"""Load CIFAR-10 as uint8 arrays from a local copy, safely, or download it with Keras.

Images come back as uint8 arrays of shape (N, 32, 32, 3) (RGB, channels last) and
labels as int64 arrays of shape (N,) with values 0-9. Scaling to [0, 1] is done
inside each model, so saved models predict on raw pixels.
"""
import io
import os
import pickle
import tarfile

import numpy as np

from errors import DataError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")
BATCH_FOLDER = "cifar-10-batches-py"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside RestrictedUnpickler.ALLOWED."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds plain containers and numpy arrays.

    The CIFAR-10 batches are pickles, and a pickle can run any code it names.
    The standard library has no safe loader for pickled numpy arrays, so this one
    allows exactly the globals numpy needs to rebuild an array (the pattern the
    Python docs give under "Restricting Globals") and refuses everything else.

    Raises:
        RefusedGlobal: the pickle names any other global.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),      # how Python 3 writes bytes in protocol 0-2 pickles
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise RefusedGlobal(f"refused to load global {module}.{name}")


def read_batch(fileobj, name):
    """Read one CIFAR-10 batch pickle.

    Args:
        fileobj: a binary file object holding the pickle.
        name: the file's name, used in error messages.

    Returns:
        (x, y): uint8 array (N, 32, 32, 3) and int64 array (N,).

    Raises:
        DataError: the file is truncated, corrupt, refused by the restricted
            unpickler, or holds the wrong keys, shapes, dtype or labels.
    """
    try:
        batch = RestrictedUnpickler(fileobj, encoding="bytes").load()
    except RefusedGlobal as exc:
        raise DataError(f"{name}: not a valid CIFAR-10 batch ({exc})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError) as exc:
        raise DataError(f"{name}: truncated or corrupt batch file ({exc or type(exc).__name__})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{name}: not a valid CIFAR-10 batch (a {type(batch).__name__}, not a dict)")
    batch = {k.decode("utf-8", "replace") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{name}: not a valid CIFAR-10 batch (no 'data' or 'labels' entry)")
    data = batch["data"]
    try:
        labels = np.asarray(batch["labels"])
    except ValueError:                          # a ragged list
        raise DataError(f"{name}: 'labels' must be a flat list of integers") from None
    if labels.ndim == 1 and labels.size == 0:
        labels = labels.astype(np.int64)           # [] comes back as float64
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        raise DataError(f"{name}: 'data' must be a uint8 array, got {getattr(data, 'dtype', type(data).__name__)}")
    if data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{name}: 'data' must have shape (N, 3072), got {data.shape}")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{name}: expected {data.shape[0]} integer labels, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{name}: labels must be within 0-9, got {labels.min()}..{labels.max()}")
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), labels.astype(np.int64)


def _read_folder(folder):
    def read(fname):
        path = os.path.join(folder, fname)
        if not os.path.isfile(path):
            raise DataError(f"{path}: missing CIFAR-10 batch file")
        try:
            with open(path, "rb") as f:
                return read_batch(f, path)
        except OSError as exc:                   # no read permission, an I/O error
            raise DataError(f"{path}: cannot read the batch file ({exc.strerror or exc})") from None
    return [read(f) for f in TRAIN_FILES], read(TEST_FILE)


def _read_archive(path):
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}

            def read(fname):
                if fname not in members:
                    raise DataError(f"{path}: archive has no {BATCH_FOLDER}/{fname}")
                data = tar.extractfile(members[fname]).read()
                return read_batch(io.BytesIO(data), f"{path}:{fname}")
            return [read(f) for f in TRAIN_FILES], read(TEST_FILE)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{path}: unreadable archive ({exc})") from None


def load_local(data_dir):
    """Load CIFAR-10 from a local copy.

    Args:
        data_dir: a folder holding `cifar-10-batches-py/` or `cifar-10-python.tar.gz`,
            the `cifar-10-batches-py` folder itself, or the tar.gz file.

    Returns:
        ((x_train, y_train), (x_test, y_test)): uint8 (50000, 32, 32, 3) and int64
        (50000,) for the full release; fewer images for a subset.

    Raises:
        DataError: nothing usable at `data_dir`, a file in it is corrupt, or the training or
            test batches hold no images.
    """
    data_dir = os.path.expanduser(str(data_dir))
    candidates = [data_dir, os.path.join(data_dir, BATCH_FOLDER)]
    for folder in candidates:
        if os.path.isdir(folder) and os.path.exists(os.path.join(folder, TEST_FILE)):
            train, test = _read_folder(folder)
            break
    else:
        archive = os.path.join(data_dir, ARCHIVE_NAME) if os.path.isdir(data_dir) else data_dir
        if not os.path.isfile(archive):
            raise DataError(f"{data_dir}: no CIFAR-10 found (expected {BATCH_FOLDER}/ or {ARCHIVE_NAME})")
        train, test = _read_archive(archive)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    for split, images in (("training", x_train), ("test", test[0])):
        if not len(images):
            raise DataError(f"{data_dir}: the {split} batches hold no images")
    return (x_train, y_train), test


def load_cifar10(data_dir=None):
    """Load CIFAR-10 from `data_dir`, else `$CIFAR10_DIR`, else Keras' download.

    Returns:
        ((x_train, y_train), (x_test, y_test)) as in `load_local`.

    Raises:
        DataError: the local copy is missing or corrupt, or the download fails.
    """
    data_dir = data_dir or os.environ.get("CIFAR10_DIR")
    if data_dir:
        return load_local(data_dir)
    import keras
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:  # the download raises several kinds of network errors
        raise DataError(f"could not download CIFAR-10 ({type(exc).__name__}); "
                        "pass --data-dir or set CIFAR10_DIR to a local copy") from None
    return (x_train, y_train.reshape(-1).astype(np.int64)), (x_test, y_test.reshape(-1).astype(np.int64))


def split_validation(x, y, size=5000, seed=0):
    """Carve a validation split off the training data with a fixed seed.

    Args:
        x, y: training images (N, 32, 32, 3) and labels (N,).
        size: number of validation images; 0 returns no validation split.
        seed: seed of the permutation, so every run holds out the same images.

    Returns:
        ((x_train, y_train), (x_val, y_val)); the validation pair is None when size is 0.

    Raises:
        DataError: `size` leaves no training images.
    """
    if size <= 0:
        return (x, y), None
    if size >= len(x):
        raise DataError(f"--val-split {size} leaves no training images (only {len(x)} available)")
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:size], order[size:]
    return (x[train], y[train]), (x[val], y[val])
