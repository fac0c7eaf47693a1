"""How close each model trains to the machine's limit: measured matrix-product peak, training FLOPs per
image (models.flops), training images/s of the suite's default path, and the fraction of peak.

    python benchmarks/roofline.py --data-dir /tmp/cifar10 [--models baseline,pyramid,ygnet,fast94]
        [--images 2048] [--precision auto|float32|mixed_bfloat16] [--conv-repeats 3] [--csv roofline.csv]

In one process: first the peak, as the TFLOP/s of an n x n matrix product
(training.hardware.matmul_tflops: keras.ops.matmul on the active backend, 2 n^3 FLOPs,
repeated for `--seconds`) in float32 and, where the CPU has bfloat16 units (AMX or AVX512-BF16; a GPU always), in bfloat16; the script prints which it
measured and why. Then, per model (the models of benchmarks/throughput.py), training img/s of
the suite's default path (the recipe's batch, augmentation, optimizer; precision as asked,
default 'auto'), the second of two epochs over `--images` real images (as throughput.py), and
achieved TFLOP/s = img/s x training FLOPs per image, as a fraction of the peak of the precision
the model trained in (float32 peak for float32, bfloat16 peak for mixed_bfloat16).

A matrix product is not every CPU's ceiling (on the AMD EPYC of the README single convolution
passes ran 1.3-1.4x faster), so each row also gets a second ceiling, the model's own: the fastest
of the training passes of its plain Conv2D layers, each run on its own at the recipe's batch in
the model's precision (benchmarks/conv_passes.py, median of `--conv-repeats` calls; TensorFlow
only, `--conv-repeats 0` skips it), and the fraction of that.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def peaks(n, seconds):
    """{'float32': TFLOP/s, 'bfloat16': TFLOP/s or None} and why bfloat16 was (not) measured."""
    from training.hardware import bf16_units, gpus, has_half_units, matmul_tflops
    out, on_gpu = {"float32": matmul_tflops("float32", n, seconds), "bfloat16": None}, bool(gpus())
    if on_gpu or has_half_units("mixed_bfloat16"):
        out["bfloat16"] = matmul_tflops("bfloat16", n, seconds)
        why = "measured: " + ("a GPU" if on_gpu else f"the CPU has {bf16_units().replace('no AMX, ', '')}")
    else:
        why = "not measured: the CPU has neither AMX nor AVX512-BF16 (bfloat16 would be emulated)"
    return out, f"bfloat16 {why}"


def conv_peak(model, batch, dtype, repeats):
    """TFLOP/s of the fastest training pass (forward, input gradient, kernel gradient) of the plain Conv2D
    layers of a built model, each pass on its own at `batch` images in `dtype` ("float32" or "bfloat16";
    benchmarks/conv_passes.layer_rows); None on another backend than TensorFlow, with `repeats` 0, or
    for a model without a plain Conv2D layer."""
    import keras
    if not repeats or keras.backend.backend() != "tensorflow":
        return None
    from conv_passes import layer_rows
    return max((row["tflop_s"] for row in layer_rows(model, batch, dtype, repeats)), default=None)


def model_row(name, x, y, precision, peak, conv_repeats=3):
    """One table row: training FLOPs per image, img/s (suite's default path), TFLOP/s, fraction of the matmul
    peak and of the model's convolution peak (conv_peak; None where not measured)."""
    import keras

    from experiments import get_experiment
    from models.flops import training_flops
    from throughput import compiled, suite_speed
    exp = get_experiment(name)
    model = compiled(exp, precision, x)
    flops, _ = training_flops(model)
    speed = suite_speed(model, exp, x, y)
    achieved = speed * flops / 1e12
    unit = "bfloat16" if precision == "mixed_bfloat16" else "float32"
    ceiling = conv_peak(model, exp.batch_size, unit, conv_repeats)
    keras.mixed_precision.set_dtype_policy("float32")
    return {"model": name, "precision": precision, "batch": exp.batch_size,
            "training_gflop_per_image": round(flops / 1e9, 3), "train_img_s": round(speed, 1),
            "achieved_tflop_s": round(achieved, 3), "peak_tflop_s": round(peak[unit], 3) if peak[unit] else None,
            "fraction_of_peak": round(achieved / peak[unit], 3) if peak[unit] else None,
            "conv_peak_tflop_s": round(ceiling, 4) if ceiling else None,       # 4 places: a tiny model is not 0
            "fraction_of_conv_peak": round(achieved / ceiling, 3) if ceiling else None}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("CIFAR10_DIR"))
    p.add_argument("--models", default="baseline,pyramid,ygnet,fast94")
    p.add_argument("--images", type=int, default=2048)
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "mixed_bfloat16"])
    p.add_argument("--matmul-size", type=int, default=2048)
    p.add_argument("--seconds", type=float, default=3.0, help="seconds of matrix products per peak")
    p.add_argument("--conv-repeats", type=int, default=3,
                   help="timed calls per convolution pass for the model's convolution peak (0: not measured)")
    p.add_argument("--csv")
    a = p.parse_args(argv)
    if a.conv_repeats < 0:
        p.error(f"--conv-repeats must be 0 or more, got {a.conv_repeats}")
    import pandas as pd

    import run
    run.import_backend_quietly()
    from data import load_cifar10
    from throughput import tf_logger_quiet
    from training.hardware import choose_precision, cpu_flags, describe_device
    from training.rundir import write_csv
    precision, reason = choose_precision(a.precision)
    flags = sorted(cpu_flags() & {"amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx512_vnni"})
    print(f"{describe_device()}; CPU flags: {' '.join(flags) or 'none of AMX/AVX-512'}; precision {precision} "
          f"({reason})")
    peak, why = peaks(a.matmul_size, a.seconds)
    print(f"peak ({a.matmul_size} x {a.matmul_size} matmul): float32 {peak['float32']:.3f} TFLOP/s; "
          + (f"bfloat16 {peak['bfloat16']:.3f} TFLOP/s" if peak["bfloat16"] else "") + f" ({why})")
    (x, y), _ = load_cifar10(a.data_dir)
    tf_logger_quiet()
    table = pd.DataFrame([model_row(name, x[:a.images], y[:a.images], precision, peak, a.conv_repeats)
                          for name in a.models.split(",")])
    print(table.to_string(index=False))
    if a.csv:
        write_csv(a.csv, table.assign(float32_peak=peak["float32"], bfloat16_peak=peak["bfloat16"],
                                      device=describe_device()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
