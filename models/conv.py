"""Conv2D whose kernel gradient is computed as matrix products where that measured faster.

Why our own layer: in mixed_bfloat16 on a 2-core AMD EPYC (AVX512-BF16, no AMX), oneDNN's
kernel gradient (TensorFlow's Conv2DBackpropFilter) runs at half the speed of the forward
pass and was the largest single item of a fast94 training step (docs/speed.md). For fast94's
7 x 7 x 256 convolutions the same gradient as nine matrix products, one per kernel tap
(`shifted_matmul_kernel_gradient`), measured 195-204 ms against 252-283 ms a pass at batch
1,024, in two runs of `python benchmarks/conv_passes.py --experiment fast94
--kernel-gradient-forms`; at 15 x 15 pixels and more, and in float32, it was slower. Training
fast94_muon in mixed_bfloat16 with this layer measured 420 img/s against 393 with Keras'
(median of four alternating pairs, each pair faster; docs/speed.md). Keras has no way to pick
the kernel gradient's algorithm, hence this subclass. Only fast94's conv groups use it: in
baseline, ygnet and pyramid (batch 64-128) the same switch measured within +-2% of Keras' layer
in training (docs/speed.md), so their blocks keep keras.layers.Conv2D.

The layer is Keras' own Conv2D (same arguments, weights and checkpoint layout); only its
`convolution_op` changes, and only where the measurement says it pays (`matmul_gradient_applies`):
TensorFlow backend, bfloat16 compute dtype, stride 1, dilation rate 1, one group,
channels_last, at most MAX_OUTPUT_PIXELS output pixels, on a CPU without AMX and no GPU
(`matmul_gradient_enabled`). The forward pass and the input gradient stay TensorFlow's.

Why not with AMX: oneDNN (v3.7 in TensorFlow 2.21) runs the forward pass and the input gradient
with its brgemm kernels on any CPU with AVX512-BF16 (`ONEDNN_VERBOSE=1` prints
brg_conv_fwd:avx512_core_bf16 and brg_conv_bwd:avx512_core_bf16 on the AMD EPYC), but its brgemm
kernel gradient for bfloat16 is registered for AMX only (src/cpu/cpu_convolution_list.cpp), so
without AMX it falls back to an older kernel (jit_bf16:avx512_core_bf16): the half-speed pass
this layer works around. With AMX that reason is gone, and the matrix products were never
measured against oneDNN there; on a GPU neither. CIFAR10_MATMUL_KERNEL_GRADIENT in the
environment overrides the choice, for A/B measurements: '0' Keras' path everywhere, '1' the
matrix products wherever the shape rules allow (AMX and GPU included), 'auto' (or unset) as above.
"""
import os

import keras
from keras import saving

from devices import cpu_flags, gpus
from errors import SuiteError

# Output pixels (H' x W') up to which the kernel gradient is computed by matrix products:
# fast94's 7 x 7 maps gained in both runs, its 3 x 3 map in one of the two (81 -> 40 ms; 61 -> 70),
# its 15 x 15 and 31 x 31 maps lost in both (module docstring).
MAX_OUTPUT_PIXELS = 64
GRADIENT_SCOPE = "matmul_kernel_gradient"
ENV = "CIFAR10_MATMUL_KERNEL_GRADIENT"


def kernel_gradient_setting():
    """CIFAR10_MATMUL_KERNEL_GRADIENT: '0', '1' or 'auto' (also when unset).

    Raises:
        SuiteError: the variable is set to anything else.
    """
    setting = os.environ.get(ENV, "auto")
    if setting not in ("0", "1", "auto"):
        raise SuiteError(f"{ENV}={setting!r}: use 0 (Keras' kernel gradient), 1 (matrix products) or auto")
    return setting


def matmul_gradient_enabled():
    """Whether this process computes kernel gradients by matrix products where the layer's shape
    allows: on the TensorFlow backend, by `kernel_gradient_setting` ('0' no, '1' yes, 'auto': only on
    a CPU without AMX and with no GPU; module docstring); never on other backends.

    Raises:
        SuiteError: CIFAR10_MATMUL_KERNEL_GRADIENT is set to anything but 0, 1 or auto.
    """
    setting = kernel_gradient_setting()
    if keras.backend.backend() != "tensorflow" or setting == "0":
        return False
    if setting == "1":
        return True
    return "amx_bf16" not in cpu_flags() and not gpus()


def shifted_matmul_kernel_gradient(x, dy, kernel_shape, padding):
    """The gradient of a stride-1, dilation-1 convolution with respect to its kernel, as kh x kw
    matrix products: for each kernel tap (i, j), the input window that tap sees, reshaped to
    (N H' W', C_in), transposed times dy reshaped to (N H' W', C_out). TensorFlow ops.

    Args:
        x: (N, H, W, C_in) the convolution's input.
        dy: (N, H', W', C_out) the gradient of the loss with respect to its output.
        kernel_shape: (kh, kw, C_in, C_out).
        padding: "SAME" (TensorFlow's: the odd padding pixel at the end) or "VALID".

    Returns:
        (kh, kw, C_in, C_out) in x's dtype: what Conv2DBackpropFilter computes, up to rounding.
    """
    import tensorflow as tf
    kh, kw, c_in, c_out = kernel_shape
    if padding == "SAME":
        x = tf.pad(x, [[0, 0], [(kh - 1) // 2, kh // 2], [(kw - 1) // 2, kw // 2], [0, 0]])
    h, w = dy.shape[1], dy.shape[2]
    g = tf.reshape(dy, (-1, c_out))
    taps = [tf.matmul(tf.reshape(x[:, i:i + h, j:j + w, :], (-1, c_in)), g, transpose_a=True)
            for i in range(kh) for j in range(kw)]
    return tf.reshape(tf.stack(taps), (kh, kw, c_in, c_out))


@saving.register_keras_serializable(package="cifar_suite")
class Conv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D whose kernel gradient is `shifted_matmul_kernel_gradient` where
    `matmul_gradient_applies` (module docstring); Keras' Conv2D everywhere else.

    Input (N, H, W, C_in), output (N, H', W', filters), as Keras' layer.

    Raises:
        SuiteError: CIFAR10_MATMUL_KERNEL_GRADIENT is set to anything but 0, 1 or auto (checked
            here, when the model is built, since Keras rewraps what a layer's call raises).
    """

    def __init__(self, *args, **kwargs):
        kernel_gradient_setting()
        super().__init__(*args, **kwargs)

    def matmul_gradient_applies(self, inputs):
        """True when this call's kernel gradient is computed by matrix products (see the module docstring)."""
        out_pixels = self.compute_output_shape(inputs.shape)[1:3]
        return (matmul_gradient_enabled() and keras.backend.standardize_dtype(self.compute_dtype) == "bfloat16"
                and tuple(self.strides) == (1, 1) and tuple(self.dilation_rate) == (1, 1) and self.groups == 1
                and self.data_format == "channels_last" and None not in out_pixels
                and out_pixels[0] * out_pixels[1] <= MAX_OUTPUT_PIXELS)

    def convolution_op(self, inputs, kernel):
        if not self.matmul_gradient_applies(inputs):
            return super().convolution_op(inputs, kernel)
        import tensorflow as tf       # only on the TensorFlow backend (matmul_gradient_applies)
        padding, strides = self.padding.upper(), [1, 1, 1, 1]
        forward = super().convolution_op       # Keras' own forward pass

        @tf.custom_gradient
        def conv(x, k):
            def grad(dy):
                # the gradient function's ops get no layer scope of their own; this one lets
                # benchmarks/profile_step.py count them with the convolutions
                with tf.name_scope(GRADIENT_SCOPE):
                    dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=k, out_backprop=dy,
                                                        strides=strides, padding=padding)
                    return dx, shifted_matmul_kernel_gradient(x, dy, k.shape, padding)
            return forward(x, k), grad

        return conv(inputs, tf.convert_to_tensor(kernel))
