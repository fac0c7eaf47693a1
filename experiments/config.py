"""An experiment is data: a registered recipe plus overrides from the command line.

In the manner of tensorflow/models experiment configs: each recipe is a frozen
`Experiment`; `with_overrides` returns a checked copy; the resolved config is
saved with every run as config.json (`Experiment.to_dict`).
"""
import dataclasses
import fnmatch
import json

from errors import SuiteError, UnknownNameError
from experiments.fields import Field, check_fields, positive, unit_interval

# Each optimizer's own arguments (see training.train.make_optimizer) with their defaults; the
# shared ones (lr, momentum, nesterov, weight_decay) are recipe fields. "muon" is optimizers.MuonSGD:
# the Muon step for convolution kernels (peak learning rate muon_lr, momentum muon_momentum,
# ns_steps Newton-Schulz iterations), Nesterov SGD at lr with `momentum` for the other weights.
OPTIMIZER_ARGS = {
    "sgd": {}, "adam": {}, "adamw": {}, "rmsprop": {},
    "muon": {"muon_lr": Field("float", 0, 10, low_open=True, default=0.24),
             "muon_momentum": Field("float", 0, 1, low_open=True, high_open=True, default=0.6),
             "ns_steps": Field("int", 1, 20, default=3)},
}
OPTIMIZERS = tuple(OPTIMIZER_ARGS)
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
AUGMENT_ENGINES = ("auto", "layers", "pydataset", "imagedatagenerator")   # as data.pipeline.ENGINES
EVALUATE_WEIGHTS = ("best", "final")
TTA_LEVELS = (0, 1, 2)          # as models.tta.TTA_LEVELS (not imported: that would load Keras)
FILL_MODES = ("nearest", "reflect", "wrap", "constant")
IMAGE_SIZE = 32          # pixels: CIFAR-10's height and width

# ImageDataGenerator's augmentation parameters that every engine understands, and
# alternating_flip (airbench94; not engine "imagedatagenerator"): each image is mirrored in every
# other epoch, starting in a random one. All engines accept exactly these values: ImageDataGenerator
# allows more, but Keras' layers refuse a shift of a whole image or more, a zoom of 100% or more
# and a shear whose tangent exceeds 1.
AUGMENT_FIELDS = {
    "rotation_range": Field("float", 0, 180),                                # degrees
    "width_shift_range": Field("float", 0, IMAGE_SIZE, high_open=True),      # fraction if < 1, else pixels
    "height_shift_range": Field("float", 0, IMAGE_SIZE, high_open=True),
    "zoom_range": unit_interval(),                                          # fraction
    "shear_range": Field("float", 0, 45),                                    # degrees
    "horizontal_flip": Field("bool"),
    "fill_mode": Field("choice", choices=FILL_MODES),
    "alternating_flip": Field("bool"),
}
AUGMENT_KEYS = tuple(AUGMENT_FIELDS)

# Each schedule's arguments (see callbacks.schedules.make_schedule) with their defaults (None: derived
# from the run). The ranges keep every schedule's learning rate positive and finite.
SCHEDULE_ARGS = {
    "constant": {},
    "step": {"drop_epochs": Field("epochs"), "factor": Field("float", 0, 1, low_open=True, default=0.1)},
    "time_decay": {"decay": Field("float", 0, 1e6), "per": Field("choice", choices=("step", "epoch"), default="step")},
    "cosine": {"alpha": Field("float", 0, 1, default=0.0)},
    "onecycle": {"pct_start": Field("float", 0, 1, high_open=True, default=0.3),
                 "div_factor": Field("float", 1, 1e6, default=25.0),
                 "final_div_factor": Field("float", 1, 1e9, default=1e4)},
    "warmup_linear": {"warmup": Field("float", 0, 1, high_open=True, default=0.23),
                      "start": Field("float", 0, 1, low_open=True, default=0.2),
                      "end": Field("float", 0, 1, low_open=True, default=0.07)},
    "plateau": {"factor": Field("float", 0, 1, low_open=True, high_open=True, default=0.5),
                "patience": Field("int", 0, 1000, default=5),
                "min_lr": Field("float", 0, 1, default=1e-6)},
}
SCHEDULES = tuple(SCHEDULE_ARGS)

# create_model's own arguments, which --hp must not reach: CIFAR-10 fixes the first two, and a weights
# path would load a file no recipe names.
RESERVED_MODEL_ARGS = {"input_shape", "classes", "weights"}

# The recipe's numeric fields. lr is capped at 10: no recipe here comes near it, and Keras'
# optimizers overflow long before 1e308.
RECIPE_FIELDS = {
    "lr": positive(high=10), "momentum": unit_interval(), "weight_decay": unit_interval(),
    "label_smoothing": unit_interval(), "ema_momentum": unit_interval(), "lookahead": unit_interval(),
    "epochs": Field("int", 1, 100_000), "batch_size": Field("int", 1, 65_536), "val_split": Field("int", 0, None),
    "nesterov": Field("bool"), "whitening_bias_epochs": Field("float", 0, 100_000),
}


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named training recipe.

    Fields (units): `epochs` (passes over the training split), `batch_size` (images),
    `lr` (initial learning rate), `weight_decay` (Keras' decoupled optimizer weight
    decay), `optimizer_args` (the optimizer's own arguments: OPTIMIZER_ARGS), `schedule`
    and `schedule_args` (see callbacks.schedules.make_schedule),
    `augment` (ImageDataGenerator parameters: rotation in degrees, shifts as a
    fraction of the image or, when >= 1, in pixels, zoom as a fraction),
    `augment_engine` (how augmentation is computed: data.pipeline.ENGINES), `precision` (a Keras dtype policy
    or 'auto'), `val_split` (validation images held out of the 50,000 unless the
    command line says otherwise), `ema_momentum` (0: off; else the test uses an
    exponential moving average of the weights, Keras' `use_ema`), `lookahead` (airbench94's; 0: off),
    `whitening_bias_epochs` (0: fast94's whitening bias follows the schedule throughout; else its
    learning rate decays linearly to 0 at this epoch, then it is frozen: airbench94_muon's), `evaluate_weights`
    ('best' checkpoint, or the 'final' weights), `tta_level` (models.tta: 0 none, 1
    mirror, 2 mirror and 1-pixel translations), `target_accuracy` (test top-1, 0-1, whose
    time-to-reach is printed; None for none), `source` (where the recipe comes from) and
    `claim` (the accuracy the source claims; never ours).
    """

    name: str
    model: str
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    optimizer: str = "sgd"
    optimizer_args: dict = dataclasses.field(default_factory=dict)
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    schedule_args: dict = dataclasses.field(default_factory=dict)
    batch_size: int = 128
    epochs: int = 50
    augment: dict = dataclasses.field(default_factory=dict)
    augment_engine: str = "auto"
    label_smoothing: float = 0.0
    precision: str = "auto"
    val_split: int = 5000
    ema_momentum: float = 0.0
    lookahead: float = 0.0
    whitening_bias_epochs: float = 0.0
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
        if self.augment.get("alternating_flip") and self.augment_engine == "imagedatagenerator":
            raise SuiteError("alternating_flip needs the layers or pydataset augment engine, not imagedatagenerator")
        check_fields({k: getattr(self, k) for k in RECIPE_FIELDS}, RECIPE_FIELDS, flag)
        reserved = sorted(set(self.model_kwargs) & RESERVED_MODEL_ARGS)
        if reserved:
            raise SuiteError(f"--hp {reserved[0]}: not a hyperparameter of the architecture; the suite fixes the "
                             "input shape (32, 32, 3), the 10 classes and the initial weights")
        if self.target_accuracy is not None:
            Field("float", 0, 1).check("target_accuracy", self.target_accuracy)
        check_fields(self.optimizer_args, OPTIMIZER_ARGS[self.optimizer],
                     lambda key: f"--optimizer-args {key} (optimizer {self.optimizer})")
        check_fields(self.schedule_args, SCHEDULE_ARGS[self.schedule],
                     lambda key: f"--schedule-args {key} (schedule {self.schedule})")
        check_augment(self.augment)

    def with_overrides(self, **overrides):
        """A copy with the given fields replaced; None values are ignored. Another schedule without
        its own schedule_args drops the recipe's (they belong to the recipe's schedule); another
        optimizer without its own optimizer_args drops the recipe's likewise.

        Raises:
            SuiteError: an unknown field or a bad value.
        """
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - fields
        if unknown:
            raise SuiteError(f"unknown experiment field(s): {', '.join(sorted(unknown))}")
        given = {k: v for k, v in overrides.items() if v is not None}
        if given.get("schedule", self.schedule) != self.schedule and "schedule_args" not in given:
            given["schedule_args"] = {}
        if given.get("optimizer", self.optimizer) != self.optimizer and "optimizer_args" not in given:
            given["optimizer_args"] = {}
        return dataclasses.replace(self, **given)

    def with_hp(self, hp):
        """A copy whose model hyperparameters are the recipe's `model_kwargs` updated by `hp` ({name:
        value}, as `run.py train --hp`); checked when the model is built (models.create_model)."""
        return dataclasses.replace(self, model_kwargs={**self.model_kwargs, **hp}) if hp else self

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


def flag(field):
    """The command-line flag of a recipe field, e.g. '--batch-size'."""
    return "--" + field.replace("_", "-")


def check_augment(augment):
    """Check ImageDataGenerator-style augmentation parameters against AUGMENT_FIELDS.

    Raises:
        SuiteError: an unknown key, or a value out of its type or range (NaN and infinities included).
    """
    for key, value in augment.items():
        if key not in AUGMENT_FIELDS:
            raise UnknownNameError("augmentation parameter", key, AUGMENT_KEYS)
        AUGMENT_FIELDS[key].check(f"--augment {key}", value)


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


def recipe_differences(saved, ignore=()):
    """{field: (the registered recipe's value, the saved one)} where a saved recipe (config.json's
    "experiment": a dict in JSON's types) differs from the recipe registered under its name today:
    the run's command-line overrides, or a recipe changed since the run. Fields today's recipe lacks
    and fields in `ignore` are not compared. Used by model cards and `run.py report`.

    Raises:
        UnknownNameError: no recipe has that name any more.
    """
    today = json.loads(json.dumps(get_experiment(saved.get("name")).to_dict()))    # JSON's types, as config.json
    return {k: (today[k], v) for k, v in saved.items() if k in today and k not in ignore and today[k] != v}


def list_experiments(pattern="*"):
    """Names of the registered experiments matching a shell-style pattern, sorted."""
    return sorted(n for n in _EXPERIMENTS if fnmatch.fnmatch(n, pattern))
