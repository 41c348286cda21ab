"""Exceptions that the command line turns into a one-line message and an exit status.

`DataError` and `UsageError` mean the user gave us something we cannot work with (exit 2);
any other `RmdError` is a runtime failure (exit 1). Messages about records follow `FILE:LINE: field: problem`.
"""


class RmdError(Exception):
    """Base class of the toolkit's expected failures."""

    exit_code = 1


class UsageError(RmdError):
    """Bad arguments or options (exit status 2)."""

    exit_code = 2


class DataError(RmdError):
    """Malformed or unusable input data (exit status 2)."""

    exit_code = 2


class ModelFormatError(DataError):
    """A saved model directory that is missing, foreign, tampered with, truncated or too new (exit status 2)."""
