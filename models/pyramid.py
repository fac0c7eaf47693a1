"""Seed 002's corrected 6A network (a flat-topped pyramid with transition blocks) and its 6B variants."""
from keras import Model, layers

from models.blocks import CONV_TYPES, classifier_output, conv_bn_relu, rescale_input, transition_block
from experiments.fields import Field, unit_interval
from models.registry import register_model

# Three convolution blocks of rising, then flat, width; a transition block after each
# of the first two. Widths are the suite's choice: seed 002 gives the design, not the numbers.
BLOCK_WIDTHS = ((32, 64, 128), (64, 128, 128), (64, 128, 128))
# The hyperparameters every pyramid builder takes through **hp (see `pyramid`), checked by create_model.
PYRAMID_HP = {"block_widths": Field("sizes"), "transition_width": Field("int", 1, 4096),
              "dropout": unit_interval(), "width_multiplier": Field("float", 0.05, 16)}


def _pyramid(name, input_shape, classes, conv_types, block_widths=BLOCK_WIDTHS,
             transition_width=32, dropout=0.1, width_multiplier=1.0):
    """Build the pyramid with one convolution type per 3x3 layer (see `pyramid`)."""
    n_layers = sum(len(b) for b in block_widths)
    if isinstance(conv_types, str):
        conv_types = [conv_types] * n_layers
    if len(conv_types) != n_layers:
        raise ValueError(f"conv_types has {len(conv_types)} entries for {n_layers} layers")
    types = iter(conv_types)
    inputs, x = rescale_input(input_shape)
    for i, widths in enumerate(block_widths):
        for filters in widths:
            filters = max(8, 8 * round(filters * width_multiplier / 8))   # a multiple of 8 (grouped convolutions)
            x = conv_bn_relu(x, filters, next(types), dropout=dropout)
        if i < len(block_widths) - 1:
            x = transition_block(x, transition_width)
    x = layers.Conv2D(classes, 1)(x)          # 1x1 convolution to the classes, no Dense layer
    x = layers.GlobalAveragePooling2D()(x)
    return Model(inputs, classifier_output(x), name=name)


@register_model
def pyramid(input_shape=(32, 32, 3), classes=10, conv_type="normal", **hp):
    """Seed 002's corrected 6A network: convolution blocks and transition blocks, no Dense layers.

    Three blocks of conv-BN-ReLU-Dropout layers whose widths rise then stay flat
    (`block_widths`, default 32-64-128 / 64-128-128 / 64-128-128 filters), a transition
    block (1x1 pointwise convolution to `transition_width` channels, then 2x2 max
    pooling) between blocks, and a 1x1 convolution to `classes` with global average
    pooling. Spatial size 32 -> 16 -> 8 pixels.

    Args:
        conv_type: one of 'normal', 'spatial_separable', 'separable', 'grouped',
            'dilated', or a list with one per 3x3 layer (9 by default).
        block_widths: tuple of tuples of filters per layer (keyword in **hp).
        transition_width: channels after each transition block (default 32).
        dropout: rate after every conv-BN-ReLU (default 0.1).
        width_multiplier: scales every 3x3 layer's filters (rounded to a multiple of
            8), as MobileNet's `alpha`; 1.0 (default) keeps `block_widths`.

    Returns:
        keras.Model (N, 32, 32, 3) -> (N, classes); 583,530 trainable parameters with
        the defaults (BatchNormalization's scale and offset count; its moving mean and
        variance are not trainable).
    """
    return _pyramid("pyramid", input_shape, classes, conv_type, **hp)


pyramid.hyperparameters = {**PYRAMID_HP, "conv_type": Field("choice", choices=tuple(CONV_TYPES), many=True)}


def _register_variant(conv_type):
    def builder(input_shape=(32, 32, 3), classes=10, **hp):
        return _pyramid(f"pyramid_{conv_type}", input_shape, classes, conv_type, **hp)
    builder.__name__ = f"pyramid_{conv_type}"
    builder.hyperparameters = PYRAMID_HP
    builder.__doc__ = (f"Seed 002's 6B pyramid with every 3x3 layer a `{conv_type}` convolution "
                       f"({CONV_TYPES[conv_type].__doc__.strip()}). Same arguments as `pyramid`.")
    return register_model(builder)


for _type in ("spatial_separable", "separable", "grouped", "dilated"):
    _register_variant(_type)

# Seed 002's Assignment 6B network: all five convolution types in one model.
MIXED6B_TYPES = ("normal", "spatial_separable", "separable",
                 "grouped", "dilated", "normal",
                 "separable", "grouped", "dilated")


@register_model
def mixed6b(input_shape=(32, 32, 3), classes=10, **hp):
    """Seed 002's 6B network: the pyramid with the five convolution types mixed.

    Layer by layer: block 1 normal 3x3, spatial separable (3x1, 1x3), depthwise
    separable; block 2 grouped (3x3 + 5x5), grouped dilated (rates 1 and 2), normal;
    block 3 depthwise separable, grouped, grouped dilated. Same arguments as `pyramid`.
    """
    return _pyramid("mixed6b", input_shape, classes, list(MIXED6B_TYPES), **hp)


mixed6b.hyperparameters = PYRAMID_HP
