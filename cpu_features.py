"""The CPU's feature flags (amx_bf16, avx512_bf16, ...), read from /proc/cpuinfo.

The suite's lowest layer, with no Keras: `training/hardware.py` reads the flags to choose the
precision, `models/conv.py` to choose how a convolution's kernel gradient is computed.
"""


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
