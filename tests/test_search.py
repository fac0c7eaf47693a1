"""Search spaces as data: how a point changes a recipe, and how the space fits the data."""
import keras_tuner
import pytest

from errors import SuiteError
from experiments import get_experiment
from experiments.search import apply_point, search_space
from tuning.hypermodel import ExperimentHyperModel, fit_batch_sizes


def test_a_point_sets_fields_model_arguments_and_augmentation():
    exp = get_experiment("pyramid")
    changed = apply_point(exp, {"lr": 0.002, "schedule": "cosine", "hp.dropout": 0.2, "augment.shift": 0.15,
                                "hp.width_multiplier": 0.5})
    assert changed.lr == 0.002 and changed.schedule == "cosine" and changed.schedule_args == {}
    assert changed.model_kwargs == {"dropout": 0.2, "width_multiplier": 0.5}
    assert changed.augment["width_shift_range"] == changed.augment["height_shift_range"] == 0.15
    assert apply_point(exp, {"augment.shift": 0.0}).augment == {"horizontal_flip": True}   # 0 turns it off
    assert exp.lr == 0.003                                                                 # the recipe is untouched
    muon = get_experiment("fast94_muon")
    assert apply_point(muon, {"optimizer": "sgd"}).optimizer_args == {}          # muon_lr belongs to muon
    assert apply_point(muon, {"lr": 1.0}).optimizer_args == muon.optimizer_args


def test_pyramid_space_and_bad_specs():
    exp = get_experiment("pyramid")
    space = search_space(exp)
    assert {"lr", "batch_size", "hp.dropout", "hp.width_multiplier", "hp.transition_width"} <= set(space)
    assert space["lr"] == ("log", pytest.approx(0.0003), pytest.approx(0.009))
    with pytest.raises(SuiteError, match="bad spec for 'lr'"):
        search_space(exp.with_overrides(search_space={"lr": ("gaussian", 1, 2)}))


def test_batch_sizes_never_exceed_the_data():
    space = {"batch_size": ("choice", [64, 128, 256])}
    assert fit_batch_sizes(space, 200)["batch_size"] == ("choice", [64, 128])
    assert fit_batch_sizes(space, 40)["batch_size"] == ("choice", [40])


def test_trials_build_the_registered_model_with_the_point():
    import numpy as np
    x, y = np.zeros((300, 32, 32, 3), np.uint8), np.arange(300) % 10
    hypermodel = ExperimentHyperModel(get_experiment("pyramid"), (x, y), (x[:20], y[:20]), epochs=1)
    hp = keras_tuner.HyperParameters()
    hp.Fixed("hp.width_multiplier", 0.5)
    model = hypermodel.build(hp)
    assert model.name == "pyramid" and model.count_params() < 200_000   # half-width pyramid
    assert set(hp.values) >= {"lr", "batch_size", "hp.dropout"} and hp.values["batch_size"] <= 300
