"""CIFAR-10 architectures, found by name through a timm-style registry.

    from models import create_model, list_models
    model = create_model("ygnet")          # keras.Model: (N, 32, 32, 3) uint8 -> (N, 10)

To add an architecture: write a builder `(input_shape=(32, 32, 3), classes=10, **hp)`
in a module here, decorate it with `@register_model`, and import the module below.
"""
from models import airbench, allconv, baseline, convnet5, lenet, mlp, pyramid, vgg  # noqa: F401  (registers)
from models.airbench import adapt_model  # noqa: F401
from models.registry import create_model, get_builder, list_models, register_model  # noqa: F401
from models.tta import with_test_time_augmentation  # noqa: F401
