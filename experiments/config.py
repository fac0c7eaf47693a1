"""An experiment is data: a registered recipe plus overrides from the command line.

In the manner of tensorflow/models experiment configs: each recipe is a frozen
`Experiment`; `with_overrides` returns a checked copy; the resolved config is
saved with every run as config.json (`Experiment.to_dict`).
"""
import dataclasses
import fnmatch

from errors import SuiteError, UnknownNameError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "time_decay", "cosine", "onecycle", "warmup_linear", "plateau")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
AUGMENT_ENGINES = ("layers", "imagedatagenerator")
EVALUATE_WEIGHTS = ("best", "final")
TTA_LEVELS = (0, 1, 2)          # as models.tta.TTA_LEVELS (not imported: that would load Keras)
# ImageDataGenerator's augmentation parameters that both engines understand, and
# alternating_flip (airbench94; engine "layers" only): each image is mirrored in every
# other epoch, starting in a random one.
AUGMENT_KEYS = ("rotation_range", "width_shift_range", "height_shift_range", "horizontal_flip",
                "zoom_range", "shear_range", "fill_mode", "alternating_flip")
FILL_MODES = ("nearest", "reflect", "wrap", "constant")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named training recipe.

    Fields (units): `epochs` (passes over the training split), `batch_size` (images),
    `lr` (initial learning rate), `weight_decay` (Keras' decoupled optimizer weight
    decay), `schedule` and `schedule_args` (see callbacks.schedules.make_schedule),
    `augment` (ImageDataGenerator parameters: rotation in degrees, shifts as a
    fraction of the image or, when >= 1, in pixels, zoom as a fraction),
    `augment_engine` (how augmentation is computed), `precision` (a Keras dtype policy
    or 'auto'), `val_split` (validation images held out of the 50,000 unless the
    command line says otherwise), `ema_momentum` (0: off; else the test uses an
    exponential moving average of the weights, Keras' `use_ema`), `evaluate_weights`
    ('best' checkpoint, or the 'final' weights), `tta_level` (models.tta: 0 none, 1
    mirror, 2 mirror and 1-pixel translations), `target_accuracy` (test top-1, 0-1, whose
    time-to-reach is printed; None for none), `source` (where the recipe comes from) and
    `claim` (the accuracy the source claims; never ours).
    """

    name: str
    model: str
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    schedule_args: dict = dataclasses.field(default_factory=dict)
    batch_size: int = 128
    epochs: int = 50
    augment: dict = dataclasses.field(default_factory=dict)
    augment_engine: str = "layers"
    label_smoothing: float = 0.0
    precision: str = "auto"
    val_split: int = 5000
    ema_momentum: float = 0.0
    lookahead: float = 0.0
    evaluate_weights: str = "best"
    tta_level: int = 0
    target_accuracy: float = None
    source: str = ""
    claim: str = ""
    search_space: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("augment engine", self.augment_engine, AUGMENT_ENGINES)
        _check_choice("evaluate_weights", self.evaluate_weights, EVALUATE_WEIGHTS)
        if self.tta_level not in TTA_LEVELS:
            raise SuiteError(f"tta_level must be one of 0, 1, 2, got {self.tta_level!r}")
        if self.augment.get("alternating_flip") and self.augment_engine != "layers":
            raise SuiteError("alternating_flip needs the 'layers' augment engine")
        for key in ("epochs", "batch_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SuiteError(f"{key.replace('_', '-')} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise SuiteError(f"lr must be positive, got {self.lr!r}")
        if not isinstance(self.val_split, int) or self.val_split < 0:
            raise SuiteError(f"val-split must be a non-negative integer, got {self.val_split!r}")
        for key in ("momentum", "weight_decay", "label_smoothing", "ema_momentum", "lookahead"):
            if not 0 <= getattr(self, key) < 1:
                raise SuiteError(f"{key.replace('_', '-')} must be within [0, 1), got {getattr(self, key)!r}")
        check_augment(self.augment)

    def with_overrides(self, **overrides):
        """A copy with the given fields replaced; None values are ignored.

        Raises:
            SuiteError: an unknown field or a bad value.
        """
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - fields
        if unknown:
            raise SuiteError(f"unknown experiment field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self):
        """The recipe as a JSON-ready dict (saved as config.json)."""
        return dataclasses.asdict(self)

    def summary(self):
        """The recipe in one line, for `run.py list`."""
        aug = ",".join(f"{k}={v}" for k, v in self.augment.items()) or "none"
        return (f"{self.model}, {self.optimizer} lr {self.lr:g}, {self.schedule}, batch {self.batch_size}, "
                f"{self.epochs} epochs, augment {aug}")


def _check_choice(what, value, valid):
    if value not in valid:
        raise UnknownNameError(what, value, valid)


def check_augment(augment):
    """Check ImageDataGenerator-style augmentation parameters.

    Raises:
        SuiteError: an unknown key, a negative range, or an unknown fill_mode.
    """
    for key, value in augment.items():
        if key not in AUGMENT_KEYS:
            raise UnknownNameError("augmentation parameter", key, AUGMENT_KEYS)
        if key == "fill_mode":
            _check_choice("fill_mode", value, FILL_MODES)
        elif key in ("horizontal_flip", "alternating_flip"):
            if not isinstance(value, bool):
                raise SuiteError(f"{key} must be true or false, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise SuiteError(f"{key} must be a non-negative number, got {value!r}")


_EXPERIMENTS = {}


def register_experiment(experiment):
    """Register a recipe under its name and return it."""
    _EXPERIMENTS[experiment.name] = experiment
    return experiment


def get_experiment(name):
    """The recipe registered as `name`; raises UnknownNameError listing the valid names."""
    if name not in _EXPERIMENTS:
        raise UnknownNameError("experiment", name, _EXPERIMENTS)
    return _EXPERIMENTS[name]


def list_experiments(pattern="*"):
    """Names of the registered experiments matching a shell-style pattern, sorted."""
    return sorted(n for n in _EXPERIMENTS if fnmatch.fnmatch(n, pattern))
