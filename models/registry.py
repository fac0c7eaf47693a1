"""A timm-style model registry: `@register_model`, `create_model(name)`, `list_models()`.

Follows timm/models/_registry.py: a model variant is one function decorated with
`@register_model`; adding one never touches run.py or the training code.
"""
import fnmatch
import inspect
import re

from errors import SuiteError, UnknownNameError
from experiments.fields import Field, unit_interval

_MODELS = {}


def register_model(fn):
    """Register a builder under its function name and return it unchanged.

    The builder's signature is `(input_shape=(32, 32, 3), classes=10, **hp) -> keras.Model`.
    Its hyperparameters are checked against their defaults' kinds, or against a
    `hyperparameters` attribute ({name: experiments.fields.Field}) where it sets one.
    """
    _MODELS[fn.__name__] = fn
    return fn


def list_models(pattern="*"):
    """Names of the registered models matching a shell-style pattern, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def get_builder(name):
    """The builder registered as `name`; raises UnknownNameError listing the valid names."""
    if name not in _MODELS:
        raise UnknownNameError("model", name, _MODELS)
    return _MODELS[name]


def declared_hyperparameters(builder):
    """{name: Field} of a builder's hyperparameters: its `hyperparameters` attribute where it declares
    one (builders taking **hp), else inferred from its keyword defaults (a float is a finite number,
    a dropout rate in [0, 1); an int a whole number >= 1; a bool; text; a tuple a list of sizes)."""
    declared = dict(getattr(builder, "hyperparameters", {}))
    for key, param in inspect.signature(builder).parameters.items():
        default = param.default
        if key in declared or key in ("input_shape", "classes") or default is inspect.Parameter.empty:
            continue
        if isinstance(default, bool):
            declared[key] = Field("bool")
        elif isinstance(default, int):
            declared[key] = Field("int", 1, None)
        elif isinstance(default, float):
            declared[key] = unit_interval() if "dropout" in key else Field("float")
        elif isinstance(default, str):
            declared[key] = Field("text")
        elif isinstance(default, (tuple, list)):
            declared[key] = Field("sizes")
    return declared


def check_hyperparameters(builder, hp):
    """Check `hp` against the builder's declared hyperparameters (`declared_hyperparameters`);
    names it does not declare are left to the builder (an unknown one is refused there).

    Raises:
        SuiteError: "--hp NAME: VALUE is not allowed; it must be ..." for the first bad value.
    """
    declared = declared_hyperparameters(builder)
    for key, value in hp.items():
        if key in declared:
            declared[key].check(f"--hp {key}", value)


def create_model(name, input_shape=(32, 32, 3), classes=10, weights=None, **hp):
    """Build a registered model, as keras.applications builders do.

    Args:
        name: a name from `list_models()`.
        input_shape: (height, width, channels) in pixels; raw uint8 RGB values 0-255.
        classes: number of output classes.
        weights: None, or the path of a weights file to load (`model.load_weights`).
        **hp: the architecture's hyperparameters (see its builder's docstring).

    Returns:
        A keras.Model mapping (N, *input_shape) images to (N, classes) softmax probabilities.

    Raises:
        UnknownNameError: `name` is not registered.
        SuiteError: a hyperparameter the builder does not take, one of the wrong kind (see
            `check_hyperparameters`), or a value one of its layers refuses.
    """
    builder = get_builder(name)
    check_hyperparameters(builder, hp)
    try:
        model = builder(input_shape=tuple(input_shape), classes=classes, **hp)
    except TypeError as exc:
        match = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if not match:
            raise SuiteError(f"model {name}: bad hyperparameters {hp} ({exc})") from None
        raise SuiteError(f"model {name} takes no argument {match.group(1)!r}; see `{builder.__module__}."
                         f"{builder.__name__}` for its hyperparameters") from None
    except ValueError as exc:              # a layer refused a value (a dropout rate of 2, a width of 0, ...)
        raise SuiteError(f"model {name}: hyperparameters {hp} refused by its builder or a Keras layer: "
                         f"{' '.join(str(exc).split())[:300]}") from None
    if weights:
        model.load_weights(weights)
    return model
