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


class DataChangedWarning(UserWarning):
    """The data a model is evaluated on is not the file it was trained on (its SHA-256 differs), so its test split
    may hold what the model was trained on; the command line prints it as one ``warning:`` line."""


def changed_data_message(data_path: str, recorded_sha: str, overlap: int | None, n_test: int, what: str) -> str:
    """The warning of `DataChangedWarning`: the SHA-256 change and how many test items the model trained on."""
    head = (f"{data_path}: SHA-256 differs from the file the model was trained on ({recorded_sha[:12]}…); "
            "the test split was rebuilt from this file")
    if overlap is None:
        return head + (f"; whether its {what} overlap the model's training data cannot be checked (the training "
                       "file is gone or changed): scores may be inflated")
    if overlap:
        return head + (f" and {overlap} of its {n_test} test {what} were in the model's training split: scores are "
                       "inflated")
    return head + f"; none of its {n_test} test {what} were in the model's training split"
