"""benchmarks/roofline.py, profile_step.py and hp_speed.py on tiny inputs: the figures they print are
computed from what they measure (the speed itself is measured in benchmarks/, not here)."""
import pandas as pd
import pytest

from benchmarks import hp_speed, profile_step, roofline
from models import create_model
from models.flops import training_flops

pytest.importorskip("tensorflow", reason="the profiler and the suite's default pipeline here are TensorFlow's")


def test_roofline_row_is_speed_times_counted_flops_over_the_measured_peak(real_subset, tmp_path):
    csv = tmp_path / "roofline.csv"
    assert roofline.main(["--data-dir", real_subset, "--models", "lenet5", "--images", "256", "--precision",
                          "float32", "--matmul-size", "128", "--seconds", "0.2", "--csv", str(csv)]) == 0
    (row,) = pd.read_csv(csv).to_dict("records")
    flops, _ = training_flops(create_model("lenet5"))
    assert row["training_gflop_per_image"] == round(flops / 1e9, 3)
    assert row["train_img_s"] > 0 and row["float32_peak"] > 0
    assert row["achieved_tflop_s"] == pytest.approx(row["train_img_s"] * flops / 1e12, rel=1e-2, abs=2e-3)
    assert row["fraction_of_peak"] == pytest.approx(row["achieved_tflop_s"] / row["float32_peak"], rel=0.05,
                                                    abs=2e-3)


@pytest.mark.parametrize("name, thread, expected", [
    ("StatefulPartitionedCall/gradient_tape/fast94_1/conv2d_2_1/Conv2DBackpropFilter:_MklNativeConv2DBackpropFilter",
     "tf_Compute/1", "convolutions"),
    ("StatefulPartitionedCall/fast94_1/batch_normalization_1/moments/mean:Mean", "tf_Compute/1", "BatchNorm"),
    ("StatefulPartitionedCall/fast94_1/activation_1/Gelu/Erfc:Erfc", "tf_Compute/2", "activation (GELU/ReLU)"),
    ("StatefulPartitionedCall/fast94_1/max_pooling2d_1/MaxPool:_MklNativeMaxPool", "tf_Compute/1", "pooling"),
    ("StatefulPartitionedCall/fast94_1/whitening_1/Cast:Cast", "tf_Compute/1", "casts"),
    ("StatefulPartitionedCall/SGD/AssignSubVariableOp:AssignSubVariableOp", "tf_Compute/1", "optimizer update"),
    ("ParallelMapV2/ImageProjectiveTransformV3:ImageProjectiveTransformV3", "tf_data_private_threadpool/3",
     "input pipeline"),
])
def test_ops_fall_in_their_category(name, thread, expected):
    assert profile_step.category(name, thread) == expected


def test_profile_of_a_few_steps_sees_the_convolutions(capsys):
    assert profile_step.main(["--experiment", "tutorial_cnn", "--steps", "3", "--precision", "float32"]) == 0
    out = capsys.readouterr().out
    share = {line.split("|")[1].strip(): float(line.split("|")[3].strip().rstrip("%"))
             for line in out.splitlines() if line.startswith("| ") and "%" in line}
    assert set(share) == set(profile_step.CATEGORIES)
    assert share["convolutions"] > 0 and sum(share.values()) == pytest.approx(100, abs=0.5)


def test_hp_speed_alternates_the_recipe_and_the_variant(real_subset, tmp_path, monkeypatch):
    from benchmarks import throughput
    from experiments import get_experiment
    built, original = [], throughput.compiled
    monkeypatch.setattr(throughput, "compiled", lambda exp, *a: built.append(exp.model_kwargs) or original(exp, *a))
    csv = tmp_path / "ab.csv"
    assert hp_speed.main(["--data-dir", real_subset, "--experiment", "lenet5", "--hp", "dropout=0.5", "--images",
                          "128", "--repeats", "2", "--precision", "float32", "--csv", str(csv)]) == 0
    recipe = get_experiment("lenet5").model_kwargs
    assert built == [recipe, {**recipe, "dropout": 0.5}] * 2
    table = pd.read_csv(csv)
    assert list(table.variant) == ["recipe", "with hp"]
    for runs, median in zip(table.runs_img_s, table.median_img_s):
        speeds = [float(v) for v in runs.split()]
        assert len(speeds) == 2 and min(speeds) > 0 and min(speeds) - 1 <= median <= max(speeds) + 1
