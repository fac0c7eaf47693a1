"""BatchNormalization that runs as TensorFlow's fused kernel on the TensorFlow backend.

Why our own layer: Keras 3's BatchNormalization computes batch statistics and the
normalization from separate ops (mean, squared difference, multiply, add, rsqrt, and
their gradients; keras-team/keras-core issue 225, "BatchNorm is slow"), where tf.keras 2
called TensorFlow's fused kernel. On a 2-core CPU (AMD EPYC, AVX512-BF16, no AMX) the
fused kernel's forward and backward pass over (128, 32, 32, 128) or (1024, 16, 16, 64)
activations measured 3.5-5x faster, in float32 and bfloat16, and BatchNorm was 24% of a
pyramid training step's op time (benchmarks/profile_step.py; docs/speed.md). No library
offers the fused path under Keras 3, hence this subclass.

The layer is Keras' own (same arguments, weights, weight names and checkpoint layout);
only its `call` changes, and only where TensorFlow's fused kernel computes exactly what
Keras' does: TensorFlow backend, 4-D input normalized over its last axis, no mask, no
renorm, no synchronized statistics. Everything else (JAX, PyTorch, other shapes) runs
Keras' own `call`. Set CIFAR10_FUSED_BATCHNORM=0 in the environment to use Keras' path
everywhere (for an A/B measurement).
"""

import keras
from keras import ops, saving

from models.switches import tensorflow_path_on


def fused_enabled():
    """True when the fused path may be used: the TensorFlow backend and CIFAR10_FUSED_BATCHNORM not '0'."""
    return tensorflow_path_on("CIFAR10_FUSED_BATCHNORM")


@saving.register_keras_serializable(package="cifar_suite")
class BatchNormalization(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization computed by TensorFlow's FusedBatchNormV3 where it can be.

    Input and output (N, H, W, C), or any shape Keras' layer takes (those run Keras' code).
    Training mode normalizes with the batch's mean and biased variance over (N, H, W) and
    updates the moving statistics exactly as Keras does (moving = moving x momentum +
    batch x (1 - momentum), biased variance: the kernel's Bessel-corrected variance is
    scaled back by (n - 1) / n); inference mode uses the moving statistics. Statistics are
    computed in float32 whatever the input's dtype (as Keras does); the output has the
    layer's compute dtype.
    """

    def _fused_applies(self, inputs, mask):
        return (fused_enabled() and mask is None and not self.renorm and not self.synchronized
                and len(inputs.shape) == 4 and self.axis in (-1, 3)
                and keras.backend.standardize_dtype(inputs.dtype) in ("float32", "bfloat16", "float16"))

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf       # only on the TensorFlow backend (_fused_applies)
        channels = inputs.shape[-1]
        gamma = ops.cast(self.gamma, "float32") if self.scale else tf.ones((channels,), "float32")
        beta = ops.cast(self.beta, "float32") if self.center else tf.zeros((channels,), "float32")
        training = bool(training) and self.trainable
        # training: the batch's statistics (the kernel takes empty mean/variance); inference: the moving ones
        empty = tf.zeros((0,), "float32")
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=gamma, offset=beta, epsilon=self.epsilon, exponential_avg_factor=1.0,
            mean=empty if training else ops.cast(self.moving_mean, "float32"),
            variance=empty if training else ops.cast(self.moving_variance, "float32"),
            data_format="NHWC", is_training=training)
        if training:
            n = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), "float32")
            variance = variance * tf.maximum(n - 1.0, 0.0) / tf.maximum(n, 1.0)   # back to the biased variance
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return ops.cast(y, self.compute_dtype)
