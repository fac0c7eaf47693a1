"""A timm-style model registry: `@register_model`, `create_model(name)`, `list_models()`.

Follows timm/models/_registry.py: a model variant is one function decorated with
`@register_model`; adding one never touches run.py or the training code.
"""
import fnmatch
import inspect
import math
import re

from errors import SuiteError, UnknownNameError

_MODELS = {}


def register_model(fn):
    """Register a builder under its function name and return it unchanged.

    The builder's signature is `(input_shape=(32, 32, 3), classes=10, **hp) -> keras.Model`.
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


def check_hyperparameters(builder, hp):
    """Check `hp` against the kinds of the builder's declared defaults: a number where the default is
    a number (finite; a whole one where the default is an int), true/false where it is a bool, text
    where it is text, a list where it is a tuple.

    Raises:
        SuiteError: "--hp NAME: VALUE is not allowed; it must be ..." for the first value that differs.
    """
    defaults = {k: p.default for k, p in inspect.signature(builder).parameters.items()
                if p.default is not inspect.Parameter.empty}
    for key, value in hp.items():
        default = defaults.get(key)
        if default is None:
            continue                       # not declared with a default: the builder checks it
        if isinstance(default, bool):
            ok, kind = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            kind = "a finite number"
        elif isinstance(default, str):
            ok, kind = isinstance(value, str), "text"
        elif isinstance(default, (tuple, list)):
            ok, kind = isinstance(value, (tuple, list)), f"a list like {list(default)}"
        else:
            continue
        if not ok:
            raise SuiteError(f"--hp {key}: {value!r} is not allowed; it must be {kind} "
                             f"(default {default!r}; see `{builder.__module__}.{builder.__name__}`)")


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
