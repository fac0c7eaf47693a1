"""Shared fixtures: synthetic CIFAR-10 batch files, and a small real subset when ../shared exists."""
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest

import run  # noqa: F401  (TensorFlow's environment as the CLI sets it, before anything loads Keras)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREPARE = os.path.join(ROOT, "..", "shared", "data", "prepare_cifar10.py")
AUTO_PRECISION_ENV = "CIFAR10_AUTO_PRECISION"     # as training.hardware (not imported: it loads Keras)


def pytest_addoption(parser):
    parser.addoption("--auto-precision", choices=("float32", "mixed_bfloat16"), default=None,
                     help="make `--precision auto` resolve to this policy on any CPU, in this process and "
                          "the CLI subprocesses (sets $CIFAR10_AUTO_PRECISION)")


def pytest_configure(config):
    # Without --auto-precision (or the variable already set), `auto` resolves to float32 in the tests:
    # many tests train in one process and load or resume in another, and each process would measure
    # the CPU anew (training.hardware.cpu_bf16_speedup). On an Intel Xeon without AMX, where bfloat16
    # measures 0.6x, a busy CI run twice measured 1.2x or more in one of two processes, which then
    # trained in another precision. The probe's own tests stub it; CI runs the precision tests again
    # with --auto-precision mixed_bfloat16.
    forced = config.getoption("--auto-precision") or os.environ.get(AUTO_PRECISION_ENV) or "float32"
    os.environ[AUTO_PRECISION_ENV] = forced
    config.addinivalue_line("markers", "precision: a test whose result depends on the training precision; "
                                       "CI runs these again with --auto-precision mixed_bfloat16")
    config.addinivalue_line("markers", "backends: the whole job on $KERAS_BACKEND; CI runs these on TensorFlow, "
                                       "and on JAX and PyTorch in an environment without TensorFlow")
    config.addinivalue_line("markers", "multidevice: training over two devices or two worker processes")


def pytest_report_header(config):
    return (f"Keras backend: {os.environ.get('KERAS_BACKEND', 'tensorflow')}; --precision auto resolves to: "
            f"{os.environ.get(AUTO_PRECISION_ENV)}")


@pytest.fixture(autouse=True)
def keras_global_state():
    """Every test starts with Keras' float32 policy and default settings, and gets them back afterwards.

    `training.train.prepare` (and a few tests) set the global dtype policy; without this a
    test would see the policy of whichever test ran before it, which depends on the CPU
    (`--precision auto`) and on the order of the tests.
    """
    import keras
    saved = (keras.config.floatx(), keras.config.epsilon(), keras.config.image_data_format())
    keras.mixed_precision.set_dtype_policy("float32")
    yield
    keras.mixed_precision.set_dtype_policy("float32")
    keras.config.set_floatx(saved[0])
    keras.config.set_epsilon(saved[1])
    keras.config.set_image_data_format(saved[2])


def write_batches(folder, n_train=50, n_test=20, seed=0):
    """Write a synthetic dataset in the cifar-10-batches-py layout; returns (x_train, y_train, x_test, y_test).

    Labels cycle through 0-9 and each image's mean brightness encodes its class, so
    a model can learn them.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)

    def make(n):
        y = np.arange(n) % 10
        x = rng.integers(0, 40, size=(n, 32, 32, 3), dtype=np.uint8) + (y * 20).astype(np.uint8)[:, None, None, None]
        return x, y

    def dump(name, x, y):
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1), b"labels": [int(v) for v in y],
                         b"batch_label": name.encode()}, f, protocol=2)

    x_tr, y_tr = make(n_train)
    for i, chunk in enumerate(np.array_split(np.arange(n_train), 5)):
        dump(f"data_batch_{i + 1}", x_tr[chunk], y_tr[chunk])
    x_te, y_te = make(n_test)
    dump("test_batch", x_te, y_te)
    return x_tr, y_tr, x_te, y_te


@pytest.fixture
def synthetic_dir(tmp_path):
    """A folder holding cifar-10-batches-py/ with 50 training and 20 test synthetic images."""
    arrays = write_batches(tmp_path / "cifar" / "cifar-10-batches-py")
    return tmp_path / "cifar", arrays


@pytest.fixture
def synthetic_tar(tmp_path):
    """A cifar-10-python.tar.gz holding the synthetic batches."""
    arrays = write_batches(tmp_path / "src" / "cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive, arrays


@pytest.fixture(scope="session")
def real_subset(tmp_path_factory):
    """A small real CIFAR-10 subset (30 train / 20 test images a class) from ../shared, else skip.

    CI writes one first and names it in CIFAR10_SUBSET_DIR; otherwise it is written here.
    """
    given = os.environ.get("CIFAR10_SUBSET_DIR")
    if given and os.path.isdir(given):
        return given
    return prepare_real(tmp_path_factory, per_class_train=30, per_class_test=20)


def prepare_real(tmp_path_factory, per_class_train, per_class_test):
    """Write real CIFAR-10 images from ../shared (N training, M test images a class); skip without it."""
    if not os.path.isfile(PREPARE):
        pytest.skip("../shared/data is absent: no real CIFAR-10 images")
    out = tmp_path_factory.mktemp("cifar-real")
    subprocess.run([sys.executable, PREPARE, str(out), "--per-class-train", str(per_class_train),
                    "--per-class-test", str(per_class_test)], check=True, capture_output=True)
    return str(out)


def run_cli(*args, env=None, timeout=300):
    """Run `python run.py ARGS` in a subprocess; returns CompletedProcess with text output."""
    return subprocess.run([sys.executable, os.path.join(ROOT, "run.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
