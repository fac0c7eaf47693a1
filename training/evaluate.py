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


def _float32_config(config):
    """The dtype policy names in a serialized Keras object (nested models included), and the same
    config with each DTypePolicy replaced by 'float32'."""
    found = set()

    def walk(node):
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if str(node.get("class_name", "")).endswith("DTypePolicy"):
            found.add(node.get("config", {}).get("name"))
            return "float32"
        return {key: walk(value) for key, value in node.items()}
    return found, walk(config)


def load_for_inference(path):
    """`load_saved_model(path)` in the precision to predict with on this machine, and why.

    A model trained in mixed precision saves its layers' policy (e.g. mixed_bfloat16). Where
    `--precision auto` picks float32 (no bfloat16 units, or a bfloat16 matrix product measured
    slower: training.hardware.choose_precision), the model is rebuilt in float32: on an Intel
    Xeon with AVX512-BF16 and no AMX, the shipped fast94 and ygnet predicted 2.0x and 2.2x faster
    so (2,000 test images: 41.0 -> 20.5 s and 20.5 -> 9.2 s), top-1 within 0.05 points.
    Elsewhere, and for a float32 model, the saved precision is kept.

    Returns:
        (model, description): the keras.Model, not compiled, and its precision in words, e.g.
        'float32 (saved in mixed_bfloat16; auto: CPU without AMX or AVX512-BF16)'.

    Raises:
        SuiteError: as load_saved_model, or a bad $CIFAR10_AUTO_PRECISION.
    """
    import keras

    from training.hardware import choose_precision
    model = load_saved_model(path)
    policies, float32_config = _float32_config(keras.saving.serialize_keras_object(model))
    saved = " and ".join(sorted(policies - {"float32"}))
    if not saved:
        return model, "float32 (as saved)"
    chosen, why = choose_precision("auto")
    if chosen != "float32":
        return model, f"{saved} (as saved)"
    rebuilt = keras.saving.deserialize_keras_object(float32_config, safe_mode=True)   # same layers, float32
    rebuilt.set_weights(model.get_weights())
    return rebuilt, f"float32 (saved in {saved}; {why})"


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
    # One batch at a time with predict_on_batch, not model.predict: on Keras 3.15 with TensorFlow,
    # predict() over the 10,000 test images took 82 s against 41 s so for ygnet in float32 (Intel
    # Xeon, 2 cores; 4,000 images took 20.5 s either way, and adding any batch callback, which turns
    # off Keras' asynchronous callback dispatch, also gave 41 s).
    probs = np.concatenate([np.asarray(model.predict_on_batch(x[i:i + batch_size]), dtype=np.float64)
                            for i in range(0, len(x), batch_size)])
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
