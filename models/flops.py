"""Floating-point operations of a model, counted from its layers (for the roofline benchmark).

Counted: convolutions (Conv2D with its groups, DepthwiseConv2D, SeparableConv2D, and any layer
with a 4-D (kh, kw, in, out) `kernel`, such as fast94's patch whitening) and Dense layers, at 2
FLOPs per multiply-accumulate. Not counted: BatchNormalization, activations, pooling, additions
and the optimizer update (a few FLOPs per value, memory-bound). Training counts each layer 3 times
(forward, gradient with respect to its input, gradient with respect to its kernel), the usual
rule (e.g. Kaplan et al. 2020, "Scaling laws", section 2.1); a layer whose kernel is not trained
counts once.
"""
import math

from keras import layers


def forward_flops(layer):
    """FLOPs of one image through `layer` (0 for a layer without a kernel); uses the shapes of the
    layer's first call, so the model must be built (a functional model is)."""
    if isinstance(layer, layers.SeparableConv2D):
        _, h, w, _ = layer.output.shape
        kh, kw, c_in, multiplier = layer.depthwise_kernel.shape
        return 2 * h * w * c_in * multiplier * (kh * kw + layer.pointwise_kernel.shape[-1])
    if isinstance(layer, layers.DepthwiseConv2D):
        _, h, w, _ = layer.output.shape
        kh, kw, c_in, multiplier = layer.kernel.shape
        return 2 * h * w * c_in * multiplier * kh * kw
    kernel = getattr(layer, "kernel", None)
    if kernel is None or not hasattr(kernel, "shape"):
        return 0
    if len(kernel.shape) == 4:                     # (kh, kw, in / groups, out)
        _, h, w, _ = layer.output.shape
        kh, kw, c_in, c_out = kernel.shape
        return 2 * h * w * kh * kw * c_in * c_out
    if len(kernel.shape) == 2:                     # Dense on (N, ..., in)
        return 2 * math.prod(layer.input.shape[1:-1]) * kernel.shape[0] * kernel.shape[1]
    return 0


def training_flops(model):
    """FLOPs of one training image (forward and backward) through `model`: the sum over its layers
    (nested models included) of forward_flops x 3, x 1 where the kernel is not trained.

    Returns:
        (total FLOPs per training image, {layer name: FLOPs} of the layers that count).
    """
    per_layer = {}
    for layer in model._flatten_layers(include_self=False):
        forward = forward_flops(layer)
        if forward:
            trained = any(w.trainable for w in layer.weights if len(w.shape) >= 2)
            per_layer[layer.name] = forward * (3 if trained else 1)
    return sum(per_layer.values()), per_layer
