"""fast94: an airbench94-style network (Keller Jordan, 2024, "94% on CIFAR-10 in 3.29 seconds
on a single GPU", github.com/KellerJordan/cifar10-airbench, airbench94.py).

The recipe that trains it (Nesterov SGD, batch 1024, label smoothing 0.2, warm-up then
linear decay, weight averaging, alternating flips, multi-view test-time augmentation) is
the `fast94` experiment in experiments/recipes.py; `models.tta` builds the test-time views.
"""
import numpy as np
from keras import Model, initializers, layers, ops, saving

from experiments.fields import Field
from models.activations import get_activation
from models.batchnorm import BatchNormalization
from models.blocks import classifier_output, rescale_input
from models.conv import Conv2D
from models.registry import register_model

# Patch whitening of airbench94: eigenvectors of the 2x2 patch covariance of 5,000 training images.
WHITENING_IMAGES = 5000


@saving.register_keras_serializable(package="cifar_suite")
class PatchWhitening(layers.Layer):
    """A frozen 2x2 convolution that whitens image patches, computed from training images.

    Input (N, H, W, C) floats; output (N, H-1, W-1, 2*4*C): the projections of each
    2x2 patch on the eigenvectors of the patch covariance, scaled by 1/sqrt(eigenvalue
    + eps x the mean pixel variance), and their negatives (airbench94's `init_whitening_conv`,
    whose eps 5e-4 applies to images normalized to unit variance). Call `adapt(images)`
    before training; the kernel is never trained, the bias is (airbench trains it for
    the first 3 epochs only: callbacks.WhiteningBiasDecay). Unlike airbench the patches are
    centred on their mean, which replaces its per-channel normalization. The bias is stored
    as bias / `bias_scale`, so SGD moves it bias_scale**2 times faster (as ScaledBias).
    """

    def __init__(self, patch_size=2, eps=5e-4, bias_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.patch_size, self.eps, self.bias_scale = patch_size, eps, bias_scale

    def build(self, input_shape):
        p, c = self.patch_size, input_shape[-1]
        self.kernel = self.add_weight(shape=(p, p, c, 2 * p * p * c), initializer="zeros",
                                      trainable=False, name="kernel")
        self.bias = self.add_weight(shape=(2 * p * p * c,), initializer="zeros", name="bias")

    def adapt(self, images):
        """Set the kernel from training images: float array (N, H, W, C) as the layer sees them."""
        p = self.patch_size
        x = np.asarray(images, dtype=np.float64)
        h, w, c = x.shape[1:]
        patches = np.stack([x[:, i:h - p + 1 + i, j:w - p + 1 + j, :] for i in range(p) for j in range(p)], axis=3)
        patches = patches.reshape(-1, p * p * c)          # (pixels, p*p*C) in (row, col, channel) order
        mean = patches.mean(axis=0)
        covariance = np.cov(patches - mean, rowvar=False)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        eps = self.eps * np.trace(covariance) / len(covariance)                   # relative to the pixel variance
        scaled = eigenvectors[:, ::-1] / np.sqrt(eigenvalues[::-1] + eps)         # columns: largest first
        kernel = np.concatenate([scaled, -scaled], axis=1)
        self.kernel.assign(kernel.reshape(p, p, c, -1).astype("float32"))
        self.bias.assign((-mean @ kernel / self.bias_scale).astype("float32"))

    def call(self, x):
        bias = self.bias * self.bias_scale
        return ops.conv(x, ops.cast(self.kernel, x.dtype), padding="valid") + ops.cast(bias, x.dtype)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "eps": self.eps, "bias_scale": self.bias_scale}


@saving.register_keras_serializable(package="cifar_suite")
class PartialDirac(initializers.Initializer):
    """PyTorch's default convolution init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with the first
    min(in, out) filters set to the identity (airbench94's `Conv.reset_parameters`).

    Shape (kh, kw, in, out); filter i < in passes input channel i through unchanged.
    `identity=False` leaves out the identity filters (the ablation in benchmarks/ablation.py).
    The uniform part is Keras' `RandomUniform`: `seed=None` draws from the seed that
    `keras.utils.set_random_seed` (`run.py train --seed`) set, so a seeded run repeats.
    """

    def __init__(self, seed=None, identity=True):
        self.seed, self.identity = seed, identity

    def __call__(self, shape, dtype=None):
        kh, kw, c_in, c_out = shape
        bound = 1 / np.sqrt(kh * kw * c_in)
        w = np.array(ops.convert_to_numpy(   # a writable copy (JAX arrays are read-only)
            initializers.RandomUniform(-bound, bound, seed=self.seed)(shape, dtype="float32")))
        n = min(c_in, c_out) if self.identity else 0
        w[..., :n] = 0
        w[kh // 2, kw // 2, np.arange(n), np.arange(n)] = 1
        return ops.convert_to_tensor(w, dtype=dtype or "float32")

    def get_config(self):
        return {"seed": self.seed, "identity": self.identity}


@saving.register_keras_serializable(package="cifar_suite")
class ScaledBias(layers.Layer):
    """Adds a per-channel bias stored as bias/scale: SGD then moves it scale**2 times faster.

    This is how airbench94's `bias_scaler` (a 64x learning rate for the BatchNorm biases)
    is written without per-variable learning rates, which Keras optimizers do not have.
    Input and output (N, ..., C).
    """

    def __init__(self, scale=8.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, x):
        return x + ops.cast(self.bias * self.scale, x.dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def batch_norm(x, momentum, bias_scale, dtype=None):
    """airbench94's BatchNorm: no trained scale, eps 1e-12, a bias learned `bias_scale`**2 times faster.

    `momentum` is Keras' (weight of the old running statistics; PyTorch's 0.6 is Keras' 0.4).
    `dtype`: the layers' dtype policy (None: the global one).
    """
    x = BatchNormalization(momentum=momentum, epsilon=1e-12, center=False, scale=False, dtype=dtype)(x)
    return ScaledBias(bias_scale, dtype=dtype)(x)


def conv_group(x, filters, activation, momentum, bias_scale, identity_init=True, norm_dtype=None):
    """airbench94's ConvGroup: conv -> 2x2 max pool -> BN -> act -> conv -> BN -> act.

    Input (N, H, W, C); output (N, H/2, W/2, filters). Convolutions are 3x3, same
    padding, no bias, initialized by PartialDirac (with identity filters if `identity_init`),
    as models.conv.Conv2D (Keras' layer, its kernel gradient by matrix products where faster);
    BatchNorm and activation use the dtype policy `norm_dtype` (None: the global one).
    """
    for i in range(2):
        init = PartialDirac(identity=identity_init)
        x = Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init)(x)
        if i == 0:
            x = layers.MaxPooling2D(2)(x)
        x = layers.Activation(activation, dtype=norm_dtype)(batch_norm(x, momentum, bias_scale, norm_dtype))
    return x


@register_model
def fast94(input_shape=(32, 32, 3), classes=10, widths=(64, 256, 256), activation="gelu",
           bn_momentum=0.4, bias_scale=8.0, scaling_factor=1 / 9, whitening=True, identity_init=True,
           float32_norm=True, head_std=None, whitening_bias_scale=1.0):
    """airbench94's network (Keller Jordan, 2024): patch whitening, three conv groups, a linear head.

    Layers: PatchWhitening (2x2, 24 channels, 31x31) -> activation -> conv_group x3 with `widths`
    (64/256/256 filters at 15x15, 7x7, 3x3 pixels) -> 3x3 max pool -> Dense(classes,
    no bias) x `scaling_factor` -> softmax. 1,971,352 trained parameters. Call
    `models.adapt_model(model, images)` before training to compute the whitening.

    Where it differs from airbench94: the activation is a choice (`activation`; exact GELU, as airbench's, by default);
    whitening patches are centred (no separate normalization); the whitening bias is
    trained throughout unless the recipe sets `whitening_bias_epochs`; the output is softmax probabilities rather than logits.

    Args:
        input_shape: (32, 32, 3) raw uint8 RGB in pixels.
        classes: outputs.
        widths: filters of the three conv groups.
        activation: the activation after the whitening and in every conv group: a Keras name
            ("gelu", the default, is the exact GELU, computed by `models.activations.gelu`) or
            "gelu_tanh", GELU's tanh approximation (an option, docs/speed.md).
        bn_momentum: Keras BatchNormalization momentum (0.4 = PyTorch's 0.6).
        bias_scale: ScaledBias factor (8 gives airbench's 64x bias learning rate).
        scaling_factor: multiplies the logits (airbench's 1/9).
        whitening: False puts a trained 2x2 convolution with 24 filters in place of
            PatchWhitening (benchmarks/ablation.py).
        identity_init: False initializes convolutions without identity filters.
        float32_norm: compute the conv groups' BatchNorm, bias and activation layers in
            float32 under mixed precision (the convolutions stay bfloat16); False computes
            them in the policy's bfloat16. On a 2-core AMD EPYC without AMX True trained
            3-5% faster in mixed_bfloat16 (with the fused BatchNorm, under the profiler: GELU
            and casts 640 against 774 ms a step) and, with the 10-epoch recipe, averaged 94.13%
            test top-1 over three seeds (docs/speed.md); no effect under float32.
        head_std: None initializes the head with Keras' Glorot uniform; a number, uniformly
            with that standard deviation (airbench94_muon: 1, with the output divided by 256).
        whitening_bias_scale: PatchWhitening's `bias_scale`: 1 trains the whitening bias at the
            optimizer's learning rate (airbench94), `bias_scale` at the BatchNorm biases' (airbench94_muon).

    Returns:
        keras.Model (N, 32, 32, 3) uint8 -> (N, classes) probabilities.
    """
    activation = get_activation(activation)
    inputs, x = rescale_input(input_shape)
    first = PatchWhitening(bias_scale=whitening_bias_scale, name="whitening") if whitening else layers.Conv2D(8 * input_shape[-1], 2, name="first_conv")
    x = layers.Activation(activation)(first(x))
    norm_dtype = "float32" if float32_norm else None
    for filters in widths:
        x = conv_group(x, filters, activation, bn_momentum, bias_scale, identity_init, norm_dtype)
    x = layers.GlobalMaxPooling2D()(x)          # the 3x3 max pool of the last 3x3 map
    limit = None if head_std is None else head_std * np.sqrt(3)
    head_init = "glorot_uniform" if head_std is None else initializers.RandomUniform(-limit, limit)
    x = layers.Dense(classes, use_bias=False, kernel_initializer=head_init)(x)
    x = layers.Rescaling(scaling_factor)(x)
    return Model(inputs, classifier_output(x), name="fast94")


fast94.hyperparameters = {"bn_momentum": Field("float", 0, 1, high_open=True),
                          "bias_scale": Field("float", 0, 1000, low_open=True),
                          "scaling_factor": Field("float", 0, 10, low_open=True),
                          "head_std": Field("float", 0, 100, low_open=True),
                          "whitening_bias_scale": Field("float", 0, 1000, low_open=True)}   # the rest: from the defaults


def adapt_model(model, images, limit=WHITENING_IMAGES):
    """Compute every data-dependent layer (PatchWhitening) of `model` from training images.

    Args:
        model: a keras.Model; models without such layers are left unchanged.
        images: uint8 training images (N, 32, 32, 3); the first `limit` are used.

    Returns:
        The number of layers adapted.
    """
    layers_to_adapt = [layer for layer in model.layers if isinstance(layer, PatchWhitening)]
    for layer in layers_to_adapt:
        feed = Model(model.inputs, layer.input)
        layer.adapt(np.asarray(feed.predict(images[:limit], batch_size=1000, verbose=0)))
    return len(layers_to_adapt)
