"""Fault injection for the resume tests: run `run.py` in this process and kill it at a chosen moment.

    python tests/kill_at.py MOMENT N SIGNAL -- RUN.PY ARGS...

MOMENT (below) names a function; at its N-th call the process sends itself SIGNAL
(KILL, INT or TERM), before or after the call as the moment says. Nothing in the suite
knows about this file: it only wraps functions from outside.
"""
import os
import signal
import sys

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import run  # noqa: E402

# moment: (what to wrap, when) - "before" kills inside the moment, "after" right after it.
MOMENTS = {
    "train-batch": ("callbacks.nan_guard:StopOnNonFiniteLoss.on_train_batch_end", "before"),
    "checkpoint-write": ("h5py:File.close last.tmp.h5", "before"),   # last.h5 half written
    "history-written": ("callbacks.history:HistoryCSV.on_epoch_end", "after"),
    "backup-write": ("h5py:File.close state.weights.h5", "before"),  # backup weights half written
    "evaluation": ("training.train:evaluate_model", "before"),
    "trial-start": ("tuning.hypermodel:ExperimentHyperModel.fit", "before"),
}


def wrap(spec, when, n, sig):
    target, _, file_suffix = spec.partition(" ")
    module_name, _, attr = target.partition(":")
    __import__(module_name)
    owner = sys.modules[module_name]
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    original, calls = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        hit = not file_suffix or (isinstance(args[0], h5py.File) and args[0].id.valid and args[0].mode != "r"
                                  and args[0].filename.endswith(file_suffix))    # a write, not a resume's check
        calls[0] += hit
        if hit and calls[0] == n and when == "before":
            os.kill(os.getpid(), sig)
        result = original(*args, **kwargs)
        if hit and calls[0] == n and when == "after":
            os.kill(os.getpid(), sig)
        return result

    setattr(owner, name, wrapper)


if __name__ == "__main__":
    moment, n, sig, sep, *argv = sys.argv[1:]
    assert sep == "--", __doc__
    run.import_backend_quietly()
    # A shell starts a background job (`cmd &`, as some CI runners do) with SIGINT ignored, and
    # Python then installs no KeyboardInterrupt handler: restore the one an interactive Ctrl-C meets.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    run.install_signal_handlers()           # as `python run.py` does (SIGTERM)
    wrap(*MOMENTS[moment], int(n), getattr(signal, f"SIG{sig}"))
    sys.exit(run.main(argv))
