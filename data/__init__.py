"""CIFAR-10 arrays and the augmented, batched input pipelines built from them."""
from data.cifar10 import CLASSES, load_cifar10, load_local, split_validation  # noqa: F401
