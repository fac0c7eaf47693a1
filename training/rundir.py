"""Run folders and the files written into them, each written atomically.

A file is written to a temporary name beside its target and renamed over it
(os.replace is atomic on POSIX), so a kill never leaves half a JSON or text file.
"""
import json
import os
import time

from errors import SuiteError


def enclosing_run(path):
    """The run folder (a folder with config.json) that is `path` or holds it, else None."""
    path = os.path.abspath(path)
    while True:
        if os.path.isfile(os.path.join(path, "config.json")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def check_output_folder(path, flag="--output-dir"):
    """Refuse an output folder that is a file, or is (or lies inside) an existing run folder.

    Raises:
        SuiteError: one line naming the folder (and `flag`) and what is wrong.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise SuiteError(f"{path}: output folder is a file")
    run = enclosing_run(path)
    if run:
        raise SuiteError(f"{flag} {path}: inside the run folder {run}; a run's folder is never written into "
                         "(choose a folder outside it)")


def new_run_dir(output_dir, name):
    """Create a new, empty run folder `output_dir/<name>-<YYYYmmdd-HHMMSS>[-k]`.

    Never reuses a folder: if the name exists, a suffix -2, -3, ... is added.

    Returns:
        str, the path of the new folder.

    Raises:
        SuiteError: `output_dir` is a file, lies inside a run folder, or cannot be written.
    """
    check_output_folder(output_dir)
    try:
        os.makedirs(output_dir, exist_ok=True)
        base = os.path.join(output_dir, f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
        for k in range(1, 1000):
            path = base if k == 1 else f"{base}-{k}"
            try:
                os.mkdir(path)
                return path
            except FileExistsError:
                continue
    except OSError as exc:            # permission denied, read-only file system, a file in the path...
        raise SuiteError(f"{output_dir}: output folder is not writable ({exc.strerror})") from None
    raise SuiteError(f"{output_dir}: could not create a new run folder for {name}")


def sync_file(path):
    """Flush a closed file's data to disk (so a rename after it never exposes a short file)."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def commit_file(tmp, path):
    """Flush a finished temporary file to disk and rename it over `path` (atomic on POSIX)."""
    sync_file(tmp)
    os.replace(tmp, path)


def temporary_beside(path):
    """`path`.tmp, the temporary name a file is written to, with `path`'s folder made if missing (a
    benchmark's table asked for in a new folder must not fail after hours of training)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return f"{path}.tmp"


def write_text(path, text):
    """Write text to `path` atomically (temporary file, then rename), making its folder if missing."""
    tmp = temporary_beside(path)
    with open(tmp, "w") as f:
        f.write(text)
    commit_file(tmp, path)


def write_csv(path, table):
    """Write a pandas DataFrame as CSV (no index) to `path` atomically, making its folder if missing."""
    tmp = temporary_beside(path)
    table.to_csv(tmp, index=False)
    commit_file(tmp, path)


def write_json(path, obj):
    """Write `obj` as indented JSON to `path` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path):
    """Read a JSON file; raises SuiteError naming the file when it is missing or invalid."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{path}: cannot read ({type(exc).__name__})") from None


def read_metrics(run_dir):
    """A run's metrics.json, checked: {} while the run has none, else a dict whose test_top1 is a number
    in [0, 1], per_class maps class names to numbers and misclassified lists [image index, true class,
    predicted class] triples of whole numbers (classes 0-9).

    Raises:
        SuiteError: the file is unreadable or holds anything else (naming the file and the entry).
    """
    path = os.path.join(run_dir, "metrics.json")
    if not os.path.exists(path):
        return {}
    metrics = read_json(path)

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v

    def bad(entry):
        return SuiteError(f"{path}: not a metrics.json written by run.py train ({entry})")
    if not isinstance(metrics, dict):
        raise bad(f"a {type(metrics).__name__}, not an object")
    if not (number(metrics.get("test_top1")) and 0 <= metrics["test_top1"] <= 1):
        raise bad(f"test_top1 is {metrics.get('test_top1')!r}")
    per_class = metrics.get("per_class")
    if not isinstance(per_class, dict) or not all(number(v) for v in per_class.values()):
        raise bad("per_class must map class names to accuracies")
    wrong = metrics.get("misclassified", [])
    if not isinstance(wrong, list) or not all(
            isinstance(w, list) and len(w) == 3 and all(isinstance(v, int) and v >= 0 for v in w)
            and w[1] < 10 and w[2] < 10 for w in wrong):
        raise bad("misclassified must list [image index, true class, predicted class]")
    return metrics
