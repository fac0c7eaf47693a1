"""benchmarks/roofline.py, profile_step.py, hp_speed.py and conv_passes.py on tiny inputs: the figures they print are
computed from what they measure (the speed itself is measured in benchmarks/, not here)."""
import importlib
import os

import numpy as np
import pandas as pd
import pytest

from benchmarks import conv_passes, hp_speed, profile_step, roofline
from models import create_model
from models.flops import forward_flops, training_flops

pytest.importorskip("tensorflow", reason="the profiler and the suite's default pipeline here are TensorFlow's")


def test_roofline_row_is_speed_times_counted_flops_over_the_measured_peak(real_subset, tmp_path):
    csv = tmp_path / "roofline.csv"
    assert roofline.main(["--data-dir", real_subset, "--models", "lenet5", "--images", "256", "--precision",
                          "float32", "--matmul-size", "128", "--seconds", "0.2", "--conv-repeats", "1",
                          "--csv", str(csv)]) == 0
    (row,) = pd.read_csv(csv).to_dict("records")
    flops, _ = training_flops(create_model("lenet5"))
    assert row["training_gflop_per_image"] == round(flops / 1e9, 3)
    assert row["train_img_s"] > 0 and row["float32_peak"] > 0
    assert row["achieved_tflop_s"] == pytest.approx(row["train_img_s"] * flops / 1e12, rel=1e-2, abs=2e-3)
    assert row["fraction_of_peak"] == pytest.approx(row["achieved_tflop_s"] / row["float32_peak"], rel=0.05,
                                                    abs=2e-3)
    assert row["conv_peak_tflop_s"] > 0      # lenet5's two Conv2D layers, timed pass by pass
    assert row["fraction_of_conv_peak"] == pytest.approx(row["achieved_tflop_s"] / row["conv_peak_tflop_s"],
                                                         rel=0.05, abs=2e-3)


def test_conv_peak_is_the_fastest_pass_of_the_models_own_convolutions(monkeypatch):
    rows = [{"tflop_s": 0.2}, {"tflop_s": 0.5}, {"tflop_s": 0.3}]
    # roofline imports it as the top-level module `conv_passes` (benchmarks/ on sys.path), not benchmarks.conv_passes
    monkeypatch.setattr(importlib.import_module("conv_passes"), "layer_rows", lambda model, batch, dtype, repeats: rows)
    model = create_model("lenet5")
    assert roofline.conv_peak(model, 8, "float32", 1) == 0.5
    assert roofline.conv_peak(model, 8, "float32", 0) is None       # --conv-repeats 0: not measured


def test_roofline_rejects_a_negative_conv_repeats(capsys):
    with pytest.raises(SystemExit) as exit_info:
        roofline.main(["--conv-repeats", "-1"])
    assert exit_info.value.code == 2 and "--conv-repeats must be 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize("name, thread, expected", [
    ("StatefulPartitionedCall/gradient_tape/fast94_1/conv2d_2_1/Conv2DBackpropFilter:_MklNativeConv2DBackpropFilter",
     "tf_Compute/1", "convolutions"),
    ("StatefulPartitionedCall/matmul_kernel_gradient/MatMul_4:_MklMatMul", "tf_Compute/0", "convolutions"),
    ("StatefulPartitionedCall/matmul_kernel_gradient_2/strided_slice_3:StridedSlice", "tf_Compute/0", "convolutions"),
    ("StatefulPartitionedCall/fast94_1/dense_1/MatMul:_MklMatMul", "tf_Compute/0", "other"),
    ("StatefulPartitionedCall/fast94_1/batch_normalization_1/moments/mean:Mean", "tf_Compute/1", "BatchNorm"),
    ("StatefulPartitionedCall/fast94_1/activation_1/Gelu/Erfc:Erfc", "tf_Compute/2", "activation (GELU/ReLU)"),
    ("StatefulPartitionedCall/fast94_1/max_pooling2d_1/MaxPool:_MklNativeMaxPool", "tf_Compute/1", "pooling"),
    ("StatefulPartitionedCall/pyramid_1/dropout_3_1/stateless_random_uniform/StatelessRandomUniformFullIntV2:"
     "StatelessRandomUniformFullIntV2", "tf_Compute/0", "dropout"),
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


def test_hp_speed_alternates_the_recipe_and_the_variant_swapping_their_order(real_subset, tmp_path, monkeypatch):
    from benchmarks import throughput
    from experiments import get_experiment
    built, original = [], throughput.compiled
    monkeypatch.setattr(throughput, "compiled", lambda exp, *a: built.append(exp.model_kwargs) or original(exp, *a))
    csv = tmp_path / "ab.csv"
    assert hp_speed.main(["--data-dir", real_subset, "--experiment", "lenet5", "--hp", "dropout=0.5", "--images",
                          "128", "--repeats", "2", "--precision", "float32", "--csv", str(csv)]) == 0
    recipe = get_experiment("lenet5").model_kwargs
    assert built == [recipe, {**recipe, "dropout": 0.5}, {**recipe, "dropout": 0.5}, recipe]   # A B, then B A
    table = pd.read_csv(csv)
    assert list(table.variant) == ["recipe", "variant"]
    for runs, median in zip(table.runs_img_s, table.median_img_s):
        speeds = [float(v) for v in runs.split()]
        assert len(speeds) == 2 and min(speeds) > 0 and min(speeds) - 1 <= median <= max(speeds) + 1


def test_hp_speed_sets_the_environment_for_the_variant_only(monkeypatch):
    import numpy as np

    from benchmarks import throughput
    monkeypatch.delenv("CIFAR10_SUITE_TEST_SWITCH", raising=False)
    seen = []
    monkeypatch.setattr(throughput, "compiled", lambda exp, *a: seen.append(os.environ.get("CIFAR10_SUITE_TEST_SWITCH")))
    monkeypatch.setattr(throughput, "suite_speed", lambda model, exp, x, y: 1.0)
    x, y = np.zeros((4, 32, 32, 3), "uint8"), np.zeros(4, "int64")
    speeds = hp_speed.compare("lenet5", {}, x, y, "float32", 2, env={"CIFAR10_SUITE_TEST_SWITCH": 0})
    assert seen == [None, "0", "0", None] and speeds == {"recipe": [1.0, 1.0], "variant": [1.0, 1.0]}
    assert "CIFAR10_SUITE_TEST_SWITCH" not in os.environ


def test_hp_speed_gives_the_run_callbacks_to_the_variant_only(monkeypatch):
    from benchmarks import throughput
    from callbacks import Lookahead, StopOnNonFiniteLoss
    monkeypatch.setattr(throughput, "compiled", lambda exp, precision, x, lr=None: lr)
    seen = []
    monkeypatch.setattr(throughput, "suite_speed",
                        lambda lr, exp, x, y, callbacks=(): seen.append((lr, callbacks)) or 1.0)
    x, y = np.zeros((8, 32, 32, 3), "uint8"), np.zeros(8, "int64")
    speeds = hp_speed.compare("fast94", {}, x, y, "float32", 1, run_callbacks=True)
    assert speeds == {"recipe": [1.0], "variant": [1.0]}
    (recipe_lr, recipe_callbacks), (variant_lr, variant_callbacks) = seen
    assert recipe_lr is None and recipe_callbacks == ()         # the recipe's initial lr, constant; no callbacks
    assert callable(variant_lr)                                  # fast94's schedule
    assert [type(c) for c in variant_callbacks] == [StopOnNonFiniteLoss, Lookahead]   # fast94 has no whitening bias


def test_hp_speed_needs_a_variant(capsys):
    with pytest.raises(SystemExit) as exit_info:
        hp_speed.main(["--experiment", "lenet5"])
    assert exit_info.value.code == 2 and "give variant B's --hp, --env or --run-callbacks" in capsys.readouterr().err


def test_conv_passes_compute_the_layers_forward_pass_and_both_gradients():
    import keras
    import numpy as np
    import tensorflow as tf
    inputs = keras.Input((9, 9, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="valid")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", dilation_rate=2)(x)
    x = keras.layers.DepthwiseConv2D(3)(x)
    x = keras.layers.Conv2D(6, 1, groups=2)(x)
    model = keras.Model(inputs, x)
    plain, skipped = conv_passes.conv_layers(model)
    assert len(plain) == 2 and len(skipped) == 2          # depthwise and grouped: other ops
    rng = np.random.default_rng(0)
    for layer in plain:
        x = tf.constant(rng.normal(size=(2, *layer.input.shape[1:])), "float32")
        k = tf.constant(rng.normal(size=layer.kernel.shape), "float32")
        dy = tf.constant(rng.normal(size=(2, *layer.output.shape[1:])), "float32")
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, k])
            y = layer.convolution_op(x, k)
        want = {"forward": y, "input gradient": tape.gradient(y, x, output_gradients=dy),
                "kernel gradient": tape.gradient(y, k, output_gradients=dy)}
        for name, f in conv_passes.pass_functions(layer).items():
            np.testing.assert_allclose(f(x, k, dy), want[name], rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("kernel, padding", [(3, "same"), (3, "valid"), (2, "same"), ((1, 3), "same")])
def test_kernel_gradient_forms_equal_tensorflows_kernel_gradient(kernel, padding):
    import keras
    import numpy as np
    import tensorflow as tf
    layer = keras.layers.Conv2D(5, kernel, padding=padding)
    layer.build((None, 7, 6, 3))
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(2, 7, 6, 3)), "float32")
    y_shape = layer.compute_output_shape((2, 7, 6, 3))
    dy = tf.constant(rng.normal(size=y_shape), "float32")
    want = conv_passes.pass_functions(layer)["kernel gradient"](x, layer.kernel, dy)
    forms = conv_passes.kernel_gradient_forms(layer)
    assert tuple(forms) == conv_passes.KERNEL_GRADIENT_FORMS
    for name, f in forms.items():
        np.testing.assert_allclose(f(x, layer.kernel, dy), want, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("kernel, padding", [(3, "same"), (3, "valid"), (2, "same"), (2, "valid"), ((1, 3), "same"),
                                             (5, "same")])
def test_input_gradient_forms_equal_tensorflows_input_gradient(kernel, padding):
    import keras
    import numpy as np
    import tensorflow as tf
    layer = keras.layers.Conv2D(5, kernel, padding=padding)
    layer.build((None, 7, 6, 3))
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(2, 7, 6, 3)), "float32")
    dy = tf.constant(rng.normal(size=layer.compute_output_shape((2, 7, 6, 3))), "float32")
    want = conv_passes.pass_functions(layer)["input gradient"](x, layer.kernel, dy)
    forms = conv_passes.input_gradient_forms(layer)
    assert tuple(forms) == conv_passes.INPUT_GRADIENT_FORMS
    for name, f in forms.items():
        got = f(x, layer.kernel, dy)
        assert got.shape == x.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=name)


def test_gradient_forms_skip_strided_and_dilated_layers():
    import keras
    for layer in (keras.layers.Conv2D(4, 3, strides=2), keras.layers.Conv2D(4, 3, dilation_rate=2)):
        layer.build((None, 9, 9, 3))
        assert conv_passes.kernel_gradient_forms(layer) == {}
        assert conv_passes.input_gradient_forms(layer) == {}


def test_conv_passes_rows_are_the_layers_flops_over_the_measured_time(tmp_path):
    csv = tmp_path / "passes.csv"
    assert conv_passes.main(["--experiment", "tutorial_cnn", "--batch", "4", "--repeats", "1", "--seconds", "0.05",
                             "--precision", "float32", "--csv", str(csv)]) == 0
    table = pd.read_csv(csv)
    plain, _ = conv_passes.conv_layers(create_model("tutorial_cnn"))
    assert len(table) == 3 * len(plain) and set(table["pass"]) == set(conv_passes.PASSES)
    assert table.layer.nunique() == len(plain)     # names differ: main builds its own model
    for layer, (_, rows) in zip(plain, table.groupby("layer", sort=False)):
        assert len(rows) == 3 and np.allclose(rows.gflop, forward_flops(layer) * 4 / 1e9)
    assert (table.tflop_s > 0).all()         # unrounded: a tiny layer on a slow CPU is not 0.000
    assert np.allclose(table.gflop / table.ms, table.tflop_s)


def test_conv_passes_times_the_gradient_forms_when_asked(tmp_path):
    csv = tmp_path / "passes.csv"
    assert conv_passes.main(["--experiment", "tutorial_cnn", "--batch", "4", "--repeats", "1", "--seconds", "0.05",
                             "--precision", "float32", "--kernel-gradient-forms", "--input-gradient-forms",
                             "--csv", str(csv)]) == 0
    table = pd.read_csv(csv)
    plain, _ = conv_passes.conv_layers(create_model("tutorial_cnn"))
    with_forms = sum(bool(conv_passes.kernel_gradient_forms(layer)) for layer in plain)
    assert with_forms > 0
    assert len(table) == 3 * len(plain) + 3 * with_forms
    assert set(table["pass"]) == (set(conv_passes.PASSES) | set(conv_passes.KERNEL_GRADIENT_FORMS)
                                  | set(conv_passes.INPUT_GRADIENT_FORMS))
    assert (table.tflop_s > 0).all()
