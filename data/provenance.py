"""Which copy of CIFAR-10 a run used: its folder and sha256 digests of the arrays as loaded.

The digests follow `../shared/data/cifar10/SHA256SUMS`: sha256 of the C-ordered bytes of
the uint8 images (N, 32, 32, 3) and of the labels as uint8 (N,), so a run's config.json
can be checked against that file by eye.
"""
import hashlib
import os

import numpy as np

# sha256 of the arrays of CIFAR-10 lossless (`../shared/data`, the original release's order): all
# 50,000 training and 9,980 of the 10,000 test images are the release's exact pixels; 20 test
# images (19 ships, 1 horse) were rebuilt from a JPEG copy. From ../shared/data/cifar10/SHA256SUMS.
KNOWN_COPIES = {
    ("47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a",
     "1249626010949d8f448e0faf792debbc3da0c50ed31bfff3678c99c37fbc7e48"): "lossless",
}
DESCRIPTIONS = {
    "lossless": ("CIFAR-10 lossless (`../shared/data`): all 50,000 training and 9,980 of the 10,000 test "
                 "images are the original release's exact pixels, in its order; 20 test images (19 ships, "
                 "1 horse) were rebuilt from a JPEG copy (about 6/255 mean pixel difference)"),
}


def array_sha256(a, dtype=np.uint8):
    """sha256 (hex) of the C-ordered bytes of `a` as `dtype` (images are uint8 already; labels 0-9 fit)."""
    return hashlib.sha256(np.ascontiguousarray(a, dtype=dtype).tobytes()).hexdigest()


def data_provenance(train, test, data_dir=None):
    """A record of the data a run loaded, for config.json and metrics.json.

    Args:
        train, test: (x uint8 (N, 32, 32, 3), y int (N,)) as `data.load_cifar10` returns them,
            before any validation split or limit.
        data_dir: the folder or archive they were read from (None: Keras' download).

    Returns:
        dict with data_dir (absolute path, or "keras download"), copy ("lossless" for the
        arrays of KNOWN_COPIES, else "unknown"), train_images, test_images, and the sha256 of
        x_train, y_train, x_test, y_test.
    """
    digests = {"x_train_sha256": array_sha256(train[0]), "y_train_sha256": array_sha256(train[1]),
               "x_test_sha256": array_sha256(test[0]), "y_test_sha256": array_sha256(test[1])}
    copy = KNOWN_COPIES.get((digests["x_train_sha256"], digests["x_test_sha256"]), "unknown")
    return {"data_dir": os.path.abspath(os.path.expanduser(str(data_dir))) if data_dir else "keras download",
            "copy": copy, "train_images": int(len(train[0])), "test_images": int(len(test[0])), **digests}


def short_provenance(record):
    """A short form of a `data_provenance` record for tables, e.g. 'lossless 50000/10000 47af8b02';
    '?' for a run written before runs recorded their data."""
    if not record:
        return "?"
    return f"{record['copy']} {record['train_images']}/{record['test_images']} {record['x_train_sha256'][:8]}"


def describe_copy(record):
    """One sentence on which copy of CIFAR-10 a record names, for model cards."""
    if not record:
        return "The run did not record which copy of CIFAR-10 it used."
    text = DESCRIPTIONS.get(record["copy"], f"an unrecognised copy of CIFAR-10 ({record['train_images']:,} "
                                            f"training / {record['test_images']:,} test images)")
    return (f"{text}. sha256 of the arrays as loaded: x_train `{record['x_train_sha256']}`, "
            f"x_test `{record['x_test_sha256']}`.")
