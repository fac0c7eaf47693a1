"""Search spaces of the experiments, as data, and how a point of the space changes a recipe.

A space maps a name to a spec. Names: an Experiment field ("lr", "batch_size",
"weight_decay", "label_smoothing", "schedule"), "hp.<arg>" for a model builder's
keyword argument (e.g. "hp.dropout", "hp.width_multiplier"), or "augment.shift" /
"augment.<ImageDataGenerator key>" for augmentation strengths ("shift" sets the
width and height shifts together). Specs:
    ("log", low, high)      a float drawn on a log scale
    ("float", low, high)    a float drawn uniformly
    ("int", low, high)      an integer, both ends included
    ("choice", [values])    one of the values (numbers, strings or booleans)
keras-tuner turns them into hyperparameters in tuning/hypermodel.py.
"""
from errors import SuiteError

SPEC_KINDS = ("log", "float", "int", "choice")


def default_space(exp):
    """The dimensions every experiment is searched over, around its recipe.

    Learning rate from a tenth to three times the recipe's (log scale), batch size,
    weight decay, schedule and shift augmentation.
    """
    return {
        "lr": ("log", exp.lr / 10, exp.lr * 3),
        "batch_size": ("choice", [64, 128, 256]),
        "weight_decay": ("choice", [0.0, 1e-4, 5e-4]),
        "schedule": ("choice", sorted({exp.schedule, "cosine", "onecycle"})),
        "augment.shift": ("choice", [0.0, 0.1, 0.15]),
    }


def search_space(exp):
    """The experiment's whole space: default_space(exp) updated with exp.search_space.

    Raises:
        SuiteError: a spec of an unknown kind or a malformed one.
    """
    space = {**default_space(exp), **exp.search_space}
    for name, spec in space.items():
        if not isinstance(spec, (tuple, list)) or not spec or spec[0] not in SPEC_KINDS or \
                len(spec) != (2 if spec[0] == "choice" else 3):
            raise SuiteError(f"search space of {exp.name}: bad spec for {name!r}: {spec!r}; "
                             f"use (kind, low, high) or ('choice', [values]), kind one of {', '.join(SPEC_KINDS)}")
    return space


def apply_point(exp, values):
    """The recipe `exp` changed by one point of its space.

    Args:
        exp: an Experiment.
        values: {name: value} as in the space (e.g. {"lr": 0.002, "hp.dropout": 0.2}).

    Returns:
        a checked Experiment. A changed schedule drops the recipe's schedule_args
        (they belong to the old schedule); a changed optimizer its optimizer_args.

    Raises:
        SuiteError: an unknown name or a bad value.
    """
    fields, model_kwargs, augment = {}, dict(exp.model_kwargs), dict(exp.augment)
    for name, value in values.items():
        kind, _, key = name.partition(".")
        if kind == "hp":
            model_kwargs[key] = value
        elif kind == "augment" and key == "shift":
            augment.update(width_shift_range=value, height_shift_range=value)
        elif kind == "augment":
            augment[key] = value
        else:
            fields[name] = value
    if fields.get("schedule", exp.schedule) != exp.schedule:
        fields["schedule_args"] = {}
    if fields.get("optimizer", exp.optimizer) != exp.optimizer:
        fields["optimizer_args"] = {}
    augment = {k: v for k, v in augment.items() if v not in (0, 0.0)}
    return exp.with_overrides(model_kwargs=model_kwargs, augment=augment, **fields)
