"""models.flops: FLOPs counted from the layers, checked against hand counts."""
import keras
import pytest

from models import create_model
from models.flops import forward_flops, training_flops


def test_counts_each_convolution_type_and_dense_by_hand():
    inputs = keras.Input((8, 8, 4))
    conv = keras.layers.Conv2D(4, 3, padding="same")
    grouped = keras.layers.Conv2D(6, 3, padding="same", groups=2)
    separable = keras.layers.SeparableConv2D(6, 3, padding="same")
    depthwise = keras.layers.DepthwiseConv2D(3, strides=2, padding="same")
    dense = keras.layers.Dense(5)
    x = depthwise(separable(grouped(conv(inputs))))
    model = keras.Model(inputs, dense(keras.layers.Flatten()(keras.layers.ReLU()(x))))
    by_hand = {conv: 2 * 8 * 8 * (3 * 3 * 4) * 4,          # output pixels x MACs per output value x filters
               grouped: 2 * 8 * 8 * (3 * 3 * 2) * 6,        # each filter sees in / groups channels
               separable: 2 * 8 * 8 * 6 * 9 + 2 * 8 * 8 * 6 * 6,   # 3x3 depthwise, then 1x1 pointwise
               depthwise: 2 * 4 * 4 * 6 * 9,                # stride 2: 4x4 outputs
               dense: 2 * (4 * 4 * 6) * 5}
    for layer, flops in by_hand.items():
        assert forward_flops(layer) == flops, layer.name
    total, per_layer = training_flops(model)
    assert total == 3 * sum(by_hand.values()) and len(per_layer) == 5


def test_a_fixed_kernel_counts_once():
    inputs = keras.Input((4, 4, 1))
    frozen = keras.layers.Conv2D(2, 1, trainable=False)
    model = keras.Model(inputs, keras.layers.Dense(3)(frozen(inputs)))
    total, per_layer = training_flops(model)
    assert per_layer[frozen.name] == 2 * 16 * 2 and total == 2 * 16 * 2 + 3 * 2 * 16 * 2 * 3


@pytest.mark.parametrize("name, low, high", [("lenet5", 1e7, 1e8), ("fast94", 3e8, 1.5e9)])
def test_registered_models_are_in_the_expected_range(name, low, high):
    total, _ = training_flops(create_model(name))
    assert low < total < high
