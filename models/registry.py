"""A timm-style model registry: `@register_model`, `create_model(name)`, `list_models()`.

Follows timm/models/_registry.py: a model variant is one function decorated with
`@register_model`; adding one never touches run.py or the training code.
"""
import fnmatch
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
        SuiteError: a hyperparameter the builder does not take.
    """
    builder = get_builder(name)
    try:
        model = builder(input_shape=tuple(input_shape), classes=classes, **hp)
    except TypeError as exc:
        match = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if not match:
            raise
        raise SuiteError(f"model {name} takes no argument {match.group(1)!r}; see `{builder.__module__}."
                         f"{builder.__name__}` for its hyperparameters") from None
    if weights:
        model.load_weights(weights)
    return model
