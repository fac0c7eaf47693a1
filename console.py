"""Keep native libraries' start-up chatter off stderr, where the suite's one-line errors go."""
import contextlib
import os


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration, then restore it.

    TensorFlow's C++ libraries log through absl before absl is initialised (oneDNN and
    CPU-feature notes at import; a 'failed call to cuInit' line when a GPU build of
    TensorFlow looks for devices on a machine without one), so TF_CPP_MIN_LOG_LEVEL
    cannot stop them. Python errors raised inside still propagate as exceptions.
    """
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
