"""What the machine has: the CPU's feature flags (amx_bf16, avx512_bf16, ...) and the GPUs the
active Keras backend sees.

The suite's lowest layer (Keras and the backend only): `training/hardware.py` reads it to choose
the precision and the distribution strategy, `models/conv.py` to choose how a convolution's kernel
gradient is computed.
"""
import functools

import keras

from console import native_stderr_silenced


def cpu_flags():
    """The CPU's feature flags as a set of strings, e.g. {'avx512f', 'avx512_bf16', ...}; the
    empty set where /proc/cpuinfo is unreadable (not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=None)
def gpus():
    """Local GPUs as a list of (name, bf16_supported) for the active Keras backend (looked up once)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        out = []
        with native_stderr_silenced():       # a GPU build without a GPU logs 'failed call to cuInit'
            found = tf.config.list_physical_devices("GPU")
        for dev in found:
            details = tf.config.experimental.get_device_details(dev)
            out.append((details.get("device_name", dev.name), details.get("compute_capability", (0, 0)) >= (8, 0)))
        return out
    if backend == "jax":
        import jax
        return [(d.device_kind, float(getattr(d, "compute_capability", "0") or 0) >= 8.0)
                for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch
        return [(torch.cuda.get_device_name(i), torch.cuda.is_bf16_supported())
                for i in range(torch.cuda.device_count())]
    return []
