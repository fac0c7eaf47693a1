"""Recipes: every experiment names a registered model, and overrides are checked."""
import json

import pytest

from errors import SuiteError, UnknownNameError
from experiments import get_experiment, list_experiments
from models import list_models

REQUIRED = {"ygnet", "baseline", "pyramid", "pyramid_spatial_separable", "pyramid_separable",
            "pyramid_grouped", "pyramid_dilated", "mixed6b", "allcnn_c", "lenet5", "cs231n_vgg_a",
            "cs231n_vgg_b", "tutorial_cnn", "mlp", "convnet5"}


def test_every_seed_result_has_a_recipe_with_a_registered_model():
    assert REQUIRED <= set(list_experiments())
    for name in list_experiments():
        exp = get_experiment(name)
        assert exp.model in list_models()
        assert exp.source, f"{name} does not say where its recipe comes from"
        json.dumps(exp.to_dict())                    # the resolved config must be JSON


def test_ygnet_recipe_is_the_seed_recipe():
    exp = get_experiment("ygnet")
    assert (exp.optimizer, exp.lr, exp.momentum, exp.nesterov) == ("sgd", 0.01, 0.9, True)
    assert (exp.batch_size, exp.epochs, exp.schedule) == (64, 200, "time_decay")
    assert exp.schedule_args == {"decay": 0.01 / 200}
    assert exp.augment == {"rotation_range": 10, "width_shift_range": 0.1,
                           "height_shift_range": 0.1, "horizontal_flip": True}


def test_6b_recipes_run_50_epochs_with_augmentation_and_a_step_schedule():
    for name in ("pyramid_spatial_separable", "pyramid_separable", "pyramid_grouped", "pyramid_dilated", "mixed6b"):
        exp = get_experiment(name)
        assert exp.epochs == 50 and exp.schedule == "step" and exp.augment


# The fast recipes' epoch budgets (the seed-table issue: the seed's claim in at most about a quarter of
# the seed recipe's epochs) and the seed recipe each one sits beside.
FAST_BUDGETS = {"lenet5_fast": ("lenet5", 10), "cs231n_vgg_a_fast": ("cs231n_vgg_a", 5),
                "cs231n_vgg_b_fast": ("cs231n_vgg_b", 5), "mixed6b_fast": ("mixed6b", 12),
                "ygnet_fast": ("ygnet", 50), "allcnn_c_fast": ("allcnn_c", 60)}


def test_fast_recipes_train_the_seed_network_unchanged_within_their_budget():
    assert set(FAST_BUDGETS) <= set(list_experiments("*_fast"))
    for name, (seed_name, budget) in FAST_BUDGETS.items():
        fast, seed = get_experiment(name), get_experiment(seed_name)
        assert (fast.model, fast.model_kwargs) == (seed.model, seed.model_kwargs), name
        assert fast.epochs <= budget < seed.epochs, name
        assert fast.target_accuracy is not None and 0 < fast.target_accuracy < 1, name
        assert "seed" in fast.claim, f"{name}'s claim does not name the seed it comes from"


def test_overrides_replace_fields_and_ignore_none():
    exp = get_experiment("lenet5").with_overrides(epochs=3, lr=None, augment={})
    assert exp.epochs == 3 and exp.lr == get_experiment("lenet5").lr and exp.augment == {}
    assert get_experiment("lenet5").epochs == 30          # the registered recipe is unchanged


@pytest.mark.parametrize("overrides, message", [
    ({"epochs": 0}, r"--epochs: 0 is not allowed; it must be a whole number in \[1, 100000\]"),
    ({"epochs": 2.5}, "--epochs: 2.5 is not allowed"),
    ({"batch_size": -4}, "--batch-size: -4 is not allowed"),
    ({"lr": 0.0}, r"--lr: 0.0 is not allowed; it must be a finite number in \(0, 10\]"),
    ({"lr": 1e308}, "--lr: 1e[+]308 is not allowed"),
    ({"lr": float("inf")}, "--lr: inf is not allowed"),
    ({"lr": float("nan")}, "--lr: nan is not allowed"),
    ({"momentum": 1.5}, r"--momentum: 1.5 is not allowed; it must be a finite number in \[0, 1\)"),
    ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
    ({"schedule": "warp"}, "unknown schedule 'warp'"),
    ({"precision": "int8"}, "unknown precision 'int8'"),
    ({"augment_engine": "opencv"}, "unknown augment engine"),
    ({"augment": {"rotate": 10}}, "unknown augmentation parameter 'rotate'"),
    ({"augment": {"rotation_range": -5}}, "--augment rotation_range: -5 is not allowed"),
    ({"augment": {"rotation_range": float("nan")}}, "--augment rotation_range: nan is not allowed"),
    ({"augment": {"rotation_range": float("inf")}}, "--augment rotation_range: inf is not allowed"),
    ({"augment": {"zoom_range": 5}}, r"--augment zoom_range: 5 is not allowed; it must be a finite number in \[0, 1\)"),
    ({"augment": {"width_shift_range": 40}}, r"--augment width_shift_range: 40 is not allowed; .* in \[0, 32\)"),
    ({"augment": {"fill_mode": "mirror"}}, "--augment fill_mode: 'mirror' is not allowed; it must be one of nearest"),
    ({"augment": {"horizontal_flip": 1}}, "--augment horizontal_flip: 1 is not allowed; it must be true or false"),
    ({"schedule": "warmup_linear", "schedule_args": {"start": -5, "end": -5}},
     r"--schedule-args start \(schedule warmup_linear\): -5 is not allowed; it must be a finite number in \(0, 1\]"),
    ({"schedule": "time_decay", "schedule_args": {"decay": -0.25}}, "--schedule-args decay .*: -0.25 is not allowed"),
    ({"schedule": "plateau", "schedule_args": {"patience": "abc"}}, "--schedule-args patience .*: 'abc' is not allowed"),
    ({"schedule": "step", "schedule_args": {"drop_epochs": [10, 0]}}, "--schedule-args drop_epochs .*; it must be a list of whole"),
    ({"schedule": "cosine", "schedule_args": {"gamma": 2}}, "--schedule-args gamma .*: unknown; choose from: alpha"),
    ({"optimizer": "muon", "optimizer_args": {"muon_lr": 0}},
     r"--optimizer-args muon_lr \(optimizer muon\): 0 is not allowed; it must be a finite number in \(0, 10\]"),
    ({"optimizer": "muon", "optimizer_args": {"ns_steps": 2.5}}, "--optimizer-args ns_steps .*: 2.5 is not allowed"),
    ({"optimizer": "sgd", "optimizer_args": {"muon_lr": 0.1}}, r"--optimizer-args muon_lr \(optimizer sgd\): unknown"),
    ({"whitening_bias_epochs": -1}, r"--whitening-bias-epochs: -1 is not allowed; it must be a finite number in \[0, "),
    ({"colour": "red"}, "unknown experiment field"),
])
def test_bad_overrides_are_refused(overrides, message):
    with pytest.raises(SuiteError, match=message):
        get_experiment("lenet5").with_overrides(**overrides)


def test_another_schedule_drops_the_recipes_schedule_args():
    recipe = get_experiment("mixed6b")
    assert recipe.schedule == "step" and recipe.schedule_args
    cosine = recipe.with_overrides(schedule="cosine")
    assert cosine.schedule_args == {}
    assert recipe.with_overrides(schedule="cosine", schedule_args={"alpha": 0.1}).schedule_args == {"alpha": 0.1}
    assert recipe.with_overrides(epochs=3).schedule_args == recipe.schedule_args      # same schedule: kept


def test_another_optimizer_drops_the_recipes_optimizer_args():
    recipe = get_experiment("fast94_muon")
    assert recipe.optimizer == "muon" and recipe.optimizer_args
    assert recipe.with_overrides(optimizer="sgd").optimizer_args == {}
    assert recipe.with_overrides(epochs=3).optimizer_args == recipe.optimizer_args       # same optimizer: kept
    assert get_experiment("lenet5").with_overrides(optimizer="muon").optimizer_args == {}


def test_unknown_experiment_lists_valid_names():
    with pytest.raises(UnknownNameError, match="choose one of: airbench94_muon, allcnn_c"):
        get_experiment("ygnet2")
