"""Learning-rate schedules give the rates their definitions say, step by step."""
import keras
import pytest

from callbacks.schedules import make_schedule
from errors import SuiteError


def rate(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_constant():
    assert make_schedule("constant", 0.1, {}, 10, 5) == (0.1, [])


def test_step_drops_by_factor_at_the_given_epochs():
    s, _ = make_schedule("step", 0.1, {"drop_epochs": [2, 4], "factor": 0.5}, 6, 10)
    assert rate(s, 0) == pytest.approx(0.1)
    assert rate(s, 19) == pytest.approx(0.1)                  # last step of epoch 2
    assert rate(s, 20) == pytest.approx(0.05)                 # first step of epoch 3
    assert rate(s, 45) == pytest.approx(0.025)


def test_step_defaults_to_half_and_three_quarters():
    s, _ = make_schedule("step", 1.0, {}, 8, 1)
    assert [round(rate(s, t), 4) for t in range(8)] == [1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01]


def test_time_decay_is_keras2_decay_per_step_or_per_epoch():
    s, _ = make_schedule("time_decay", 0.01, {"decay": 0.001}, 10, 100)
    assert rate(s, 500) == pytest.approx(0.01 / (1 + 0.001 * 500), rel=1e-5)
    e, _ = make_schedule("time_decay", 0.003, {"decay": 0.319, "per": "epoch"}, 10, 100)
    assert rate(e, 250) == pytest.approx(0.003 / (1 + 0.319 * 2), rel=1e-5)
    d, _ = make_schedule("time_decay", 0.01, {}, 200, 1)               # default decay = lr / epochs
    assert rate(d, 100) == pytest.approx(0.01 / (1 + 0.01 / 200 * 100), rel=1e-5)


def test_cosine_and_onecycle_shapes():
    c, _ = make_schedule("cosine", 0.1, {}, 10, 10)
    assert rate(c, 0) == pytest.approx(0.1) and rate(c, 50) == pytest.approx(0.05, rel=1e-4)
    assert rate(c, 100) == pytest.approx(0.0, abs=1e-7)
    o, _ = make_schedule("onecycle", 0.4, {}, 10, 10)
    assert rate(o, 0) == pytest.approx(0.4 / 25, rel=1e-4)
    assert rate(o, 30) == pytest.approx(0.4, rel=1e-4)                  # peak after 30% of the steps
    assert rate(o, 100) == pytest.approx(0.4 / 25 * 1e-4 * 25, rel=1e-2)


def test_plateau_is_keras_reduce_lr_on_plateau():
    lr, extra = make_schedule("plateau", 0.1, {"patience": 2}, 10, 10)
    assert lr == 0.1 and isinstance(extra[0], keras.callbacks.ReduceLROnPlateau) and extra[0].patience == 2


def test_bad_schedule_arguments():
    with pytest.raises(SuiteError, match=r"--schedule-args gamma \(schedule cosine\): unknown; choose from: alpha"):
        make_schedule("cosine", 0.1, {"gamma": 2}, 10, 10)
    with pytest.raises(SuiteError, match="unknown schedule"):
        make_schedule("exp", 0.1, {}, 10, 10)
