"""`--precision auto`: what it resolves to, the switch that forces bfloat16, and no policy leaking between tests."""
import keras
import pytest

from errors import SuiteError
from experiments import get_experiment
from training.hardware import AUTO_PRECISION_ENV, bf16_units, choose_precision, describe_device, resolve_precision
from training.train import RunOptions, train

pytestmark = pytest.mark.precision


def test_auto_follows_the_override_and_explicit_values_pass_through(monkeypatch):
    monkeypatch.setenv(AUTO_PRECISION_ENV, "mixed_bfloat16")
    assert resolve_precision("auto") == "mixed_bfloat16"
    assert resolve_precision("float32") == "float32"
    monkeypatch.setenv(AUTO_PRECISION_ENV, "float32")
    assert resolve_precision("auto") == "float32"
    monkeypatch.setenv(AUTO_PRECISION_ENV, "bf16")
    with pytest.raises(SuiteError, match="CIFAR10_AUTO_PRECISION='bf16'"):
        resolve_precision("auto")


def test_without_the_override_auto_follows_the_cpu(monkeypatch):
    monkeypatch.delenv(AUTO_PRECISION_ENV, raising=False)
    monkeypatch.setattr("training.hardware.gpus", lambda: [])
    monkeypatch.setattr("training.hardware.CPU_BF16_FASTER", {keras.backend.backend(): True})
    # (flags, bfloat16 matmul speed over float32's, expected): the AMD EPYC measured 1.8x, an Intel
    # Xeon with AVX512-BF16 but no AMX 0.5x
    for flags, speedup, expected in (({"avx2"}, 1.8, "float32"), ({"avx512_bf16"}, 1.8, "mixed_bfloat16"),
                                     ({"avx512_bf16"}, 0.5, "float32"),
                                     ({"amx_bf16", "avx512_bf16"}, 4.0, "mixed_bfloat16")):
        monkeypatch.setattr("training.hardware.cpu_flags", lambda f=flags: f)
        monkeypatch.setattr("training.hardware.cpu_bf16_speedup", lambda s=speedup: s)
        assert resolve_precision("auto") == expected
    monkeypatch.setattr("training.hardware.cpu_flags", lambda: {"amx_bf16"})
    assert bf16_units() == "AMX" and describe_device().endswith("(AMX)")


def test_the_chosen_precision_comes_with_its_reason(monkeypatch):
    monkeypatch.delenv(AUTO_PRECISION_ENV, raising=False)
    monkeypatch.setattr("training.hardware.gpus", lambda: [])
    monkeypatch.setattr("training.hardware.cpu_flags", lambda: {"avx2"})
    assert choose_precision("auto") == ("float32", "auto: CPU without AMX or AVX512-BF16")
    assert choose_precision("mixed_bfloat16") == ("mixed_bfloat16", "asked for, though this CPU has no AMX or "
                                                                    "AVX512-BF16: float32 is likely faster")
    assert choose_precision("mixed_float16") == ("mixed_float16", "asked for, though this CPU has no AMX-FP16 or "
                                                                  "AVX512-FP16: float32 is likely faster")
    assert choose_precision("float32") == ("float32", "asked for")
    monkeypatch.setattr("training.hardware.cpu_flags", lambda: {"amx_bf16", "avx512_fp16"})
    assert choose_precision("mixed_bfloat16") == ("mixed_bfloat16", "asked for")
    assert choose_precision("mixed_float16") == ("mixed_float16", "asked for")
    monkeypatch.setattr("training.hardware.gpus", lambda: [("NVIDIA H100", True)])
    monkeypatch.setattr("training.hardware.cpu_flags", lambda: {"avx2"})
    assert choose_precision("mixed_float16") == ("mixed_float16", "asked for")
    monkeypatch.setattr("training.hardware.gpus", lambda: [])
    monkeypatch.setattr("training.hardware.cpu_flags", lambda: {"amx_bf16"})
    monkeypatch.setattr("training.hardware.CPU_BF16_FASTER", {keras.backend.backend(): False})
    assert choose_precision("auto") == ("float32", f"auto: CPU with AMX, but {keras.backend.backend()} was not "
                                                   "measured faster in bfloat16")
    monkeypatch.setattr("training.hardware.CPU_BF16_FASTER", {keras.backend.backend(): True})
    monkeypatch.setattr("training.hardware.cpu_bf16_speedup", lambda: 4.0)
    assert choose_precision("auto") == ("mixed_bfloat16", "auto: CPU with AMX; its bfloat16 matrix product "
                                                          "measured 4.00x float32's")
    monkeypatch.setattr("training.hardware.cpu_bf16_speedup", lambda: 0.52)
    assert choose_precision("auto") == ("float32", "auto: CPU with AMX, but its bfloat16 matrix product "
                                                   "measured 0.52x float32's")
    monkeypatch.setattr("training.hardware.gpus", lambda: [("NVIDIA H100", True)])
    assert choose_precision("auto") == ("mixed_bfloat16", "auto: the GPU supports bfloat16")
    monkeypatch.setenv(AUTO_PRECISION_ENV, "float32")
    assert choose_precision("auto") == ("float32", f"auto: ${AUTO_PRECISION_ENV}")


def test_the_matmul_probe_measures_both_precisions(monkeypatch):
    """matmul_tflops counts 2 n^3 FLOPs per product; the probe is the median of paired ratios, so a pair
    that a busy CPU slowed unevenly does not move it."""
    import keras

    from training import hardware
    assert 0 < hardware.matmul_tflops("float32", 64, 0.01) < 1e3
    seconds = {"float32": iter([1.0, 0.010, 0.010, 0.300, 0.010, 0.010]),      # warm-up, then 5 pairs
               "bfloat16": iter([1.0, 0.005, 0.005, 0.005, 0.200, 0.005])}    # 2 pairs hit unevenly
    order = []
    monkeypatch.setattr(hardware, "_product_seconds",
                        lambda a, b: order.append(keras.backend.standardize_dtype(a.dtype)) or next(seconds[order[-1]]))
    hardware.cpu_bf16_speedup.cache_clear()
    try:
        assert hardware.cpu_bf16_speedup(pairs=5, n=64) == pytest.approx(2.0)
    finally:
        hardware.cpu_bf16_speedup.cache_clear()
    assert order[2:6] == ["float32", "bfloat16", "bfloat16", "float32"]       # which goes first alternates


def test_a_run_in_bfloat16_sets_the_global_policy(synthetic_dir, tmp_path, monkeypatch):
    """The first half of the leak check: training leaves Keras' global policy at mixed_bfloat16."""
    monkeypatch.setenv(AUTO_PRECISION_ENV, "mixed_bfloat16")
    root, _ = synthetic_dir
    _, metrics = train(get_experiment("lenet5").with_overrides(epochs=1, batch_size=10),
                       RunOptions(data_dir=str(root), val_split=10, output_dir=str(tmp_path), verbose=0))
    assert metrics["precision"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "mixed_bfloat16"


def test_the_next_test_starts_in_float32_again():
    """The second half: conftest's fixture restored float32 after the test above (pytest runs a file in order)."""
    assert keras.config.dtype_policy().name == "float32"
    assert keras.layers.Dense(2).dtype_policy.compute_dtype == "float32"


def test_a_model_saved_in_bfloat16_predicts_in_float32_where_auto_picks_float32(tmp_path, monkeypatch):
    import numpy as np

    from training.evaluate import load_for_inference
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255, dtype="mixed_bfloat16")(inputs)
    x = keras.layers.Conv2D(4, 3, dtype="mixed_bfloat16")(x)
    x = keras.layers.GlobalAveragePooling2D(dtype="mixed_bfloat16")(x)
    keras.Model(inputs, keras.layers.Dense(10, activation="softmax", dtype="float32")(x)).save(tmp_path / "bf16.h5")
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype("float32")
    monkeypatch.setenv(AUTO_PRECISION_ENV, "mixed_bfloat16")
    kept, why = load_for_inference(str(tmp_path / "bf16.h5"))
    assert why == "mixed_bfloat16 (as saved)" and kept.layers[2].dtype_policy.name == "mixed_bfloat16"
    monkeypatch.setenv(AUTO_PRECISION_ENV, "float32")
    rebuilt, why = load_for_inference(str(tmp_path / "bf16.h5"))
    assert why == f"float32 (saved in mixed_bfloat16; auto: ${AUTO_PRECISION_ENV})"
    assert {layer.dtype_policy.name for layer in rebuilt.layers} == {"float32"}
    for a, b in zip(rebuilt.get_weights(), kept.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(rebuilt.predict(images, verbose=0), kept.predict(images, verbose=0), atol=0.02)
    rebuilt.save(tmp_path / "f32.h5")
    assert load_for_inference(str(tmp_path / "f32.h5"))[1] == "float32 (as saved)"
