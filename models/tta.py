"""Multi-view test-time augmentation built into a model, as airbench94's `infer` does it.

Level 0: the image only. Level 1: the mean of the image's and its mirror's predictions.
Level 2: half of level 1, plus half of level 1 over two 1-pixel translations (up-left and
down-right, reflect padding): six views, weights 1/4, 1/4 and 1/8 x 4. The wrapped
model is a plain Keras model, so a saved .h5 evaluates with its views anywhere.
"""
from keras import Model, layers, ops, saving

TTA_LEVELS = (0, 1, 2)


@saving.register_keras_serializable(package="cifar_suite")
class ViewTransform(layers.Layer):
    """One fixed view of a batch: an optional horizontal mirror and a translation by (dy, dx) pixels.

    Input and output (N, H, W, C); the pixels shifted in are reflected from the border.
    """

    def __init__(self, flip=False, dy=0, dx=0, **kwargs):
        super().__init__(**kwargs)
        self.flip, self.dy, self.dx = flip, dy, dx

    def call(self, x):
        if self.flip:
            x = ops.flip(x, axis=2)
        pad = max(abs(self.dy), abs(self.dx))
        if pad:
            h, w = x.shape[1], x.shape[2]
            x = ops.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
            x = x[:, pad - self.dy:pad - self.dy + h, pad - self.dx:pad - self.dx + w, :]
        return x

    def get_config(self):
        return {**super().get_config(), "flip": self.flip, "dy": self.dy, "dx": self.dx}


def with_test_time_augmentation(model, level=2):
    """Wrap `model` so it predicts the weighted mean of its predictions over fixed views.

    Args:
        model: keras.Model (N, H, W, C) -> (N, classes).
        level: 0, 1 or 2 (see the module docstring).

    Returns:
        `model` itself for level 0, else a keras.Model with the same input and output
        shapes that shares `model`'s weights and costs 2 (level 1) or 6 (level 2) passes.

    Raises:
        ValueError: an unknown level.
    """
    if level not in TTA_LEVELS:
        raise ValueError(f"unknown test-time augmentation level {level!r}; choose one of {TTA_LEVELS}")
    if level == 0:
        return model
    inputs = layers.Input(shape=model.input_shape[1:], dtype=model.inputs[0].dtype, name="image")
    plain = [model(inputs), model(ViewTransform(flip=True)(inputs))]
    if level == 1:
        return Model(inputs, layers.Average()(plain), name=f"{model.name}_tta1")
    shifted = [model(ViewTransform(flip=f, dy=d, dx=d)(inputs)) for d in (1, -1) for f in (False, True)]
    # The untranslated views weigh twice as much as the translated ones (1/4 vs 1/8).
    return Model(inputs, layers.Average()(plain + plain + shifted), name=f"{model.name}_tta2")
