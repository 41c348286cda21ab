"""Progress bars on stderr: shown only when stderr is a terminal and the user did not ask for ``--quiet``."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_QUIET = False


def set_quiet(quiet: bool) -> None:
    global _QUIET
    _QUIET = quiet


def enabled() -> bool:
    return not _QUIET and sys.stderr.isatty()


def progress(iterable: Iterable[T], label: str, length: int | None = None) -> Iterator[T]:
    """Iterate with a click progress bar on stderr when enabled, plainly otherwise."""
    if not enabled():
        yield from iterable
        return
    import click

    with click.progressbar(iterable, length=length, label=label, file=sys.stderr) as bar:
        yield from bar


@contextlib.contextmanager
def stage(label: str) -> Iterator[None]:
    """A one-line stage marker (``label ... done``) on stderr when progress output is enabled."""
    if enabled():
        sys.stderr.write(f"{label} ...")
        sys.stderr.flush()
    try:
        yield
    except BaseException:
        if enabled():  # end the marker line, so that the error message starts a line of its own
            sys.stderr.write(" failed\n")
        raise
    if enabled():
        sys.stderr.write(" done\n")
