"""Shipped pretrained models: name -> whole-model .h5 file beside this module.

Each entry is a model trained here with `run.py train`, with its model card beside it.
`resolve(name)` gives the path of a shipped model for `run.py load`.
"""
import os

from errors import SuiteError

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = "fast94"
# name -> file name in this folder. Empty until models trained here are shipped.
SHIPPED = {}


def resolve(name=None):
    """Path of the shipped model `name` (default: DEFAULT).

    Raises:
        SuiteError: no such model is shipped (or none at all yet), or its file is missing.
    """
    name = name or DEFAULT
    if not SHIPPED:
        raise SuiteError("no pretrained model is shipped yet; train one with `python run.py train NAME` "
                         "and evaluate it with `python run.py load runs/NAME-.../best.h5`")
    if name not in SHIPPED:
        raise SuiteError(f"no pretrained model {name!r}; shipped: {', '.join(sorted(SHIPPED))}")
    path = os.path.join(HERE, SHIPPED[name])
    if not os.path.isfile(path):
        raise SuiteError(f"{path}: shipped model file is missing")
    return path
