"""Shipped pretrained models: whole-model .h5 files trained here, each with a model card.

`pretrained/manifest.json` lists them: name -> file, sha256, card and the measured test
top-1 accuracy (written by `python -m pretrained.ship`, from the run's metrics.json).
`resolve(name)` checks the file's sha256 before `run.py load` or `predict` opens it.
"""
import hashlib
import json
import os

from errors import SuiteError

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "manifest.json")
DEFAULT = "fast94"


def shipped():
    """The manifest as a dict: name -> {file, sha256, card, test_top1, ...}; {} when nothing is shipped."""
    if not os.path.isfile(MANIFEST):
        return {}
    with open(MANIFEST) as f:
        return json.load(f)


def sha256(path, chunk=1 << 20):
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(name=None):
    """Path of the shipped model `name` (default: DEFAULT), after checking its sha256.

    Raises:
        SuiteError: no such model is shipped, its file is missing, or its sha256 differs
            from the manifest's (a truncated, corrupt or replaced file).
    """
    name = name or DEFAULT
    models = shipped()
    if name not in models:
        raise SuiteError(f"no pretrained model {name!r}; shipped: {', '.join(sorted(models)) or 'none'}")
    entry = models[name]
    path = os.path.join(HERE, entry["file"])
    if not os.path.isfile(path):
        raise SuiteError(f"{path}: shipped model file is missing")
    actual = sha256(path)
    if actual != entry["sha256"]:
        raise SuiteError(f"{path}: sha256 {actual[:12]}... does not match the manifest's "
                         f"{entry['sha256'][:12]}... (corrupt or replaced file)")
    return path


def entry_for(path):
    """(name, manifest entry) of the shipped model stored at `path`, or (None, None)."""
    for name, entry in shipped().items():
        if os.path.abspath(path) == os.path.join(HERE, entry["file"]):
            return name, entry
    return None, None
