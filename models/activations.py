"""Activations the suite's models take by name: the exact GELU computed faster on TensorFlow, and
GELU's tanh approximation (Hendrycks and Gimpel 2016), which a Keras activation string cannot ask for.

`gelu` is the exact GELU, x Phi(x), the same function as Keras' "gelu" (to float32 rounding), and
the one fast94's recipes name "gelu". Why our own: on TensorFlow, Keras' "gelu" is `tf.nn.gelu`,
which computes Phi from `Erfc` and leaves its gradient to autodiff; the suite's takes Phi from `Erf`
and writes the gradient by hand, Phi(x) + x phi(x), in float32. On a 2-core AMD EPYC (AVX512-BF16,
no AMX), forward and backward over fast94_muon's seven activation shapes at batch 2,000
(`tf.function`, median of 7 calls) took 382 ms against Keras' 587 ms, and fast94_muon trained 3.0%
and 8.3% faster in bfloat16 (the A/B in both orders), 4.2% in float32 (docs/speed.md, "GELU from
erf"). No library offers it; Keras' other backends keep Keras' function (their compilers fuse it). CIFAR10_ERF_GELU=0 gives Keras' function everywhere (for
an A/B measurement), read when a model is traced.

The tanh approximation is a different function, offered for fast94 as an option (`--hp
activation=gelu_tanh`) with its measured speed and accuracy in docs/speed.md: a change that
trades accuracy for speed is not a default.
"""
import math

import keras
from keras import activations, saving

from models.switches import tensorflow_path_on

ERF_GELU_SWITCH = "CIFAR10_ERF_GELU"
COMPUTED_IN_FLOAT32 = ("float32", "bfloat16", "float16")   # the half types are cast up and back


def erf_gelu_enabled():
    """True when `gelu` computes its own form: TensorFlow backend and CIFAR10_ERF_GELU not '0'."""
    return tensorflow_path_on(ERF_GELU_SWITCH)


@saving.register_keras_serializable(package="cifar_suite")
def gelu(x):
    """The exact GELU, x Phi(x) (Phi: the standard normal CDF), as Keras' `gelu(x)`.

    On TensorFlow (`erf_gelu_enabled`) Phi(x) = (1 + erf(x / sqrt 2)) / 2 in float32, with the
    gradient Phi(x) + x exp(-x^2 / 2) / sqrt(2 pi) written by hand; a bfloat16 or float16 input is
    computed in float32 and the result cast back (in bfloat16, 1 + erf loses Phi's few significant
    bits below x = -2). Elsewhere, or for other dtypes, Keras' function. Elementwise: any shape in,
    the same shape and dtype out; max abs difference from float64 over [-12, 12] 1.1e-6 (value) and
    2.2e-7 (gradient) in float32, against Keras' 3.8e-7 and 1.5e-7.
    """
    if not erf_gelu_enabled() or keras.backend.standardize_dtype(x.dtype) not in COMPUTED_IN_FLOAT32:
        return activations.gelu(x, approximate=False)
    import tensorflow as tf       # only on the TensorFlow backend (erf_gelu_enabled)

    @tf.custom_gradient
    def gelu_float32(x):
        cdf = tf.math.erf(x * math.sqrt(0.5)) * 0.5 + 0.5

        def grad(dy):
            with tf.name_scope("gelu_gradient"):    # its own scope, so benchmarks/profile_step.py counts it as GELU
                return dy * (cdf + x * tf.exp(tf.square(x) * -0.5) * (1 / math.sqrt(2 * math.pi)))
        return x * cdf, grad

    return tf.cast(gelu_float32(tf.cast(x, tf.float32)), x.dtype)    # tf.cast to x's own dtype returns x


@saving.register_keras_serializable(package="cifar_suite")
def gelu_tanh(x):
    """GELU's tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): Keras'
    `gelu(x, approximate=True)` under a name a saved model's config can hold. Elementwise: any
    shape in, the same shape and dtype out."""
    return activations.gelu(x, approximate=True)


# Activation names taken besides Keras' own, and Keras' "gelu" computed faster.
SUITE_ACTIVATIONS = {"gelu": gelu, "gelu_tanh": gelu_tanh}


def get_activation(name):
    """The activation for `name`: the suite's function (SUITE_ACTIVATIONS) or Keras' name as given
    (Keras resolves and checks it when a layer is built; an unknown name is refused there)."""
    return SUITE_ACTIVATIONS.get(name, name)
