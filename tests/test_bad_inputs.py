"""The bad-input matrix (docs/bad_inputs.md): every case gets one line on stderr, a non-zero
exit status, no traceback, and leaves every file that existed as it was.

`python tests/test_bad_inputs.py` prints the matrix with the messages observed now, as
the Markdown table in docs/bad_inputs.md.
"""
import dataclasses
import hashlib
import os
import pickle
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import run  # noqa: E402
from conftest import ROOT, write_batches  # noqa: E402

BATCH = "data/cifar-10-batches-py/data_batch_4"
T = ["--data-dir", "{data}", "--val-split", "10", "--output-dir", "{out}"]   # train's usual data options


# (id, what, argv, the message's expected text); {placeholders} are paths in the sandbox.
CASES = [
    ("unknown-model", "unknown model", ["train", "lenet5", "--model", "resnet9000", *T], "unknown model 'resnet9000'"),
    ("unknown-experiment", "unknown experiment", ["train", "resnet9000", *T], "unknown experiment 'resnet9000'"),
    ("unknown-tuner", "unknown tuner", ["tune", "pyramid", "--tuner", "grid", "--data-dir", "{data}"],
     "unknown tuner 'grid'"),
    ("unknown-command", "unknown command", ["fit", "lenet5"], "invalid choice: 'fit'"),
    ("epochs-text", "non-numeric epochs", ["train", "lenet5", "--epochs", "ten", *T], "--epochs: expected a number"),
    ("epochs-negative", "negative epochs", ["train", "lenet5", "--epochs", "-3", *T], "--epochs: must be > 0"),
    ("epochs-zero", "zero epochs", ["train", "lenet5", "--epochs", "0", *T], "--epochs: must be > 0"),
    ("batch-text", "non-numeric batch size", ["train", "lenet5", "--batch-size", "big", *T],
     "--batch-size: expected a number"),
    ("batch-negative", "negative batch size", ["train", "lenet5", "--batch-size", "-8", *T], "--batch-size: must be > 0"),
    ("batch-zero", "zero batch size", ["train", "lenet5", "--batch-size", "0", *T], "--batch-size: must be > 0"),
    ("lr-text", "non-numeric learning rate", ["train", "lenet5", "--lr", "fast", *T], "--lr: expected a number"),
    ("lr-negative", "negative learning rate", ["train", "lenet5", "--lr", "-0.1", *T], "--lr: must be > 0"),
    ("lr-zero", "zero learning rate", ["train", "lenet5", "--lr", "0", *T], "--lr: must be > 0"),
    ("lr-nan", "NaN learning rate", ["train", "lenet5", "--lr", "nan", *T], "--lr: must be > 0"),
    ("unknown-precision", "unknown precision", ["train", "lenet5", "--precision", "fp8", *T], "unknown precision 'fp8'"),
    ("unknown-optimizer", "unknown optimizer", ["train", "lenet5", "--optimizer", "lbfgs", *T],
     "unknown optimizer 'lbfgs'"),
    ("unknown-schedule", "unknown schedule", ["train", "lenet5", "--schedule", "warp", *T], "unknown schedule 'warp'"),
    ("unknown-engine", "unknown augmentation engine", ["train", "lenet5", "--augment-engine", "opencv", *T],
     "unknown augment engine 'opencv'"),
    ("unknown-strategy", "unknown distribution strategy", ["train", "lenet5", "--strategy", "tpu", *T],
     "unknown strategy 'tpu'"),
    ("augment-format", "--augment without key=value", ["train", "lenet5", "--augment", "rotation_range", *T],
     "expected key=value"),
    ("trials-zero", "zero trials", ["tune", "pyramid", "--max-trials", "0"], "--max-trials: must be > 0"),
    ("batch-too-large", "batch size larger than the data", ["train", "lenet5", "--batch-size", "64", *T],
     "batch size 64 is larger than the 40 training images"),
    ("val-split-too-large", "validation split as large as the data", ["train", "lenet5", "--data-dir", "{data}",
     "--val-split", "50", "--output-dir", "{out}"], "--val-split 50 leaves no training images"),
    ("bad-augment-key", "unknown augmentation parameter", ["train", "lenet5", "--augment", "spin=10", *T],
     "unknown augmentation parameter 'spin'"),
    ("augment-nan", "NaN augmentation value", ["train", "lenet5", "--augment", "rotation_range=NaN", *T],
     "--augment rotation_range: nan is not allowed; it must be a finite number in [0, 180]"),
    ("augment-infinity", "infinite augmentation value", ["train", "lenet5", "--augment", "rotation_range=Infinity", *T],
     "--augment rotation_range: inf is not allowed"),
    ("zoom-idg", "zoom out of range, ImageDataGenerator engine", ["train", "lenet5", "--augment-engine",
     "imagedatagenerator", "--augment", "zoom_range=5", *T], "--augment zoom_range: 5 is not allowed"),
    ("zoom-layers", "zoom out of range, layers engine", ["train", "lenet5", "--augment", "zoom_range=5", *T],
     "--augment zoom_range: 5 is not allowed"),
    ("shift-whole-image", "shift of more than the image", ["train", "lenet5", "--augment", "width_shift_range=40", *T],
     "--augment width_shift_range: 40 is not allowed; it must be a finite number in [0, 32)"),
    ("lr-infinite", "infinite learning rate", ["train", "lenet5", "--lr", "inf", *T], "--lr: inf is not allowed"),
    ("lr-huge", "learning rate no optimizer survives", ["train", "lenet5", "--lr", "1e308", *T],
     "--lr: 1e+308 is not allowed; it must be a finite number in (0, 10]"),
    ("schedule-negative-lr", "schedule arguments that make the learning rate negative", ["train", "lenet5",
     "--schedule", "warmup_linear", "--schedule-args", "start=-5,end=-5", *T],
     "--schedule-args start (schedule warmup_linear): -5 is not allowed; it must be a finite number in (0, 1]"),
    ("schedule-negative-decay", "negative time decay", ["train", "lenet5", "--schedule", "time_decay",
     "--schedule-args", "decay=-0.25", *T], "--schedule-args decay (schedule time_decay): -0.25 is not allowed"),
    ("schedule-text-patience", "non-numeric plateau patience", ["train", "lenet5", "--schedule", "plateau",
     "--schedule-args", "patience=abc", "--epochs", "6", *T],
     "--schedule-args patience (schedule plateau): 'abc' is not allowed; it must be a whole number in [0, 1000]"),
    ("optimizer-args", "an optimizer argument out of range", ["train", "fast94_muon", "--optimizer-args",
     "muon_momentum=1", *T], "--optimizer-args muon_momentum (optimizer muon): 1 is not allowed; it must be a finite "
     "number in (0, 1)"),
    ("optimizer-args-other", "another optimizer's argument", ["train", "lenet5", "--optimizer-args", "muon_lr=0.1",
     *T], "--optimizer-args muon_lr (optimizer sgd): unknown; choose from: none"),
    ("bad-hp", "model hyperparameter the builder lacks", ["train", "lenet5", "--hp", "depth=3", "--batch-size", "8", *T],
     "model lenet5 takes no argument 'depth'"),
    ("hp-classes", "--hp reaching create_model's classes", ["train", "lenet5", "--hp", "classes=100", *T],
     "--hp classes: not a hyperparameter of the architecture"),
    ("hp-weights", "--hp reaching create_model's weights", ["train", "lenet5", "--hp", "weights=/etc/passwd", *T],
     "--hp weights: not a hyperparameter of the architecture"),
    ("hp-nan", "NaN model hyperparameter", ["train", "lenet5", "--hp", "dropout=NaN", "--batch-size", "8", *T],
     "--hp dropout: nan is not allowed; it must be a finite number"),
    ("hp-out-of-range", "model hyperparameter out of its declared range", ["train", "lenet5", "--hp", "dropout=2",
     "--batch-size", "8", *T], "--hp dropout: 2 is not allowed; it must be a finite number in [0, 1)"),
    ("hp-keras-refuses", "hyperparameter a Keras layer refuses", ["train", "fast94", "--hp", "activation=wiggly",
     "--batch-size", "8", *T], "model fast94: hyperparameters {'activation': 'wiggly'} refused by its builder or a "
                               "Keras layer"),
    ("data-missing", "missing data folder", ["train", "lenet5", "--data-dir", "{sandbox}/nowhere",
     "--output-dir", "{out}"], "no CIFAR-10 found"),
    ("batch-truncated", "batch file truncated", ["train", "lenet5", *T], "data_batch_4: truncated or corrupt"),
    ("batch-corrupt", "batch file of bytes that are no pickle", ["train", "lenet5", *T], "data_batch_4: truncated or corrupt"),
    ("batch-shape", "batch with the wrong image shape", ["train", "lenet5", *T],
     "data_batch_4: 'data' must have shape (N, 3072), got (10, 1000)"),
    ("batch-dtype", "batch with float pixels", ["train", "lenet5", *T], "data_batch_4: 'data' must be a uint8 array, got float32"),
    ("batch-labels", "labels out of range", ["train", "lenet5", *T], "data_batch_4: labels must be within 0-9, got 0..10"),
    ("batch-ragged-labels", "ragged label list", ["train", "lenet5", *T],
     "data_batch_4: 'labels' must be a flat list of integers"),
    ("test-batch-empty", "test batch with no images", ["train", "lenet5", *T], "the test batches hold no images"),
    ("batch-pickle-code", "crafted pickle that would run code", ["train", "lenet5", *T],
     "data_batch_4: not a valid CIFAR-10 batch (refused to load global posix.system)"),
    ("h5-truncated", "truncated .h5", ["load", "{models}/truncated.h5", "--data-dir", "{data}"], "cannot load model"),
    ("h5-not-hdf5", "an .h5 that is not HDF5", ["load", "{models}/text.h5", "--data-dir", "{data}"],
     "not an HDF5 file"),
    ("h5-lambda", "an .h5 with a Lambda layer (safe_mode)", ["load", "{models}/lambda.h5", "--data-dir", "{data}"],
     "Lambda"),
    ("h5-missing", "a model file that does not exist", ["load", "{models}/missing.h5", "--data-dir", "{data}"],
     "no such model file"),
    ("model-input-shape", "model input not 32x32x3", ["load", "{models}/input28.h5", "--data-dir", "{data}"],
     "CIFAR-10 needs (None, 32, 32, 3) to (None, 10)"),
    ("model-output-shape", "model output not 10 classes", ["load", "{models}/out100.h5", "--data-dir", "{data}"],
     "CIFAR-10 needs (None, 32, 32, 3) to (None, 10)"),
    ("pretrained-missing", "a pretrained name that is not shipped", ["load", "resnet9000"], "pretrained model"),
    ("image-empty", "empty image file", ["predict", "{models}/good.h5", "{images}/empty.png"],
     "empty.png: not an image Pillow can read"),
    ("image-not-image", "a text file named .jpg", ["predict", "{models}/good.h5", "{images}/notes.jpg"],
     "notes.jpg: not an image Pillow can read"),
    ("image-huge", "an image of 64 million pixels", ["predict", "{models}/good.h5", "{images}/huge.png"],
     "huge.png: image too large"),
    ("image-missing", "an image file that does not exist", ["predict", "{models}/good.h5", "{images}/gone.png"],
     "gone.png: no such file"),
    ("out-read-only", "output folder not writable", ["train", "lenet5", "--epochs", "1", "--batch-size", "8",
     "--data-dir", "{data}", "--val-split", "10", "--output-dir", "{readonly}/runs"], "output folder is not writable"),
    ("out-in-run", "output folder inside a run folder", ["train", "lenet5", "--batch-size", "8", "--data-dir",
     "{data}", "--val-split", "10", "--output-dir", "{run}"], "inside the run folder"),
    ("report-out-in-run", "report written into a run folder", ["report", "{run}", "--out", "{run}/report"],
     "/finished/report: inside the run folder"),
    ("readme-schedule-args", "the README's own --schedule-args, with a bad factor", ["train", "lenet5",
     "--schedule", "step", "--schedule-args", "drop_epochs=[10,20],factor=2", *T],
     "--schedule-args factor (schedule step): 2 is not allowed; it must be a finite number in (0, 1]"),
    ("report-metrics-list", "report over a metrics.json that is a list", ["report", "{run}", "--out", "{sandbox}/r"],
     "metrics.json: not a metrics.json written by run.py train (a list, not an object)"),
    ("report-metrics-no-per-class", "report over a metrics.json without per_class",
     ["report", "{run}", "--out", "{sandbox}/r"], "(per_class must map class names to accuracies)"),
    ("report-metrics-text-top1", "report over a metrics.json whose test_top1 is text",
     ["report", "{run}", "--out", "{sandbox}/r"], "(test_top1 is 'high')"),
    ("report-metrics-bad-misclassified", "report over a metrics.json with a malformed misclassified list",
     ["report", "{run}", "--out", "{sandbox}/r"], "(misclassified must list [image index, true class, predicted"),
    ("report-out-is-file", "report --out naming a file", ["report", "{run}", "--out", "{sandbox}/keep.txt"],
     "keep.txt: output folder is a file"),
    ("predict-fifo", "a named pipe given as an image (it would block a reader)",
     ["predict", "{models}/good.h5", "{sandbox}/fifo.png"], "fifo.png: not a regular file"),
    ("tune-out-is-file", "tune --output-dir naming a file", ["tune", "pyramid", "--data-dir", "{data}",
     "--output-dir", "{sandbox}/keep.txt"], "keep.txt: output folder is a file"),
    ("oracle-port-text", "KERASTUNER_ORACLE_PORT that is no number", ["env:KERASTUNER_ORACLE_PORT=abc", "tune",
     "pyramid", "--data-dir", "{data}", "--output-dir", "{out}"], "KERASTUNER_ORACLE_PORT='abc' is not a port number"),
    ("worker-without-chief", "a sweep worker whose chief never starts", ["env:KERASTUNER_TUNER_ID=tuner0",
     "env:KERASTUNER_ORACLE_IP=127.0.0.1", "env:KERASTUNER_ORACLE_PORT=9", "tune", "tutorial_cnn", "--data-dir",
     "{data}", "--val-split", "10", "--output-dir", "{out}", "--chief-timeout", "1"],
     "no chief answered at 127.0.0.1:9 within 1 s"),
    ("matmul-gradient-text", "CIFAR10_MATMUL_KERNEL_GRADIENT neither 0, 1 nor auto",
     ["env:CIFAR10_MATMUL_KERNEL_GRADIENT=yes", "train", "fast94_muon", "--batch-size", "8", *T], "CIFAR10_MATMUL_KERNEL_GRADIENT='yes'"),
    ("backend-unknown", "KERAS_BACKEND naming no backend", ["env:KERAS_BACKEND=mxnet", "list"],
     "KERAS_BACKEND='mxnet': choose one of"),
    ("tf-config-index", "TF_CONFIG whose task index is outside its worker list",
     ['env:TF_CONFIG={"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}',
      "train", "lenet5", "--strategy", "multiworker", "--batch-size", "8", *T], 'TF_CONFIG task must be'),
    ("out-is-file", "output folder is a file", ["train", "lenet5", "--batch-size", "8", "--data-dir", "{data}",
     "--val-split", "10", "--output-dir", "{sandbox}/keep.txt"], "output folder is a file"),
    ("resume-not-run", "--resume of a folder that is not a run", ["train", "--resume", "{sandbox}"],
     "not a run folder (no config.json)"),
    ("resume-finished", "--resume of a finished run", ["train", "--resume", "{run}", "--data-dir", "{data}"],
     "this run already finished"),
    ("resume-override", "--resume with a recipe change", ["train", "--resume", "{run}", "--epochs", "9"],
     "--resume continues a run with its own recipe and options; drop --epochs"),
    ("resume-bad-config", "--resume of a run whose config.json is corrupt", ["train", "--resume", "{badrun}"],
     "config.json: cannot read"),
    ("evaluate-not-run", "evaluate a folder that is not a run", ["evaluate", "{sandbox}"], "not a run folder"),
    ("report-nothing", "report of a glob matching no run", ["report", "{sandbox}/no-such-*"], "no run folders"),
]


class Evil:
    def __reduce__(self):
        return os.system, ("touch EVIL_RAN",)


def corrupt(path, case):
    """Damage data_batch_4 (10 images) the way the case says."""
    import numpy as np
    good = {b"data": np.zeros((10, 3072), np.uint8), b"labels": [0] * 10}
    damage = {
        "batch-truncated": lambda: path.write_bytes(path.read_bytes()[:777]),
        "batch-corrupt": lambda: path.write_bytes(bytes(range(200, 256)) * 70),   # not a pickle opcode
        "batch-shape": lambda: path.write_bytes(pickle.dumps({**good, b"data": np.zeros((10, 1000), np.uint8)})),
        "batch-dtype": lambda: path.write_bytes(pickle.dumps({**good, b"data": np.zeros((10, 3072), np.float32)})),
        "batch-labels": lambda: path.write_bytes(pickle.dumps({**good, b"labels": [0] * 9 + [10]})),
        "batch-pickle-code": lambda: path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0] * 10})),
        "batch-ragged-labels": lambda: path.write_bytes(pickle.dumps({**good, b"labels": [[0, 1]] + [[0]] * 9})),
        "test-batch-empty": lambda: path.with_name("test_batch").write_bytes(
            pickle.dumps({b"data": np.zeros((0, 3072), np.uint8), b"labels": []})),
    }
    if case in damage:
        damage[case]()


def make_models(folder):
    """Model files: good, truncated, not HDF5, with a Lambda layer, with non-CIFAR input or output shapes."""
    import keras

    from models import create_model
    folder.mkdir(exist_ok=True)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Lambda(lambda t: t * 2)(inputs))
    keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x)).save(folder / "lambda.h5")
    create_model("tutorial_cnn").save(folder / "good.h5")
    (folder / "truncated.h5").write_bytes((folder / "good.h5").read_bytes()[:4000])
    (folder / "text.h5").write_text("not a model")
    create_model("tutorial_cnn", input_shape=(28, 28, 3)).save(folder / "input28.h5")
    create_model("tutorial_cnn", classes=100).save(folder / "out100.h5")
    return folder


def make_images(folder):
    """An empty .png, a text file named .jpg, and a 64-megapixel PNG."""
    from PIL import Image
    folder.mkdir(exist_ok=True)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("shopping list")
    Image.new("L", (8000, 8000)).save(folder / "huge.png")
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return make_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("images"))


# metrics.json of the finished run, per case (the report reads it)
GOOD_METRICS = '"test_top1": 0.5, "per_class": {"cat": 0.5}'
BROKEN_METRICS = {
    "report-metrics-list": "[]",
    "report-metrics-no-per-class": '{"test_top1": 0.5}',
    "report-metrics-text-top1": '{"test_top1": "high", "per_class": {"cat": 0.5}}',
    "report-metrics-bad-misclassified": '{' + GOOD_METRICS + ', "misclassified": [[1, 2]]}',
}


def make_run(folder, **broken):
    """A finished run folder as `train` leaves it (config.json and metrics.json)."""
    from experiments import get_experiment
    from training.train import RunOptions
    os.makedirs(folder)
    config = {"experiment": get_experiment("lenet5").to_dict(), "options": dataclasses.asdict(RunOptions())}
    (folder / "config.json").write_text("{broken" if broken else __import__("json").dumps(config))
    (folder / "metrics.json").write_text("{}")


def snapshot(*folders):
    """{path: sha256} of every file under the folders ({path: kind} for a pipe or a link, never opened)."""
    out = {}
    for folder in folders:
        for dirpath, dirs, files in os.walk(folder):
            for name in files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    out[path] = "link" if os.path.islink(path) else "special"
                else:
                    out[path] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


def read_only_folder(sandbox):
    """A folder this process cannot create anything in (root ignores modes: then a sysfs path)."""
    folder = sandbox / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").mkdir()
    except OSError:
        return str(folder)
    (folder / "probe").rmdir()
    if _mkdir_fails("/sys/suite-probe"):
        return "/sys"
    pytest.skip("no folder here refuses writes to this user")


def _mkdir_fails(path):
    try:
        os.mkdir(path)
    except OSError:
        return True
    os.rmdir(path)
    return False


def sandbox(tmp_path, case, argv, models, images):
    """Synthetic data (damaged as the case says), a file to keep, a finished and a broken run; returns argv filled in."""
    write_batches(tmp_path / "data" / "cifar-10-batches-py")
    corrupt(tmp_path / BATCH, case)
    (tmp_path / "keep.txt").write_text("keep me")
    make_run(tmp_path / "finished")
    if case in BROKEN_METRICS:
        (tmp_path / "finished" / "metrics.json").write_text(BROKEN_METRICS[case])
    make_run(tmp_path / "broken", config="corrupt")
    paths = {"data": tmp_path / "data", "out": tmp_path / "runs", "sandbox": tmp_path, "models": models,
             "images": images, "run": tmp_path / "finished", "badrun": tmp_path / "broken"}
    if "{readonly}" in " ".join(argv):
        paths["readonly"] = read_only_folder(tmp_path)
    if case == "predict-fifo":
        os.mkfifo(tmp_path / "fifo.png")
    return [a if a.startswith("env:") else a.format(**paths) for a in argv]


def split_env(argv):
    """(environment variables, argv): leading 'env:KEY=VALUE' items of a case set variables."""
    env = dict(a[4:].split("=", 1) for a in argv if a.startswith("env:"))
    return env, [a for a in argv if not a.startswith("env:")]


@pytest.mark.parametrize("case, what, argv, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line_and_destroys_nothing(case, what, argv, message, tmp_path, models, images,
                                                      monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    env, argv = split_env(sandbox(tmp_path, case, argv, models, images))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    before = snapshot(tmp_path, models, images)
    status, lines = run_case(argv, capsys.readouterr)
    assert status != 0 and len(lines) == 1, lines
    assert message in lines[0] and "Traceback" not in lines[0]
    assert snapshot(tmp_path, models, images) == before              # nothing changed, removed or added
    assert not (tmp_path / "EVIL_RAN").exists()


def run_case(argv, read_output):
    """(exit status, stderr lines) of run.main(argv) in this process; read_output() returns (out, err)."""
    try:
        status = run.main(argv)
    except SystemExit as exc:                    # argparse's own errors
        status = exc.code
    return status, read_output()[1].strip().splitlines()


def test_the_documented_matrix_lists_every_case():
    doc = open(os.path.join(ROOT, "docs", "bad_inputs.md")).read()
    assert len(CASES) >= 30
    assert [c for c, *_ in CASES if f"| {c} |" not in doc] == []


def print_matrix():
    """Run every case in a temporary folder and print the Markdown table of docs/bad_inputs.md."""
    import contextlib
    import io
    import pathlib
    import tempfile
    print("| id | bad input | command | exit | what it prints on stderr |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        models, images = make_models(tmp / "m"), make_images(tmp / "i")
        for case, what, argv, _ in CASES:
            box = tmp / case
            box.mkdir()
            os.chdir(box)
            err = io.StringIO()
            env, filled = split_env(sandbox(box, case, argv, models, images))
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                status, lines = run_case(filled, lambda: ("", err.getvalue()))
            for key, value in saved.items():
                os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
            env_shown = " ".join(a[4:] for a in argv if a.startswith("env:"))
            shown = " ".join(a for a in argv if not a.startswith("env:")).replace("|", "\\|")
            message = " / ".join(lines).replace(str(box), "…").replace(str(tmp), "…").replace("|", "\\|")
            prefix = f"{env_shown} ".replace("|", "\\|") if env_shown else ""
            print(f"| {case} | {what} | `{prefix}run.py {shown}` | {status} | {message} |")


if __name__ == "__main__":
    print_matrix()
