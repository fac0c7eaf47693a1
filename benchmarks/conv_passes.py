"""TFLOP/s of each training pass of every convolution of an experiment's model: the forward pass,
the gradient with respect to the input and the gradient with respect to the kernel.

    python benchmarks/conv_passes.py [--experiment fast94] [--batch 1024] [--repeats 5]
        [--precision both|float32|bfloat16] [--kernel-gradient-forms] [--input-gradient-forms]
        [--csv conv_passes.csv]

Why: roofline.py gives a model's fraction of a matrix product's peak as one number; this says
which pass of which layer holds it back. Each pass runs on its own as the TensorFlow op a
training step runs for it (Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter, as Keras' Conv2D
layer's gradient calls them), on random inputs of the layer's shapes at the recipe's batch
(`--batch` overrides), two warm-up calls then the median of `--repeats` timed calls. FLOPs per
pass: models.flops.forward_flops x batch, the same for the three (the usual rule; roofline.py's
x3; a training step skips the input gradient of a layer whose input needs none, such as a
model's first layer). The peak beside them is roofline.py's (an n x n matrix product). bfloat16 is measured
where roofline.py measures its peak (a GPU, or a CPU with AMX or AVX512-BF16); the first line
says which. Layers: keras.layers.Conv2D with one group (others are listed as skipped: Keras
computes grouped, depthwise and separable convolutions through other ops). TensorFlow only.

`--kernel-gradient-forms` also times two other ways to compute the kernel gradient of each
stride-1, dilation-1 layer from matrix products (KERNEL_GRADIENT_FORMS), to see whether any beats
oneDNN's Conv2DBackpropFilter at these shapes. `--input-gradient-forms` times the input gradient
of each stride-1, dilation-1 layer as one forward convolution (INPUT_GRADIENT_FORMS) beside
Conv2DBackpropInput. Without oneDNN (TensorFlow's default on x86 CPUs without AVX512_VNNI,
AVX512_BF16, AVX-VNNI or AMX; run.py turns it on) Eigen's Conv2DBackpropInput
ran at half the forward pass's speed and this form at its speed; with oneDNN both were equal
(docs/speed.md, "A CPU without AVX-512").
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the suite's root on the path first)

PASSES = ("forward", "input gradient", "kernel gradient")
KERNEL_GRADIENT_FORMS = ("kernel gradient, shifted matmuls (one per tap)", "kernel gradient, im2col matmul")
INPUT_GRADIENT_FORMS = ("input gradient, forward convolution",)


def conv_layers(model):
    """(the plain Conv2D layers of a built model, the names of its other convolution layers)."""
    from keras import layers
    plain, skipped = [], []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, layers.Conv2D) and layer.groups == 1:   # models.conv.Conv2D included
            plain.append(layer)
        elif isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D)):
            skipped.append(layer.name)
    return plain, skipped


def pass_functions(layer):
    """{pass: f(x, kernel, dy)} for one Conv2D layer: TensorFlow's three ops with the layer's strides,
    padding and dilation rate. x (N, H, W, C_in), kernel (kh, kw, C_in, C_out), dy (N, H', W', C_out)
    in one dtype; forward returns (N, H', W', C_out), the gradients x's and kernel's shapes."""
    import tensorflow as tf
    if layer.data_format != "channels_last":
        raise ValueError(f"{layer.name}: only channels_last convolutions are measured")
    conv = dict(strides=[1, *layer.strides, 1], padding=layer.padding.upper(),
                dilations=[1, *layer.dilation_rate, 1], data_format="NHWC")
    return {"forward": lambda x, k, dy: tf.raw_ops.Conv2D(input=x, filter=k, **conv),
            "input gradient": lambda x, k, dy: tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=k, out_backprop=dy, **conv),
            "kernel gradient": lambda x, k, dy: tf.raw_ops.Conv2DBackpropFilter(
                input=x, filter_sizes=tf.shape(k), out_backprop=dy, **conv)}


def kernel_gradient_forms(layer):
    """{form: f(x, kernel, dy)}: the kernel gradient of one stride-1, dilation-1 Conv2D layer as
    matrix products rather than TensorFlow's Conv2DBackpropFilter; {} for other layers.

    "shifted matmuls (one per tap)", kh x kw products (9 for a 3 x 3 kernel): models.conv's
    shifted_matmul_kernel_gradient, the form models.conv.Conv2D trains with where it applies.
    "im2col matmul": tf.image.extract_patches' (N H' W', kh kw C_in) patches,
    transposed times dy, in one product. Both return the kernel's shape (kh, kw, C_in, C_out), the
    same values as Conv2DBackpropFilter (up to rounding); x (N, H, W, C_in), dy (N, H', W', C_out).
    """
    import tensorflow as tf

    from models.conv import shifted_matmul_kernel_gradient
    if tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1):
        return {}
    kh, kw, c_in, c_out = layer.kernel.shape
    padding = layer.padding.upper()

    def shifted(x, kernel, dy):
        return shifted_matmul_kernel_gradient(x, dy, (kh, kw, c_in, c_out), padding)

    def im2col(x, kernel, dy):
        patches = tf.image.extract_patches(x, [1, kh, kw, 1], [1, 1, 1, 1], [1, 1, 1, 1], padding)
        return tf.reshape(tf.matmul(tf.reshape(patches, (-1, kh * kw * c_in)), tf.reshape(dy, (-1, c_out)),
                                    transpose_a=True), (kh, kw, c_in, c_out))

    return dict(zip(KERNEL_GRADIENT_FORMS, (shifted, im2col)))


def input_gradient_forms(layer):
    """{form: f(x, kernel, dy)}: the input gradient of one stride-1, dilation-1 Conv2D layer as one
    forward convolution rather than TensorFlow's Conv2DBackpropInput; {} for other layers.

    "forward convolution": dy, padded by what the forward pass did not pad (kh - 1 pixels in all,
    less the forward padding on each side; TensorFlow's SAME puts the odd pixel at the end),
    convolved with the kernel flipped in both spatial axes and with C_in and C_out swapped.
    x (N, H, W, C_in), kernel (kh, kw, C_in, C_out), dy (N, H', W', C_out); returns x's shape,
    the same values as Conv2DBackpropInput (up to rounding).
    """
    import tensorflow as tf
    if tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1):
        return {}
    kh, kw = layer.kernel.shape[:2]
    same = layer.padding == "same"
    pads = [[0, 0], *([k - 1 - (k - 1) // 2, k - 1 - k // 2] if same else [k - 1, k - 1] for k in (kh, kw)), [0, 0]]

    def forward_convolution(x, kernel, dy):
        return tf.nn.conv2d(dy, tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]), 1, pads)

    return {INPUT_GRADIENT_FORMS[0]: forward_convolution}


def median_seconds(fn, repeats):
    """Median wall seconds of `repeats` calls of fn() after two warm-up calls (the first traces)."""
    fn(), fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn().numpy()                     # .numpy() waits for the op to finish
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def layer_rows(model, batch, dtype, repeats, forms=False, input_forms=False):
    """One row per plain Conv2D layer and pass: shapes, GFLOP per pass at `batch`, ms, TFLOP/s.

    Args:
        model: a built functional keras.Model (its layers' input/output shapes are read).
        batch: images per pass.
        dtype: "float32" or "bfloat16", of inputs, kernel and output gradient.
        repeats: timed calls per pass (the median is kept).
        forms: also time kernel_gradient_forms (rows for the layers that have them).
        input_forms: also time input_gradient_forms (the same).
    """
    import tensorflow as tf

    from models.flops import forward_flops
    rows = []
    rng = tf.random.Generator.from_seed(0)
    for layer in conv_layers(model)[0]:
        x = tf.cast(rng.normal((batch, *layer.input.shape[1:])), dtype)
        kernel = tf.cast(rng.normal(layer.kernel.shape) * 0.05, dtype)
        dy = tf.cast(rng.normal((batch, *layer.output.shape[1:])), dtype)
        flops = forward_flops(layer) * batch
        passes = {**pass_functions(layer), **(kernel_gradient_forms(layer) if forms else {}),
                  **(input_gradient_forms(layer) if input_forms else {})}
        for name, f in passes.items():
            fn = tf.function(lambda f=f: f(x, kernel, dy))
            seconds = median_seconds(fn, repeats)
            rows.append({"layer": layer.name, "input": "x".join(map(str, layer.input.shape[1:])),
                         "kernel": "x".join(map(str, layer.kernel.shape)), "dtype": dtype, "pass": name,
                         "gflop": flops / 1e9, "ms": 1000 * seconds, "tflop_s": flops / seconds / 1e12})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="fast94")
    p.add_argument("--batch", type=run.positive_int, help="images per pass (default: the recipe's batch)")
    p.add_argument("--repeats", type=run.positive_int, default=5)
    p.add_argument("--precision", default="both", choices=["both", "float32", "bfloat16"])
    p.add_argument("--matmul-size", type=run.positive_int, default=2048)
    p.add_argument("--seconds", type=float, default=3.0, help="seconds of matrix products per peak")
    p.add_argument("--kernel-gradient-forms", action="store_true",
                   help="also time the kernel gradient as matrix products (KERNEL_GRADIENT_FORMS)")
    p.add_argument("--input-gradient-forms", action="store_true",
                   help="also time the input gradient as a forward convolution (INPUT_GRADIENT_FORMS)")
    p.add_argument("--csv")
    a = p.parse_args(argv)
    run.import_backend_quietly()
    import keras
    import pandas as pd

    from experiments import get_experiment
    from models import create_model
    from roofline import peaks
    from throughput import tf_logger_quiet
    from training.hardware import describe_device
    from training.rundir import write_csv
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("conv_passes.py measures TensorFlow's convolution ops: run it with KERAS_BACKEND=tensorflow")
    tf_logger_quiet()                    # each pass is its own tf.function: retracing warnings
    exp = get_experiment(a.experiment)
    model = create_model(exp.model, **exp.model_kwargs)
    batch = a.batch or exp.batch_size
    peak, why = peaks(a.matmul_size, a.seconds)
    dtypes = [d for d in ("float32", "bfloat16") if a.precision in ("both", d) and peak[d]]
    plain, skipped = conv_layers(model)
    print(f"{a.experiment}, batch {batch}, {describe_device()}; {len(plain)} Conv2D layers"
          + (f" (skipped: {', '.join(skipped)})" if skipped else "") + f"; peak ({a.matmul_size} x "
          f"{a.matmul_size} matmul): " + ", ".join(f"{d} {peak[d]:.3f} TFLOP/s" for d in peak if peak[d])
          + f" ({why})")
    table = pd.DataFrame([row for d in dtypes for row in layer_rows(model, batch, d, a.repeats,
                                                                          a.kernel_gradient_forms,
                                                                          a.input_gradient_forms)])
    if table.empty:
        raise SystemExit(f"{a.experiment} has no plain Conv2D layer to measure")
    table["of_peak"] = [f"{100 * t / peak[d]:.0f}%" for t, d in zip(table.tflop_s, table.dtype)]
    shown = {"gflop": 4, "ms": 2, "tflop_s": 3}          # rounded for reading; the CSV keeps full precision
    print(table.round(shown).to_markdown(index=False))
    totals = table.groupby(["dtype", "pass"], sort=False).agg(gflop=("gflop", "sum"), ms=("ms", "sum"))
    totals["tflop_s"] = totals.gflop / totals.ms
    print("all layers:\n" + totals.round(shown).reset_index().to_markdown(index=False))
    if a.csv:
        write_csv(a.csv, table.assign(batch=batch, device=describe_device(),
                                      peak_tflop_s=[peak[d] for d in table.dtype]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
