"""Load a saved model safely and measure it on the test split."""
import os
import zipfile

import numpy as np

from data.cifar10 import CLASSES
from errors import SuiteError

EVAL_BATCH_SIZE = 1000   # fixed, so the same model gives the same figures in every command


def load_saved_model(path):
    """Load a whole model saved as .h5 (HDF5) or .keras, with Keras' safe_mode on.

    Args:
        path: the model file.

    Returns:
        keras.Model, not compiled.

    Raises:
        SuiteError: the file is missing, has another extension, is truncated or not
            HDF5/zip, or holds layers safe_mode refuses (such as Lambda).
    """
    import h5py
    import keras

    import models  # noqa: F401  (registers the suite's own layers: patch whitening, test-time views)
    if not os.path.isfile(path):
        raise SuiteError(f"{path}: no such model file")
    if path.endswith((".h5", ".hdf5")):
        if not h5py.is_hdf5(path):
            raise SuiteError(f"{path}: not an HDF5 file (truncated or another format)")
    elif path.endswith(".keras"):
        if not zipfile.is_zipfile(path):
            raise SuiteError(f"{path}: not a .keras archive (truncated or another format)")
    else:
        raise SuiteError(f"{path}: a model file must end in .h5, .hdf5 or .keras")
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras and h5py raise many types for a bad file; all mean "cannot load"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SuiteError(f"{path}: cannot load model ({reason[:300]})") from None


def check_cifar_shapes(model, classes=len(CLASSES)):
    """Raise SuiteError unless the model maps (N, 32, 32, 3) images to (N, classes)."""
    if tuple(model.input_shape[1:]) != (32, 32, 3) or tuple(model.output_shape[1:]) != (classes,):
        raise SuiteError(f"model maps {model.input_shape} to {model.output_shape}; "
                         f"CIFAR-10 needs (None, 32, 32, 3) to (None, {classes})")


def evaluate_model(model, x, y, batch_size=EVAL_BATCH_SIZE):
    """Top-1 accuracy, cross-entropy loss, per-class accuracy and the confusion matrix.

    Args:
        model: maps uint8 images (N, 32, 32, 3) to (N, 10) probabilities.
        x: uint8 images (N, 32, 32, 3); y: int labels (N,).

    Returns:
        dict: top1 (fraction 0-1), loss (mean cross-entropy, nats), per_class
        ({class name: accuracy}), confusion (10x10 list, rows true, columns
        predicted), n (images), seconds and images_per_s (inference), predictions
        (int array (N,) of predicted classes).
    """
    import time
    check_cifar_shapes(model)
    start = time.perf_counter()
    probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    seconds = time.perf_counter() - start
    pred = probs.argmax(axis=1)
    n_classes = probs.shape[1]
    confusion = np.bincount(y * n_classes + pred, minlength=n_classes ** 2).reshape(n_classes, n_classes)
    per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    loss = -np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0)).mean()
    return {
        "top1": float((pred == y).mean()),
        "loss": float(loss),
        "per_class": {name: float(a) for name, a in zip(CLASSES, per_class)},
        "confusion": confusion.tolist(),
        "n": int(len(y)),
        "seconds": seconds,
        "images_per_s": len(y) / seconds,
        "predictions": pred,
    }


def format_evaluation(metrics):
    """Evaluation results as printable lines: top-1, loss, then one line per class."""
    lines = [f"test top-1 accuracy: {100 * metrics['top1']:.2f}% ({metrics['n']} images), "
             f"loss {metrics['loss']:.4f}"]
    lines += [f"  {name:<11s} {100 * acc:6.2f}%" for name, acc in metrics["per_class"].items()]
    return "\n".join(lines)
