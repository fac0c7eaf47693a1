"""The suite's error type: anything a user can cause by bad input.

`run.py` turns a `SuiteError` into one line on stderr and exit status 2, with no
traceback. Library code raises it (or a subclass) with a message that names the
bad value and, where there is a choice, the allowed values.
"""


class SuiteError(Exception):
    """Bad input from the user: an unknown name, a bad value, a missing or corrupt file."""


class DataError(SuiteError):
    """A CIFAR-10 file or folder is missing, corrupt, or holds the wrong shapes."""


class UnknownNameError(SuiteError):
    """An unknown model, experiment or option name; the message lists the valid ones."""

    def __init__(self, kind, name, valid):
        super().__init__(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(valid))}")
