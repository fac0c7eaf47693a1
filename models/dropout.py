"""Dropout whose mask costs half the random numbers on the TensorFlow backend.

Why our own layer: Keras 3's Dropout calls TensorFlow's `stateless_dropout`, which draws one
uniform random number (a Philox output) per activation in the activation's dtype, compares it
with the rate and multiplies. On a 2-core CPU (AMD EPYC, AVX512-BF16, no AMX) the draws were
pyramid's largest op after the convolutions (StatelessRandomUniformV2, 130 ms of a bfloat16
training step; docs/speed.md). Here each 32-bit random integer gives the masks of two
activations (its two 16-bit halves), which halved the forward and backward time of dropout over
(128, 32, 32, 64) bfloat16 activations (73 -> 35 ms, session 19). It also keeps the rate the
recipe asked for under mixed_bfloat16: Keras' layer then draws bfloat16 uniform numbers, whose
few random bits round the rate (over 4.2 million activations it dropped 0.1013 for a rate of 0.1,
0.2027 for 0.2); here the rate is exact to 2^-17. No library offers this, hence this subclass.

The layer is Keras' own (same arguments, config and checkpoints; no weights); only its
training-mode `call` changes, on the TensorFlow backend, for 0 < rate < 1 without `noise_shape`.
Everything else (inference, JAX, PyTorch, `noise_shape`) runs Keras' own `call`. Set
CIFAR10_FAST_DROPOUT=0 in the environment to use Keras' path everywhere (for an A/B measurement).
"""

import keras
from keras import saving

from models.switches import tensorflow_path_on

HALF_RANGE = 1 << 16          # a mask draws a 16-bit integer: keep where it is >= round(rate * 2^16)


def fast_enabled():
    """True when the two-masks-per-draw path may be used: TensorFlow backend, CIFAR10_FAST_DROPOUT not '0'."""
    return tensorflow_path_on("CIFAR10_FAST_DROPOUT")


@saving.register_keras_serializable(package="cifar_suite")
class Dropout(keras.layers.Dropout):
    """keras.layers.Dropout whose training-mode mask comes from 16-bit halves of 32-bit random integers.

    Input and output: any shape, the layer's dtype. Training mode zeroes each activation
    independently with probability round(rate x 2^16) / 2^16 (within 2^-17 of `rate`) and scales the
    others by 1 / (1 - rate), as Keras' layer does; inference returns the input. The draws come from
    the layer's Keras seed generator (`seed`), so a seeded model repeats its masks.
    """

    def _fast_applies(self, training):
        return (training and fast_enabled() and self.noise_shape is None
                and 0 < round(self.rate * HALF_RANGE) < HALF_RANGE)

    def call(self, inputs, training=False):
        if not self._fast_applies(training):
            return super().call(inputs, training=training)
        import tensorflow as tf       # only on the TensorFlow backend (_fast_applies)
        seed = self.seed_generator.next()
        # Keras keeps seed states as int64 variables; TensorFlow's stateless ops take int32 (Keras does the same)
        seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), "int32")
        size = tf.size(inputs, out_type=tf.int32)
        bits = tf.random.stateless_uniform(((size + 1) // 2)[None], seed=seed, minval=None, maxval=None,
                                           dtype=tf.uint32)    # every 32-bit value equally likely
        halves = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size]
        keep = halves >= tf.constant(round(self.rate * HALF_RANGE), tf.uint16)
        scale = tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return inputs * scale * tf.cast(tf.reshape(keep, tf.shape(inputs)), inputs.dtype)
