"""Progress bars on stderr (shown only when stderr is a terminal and the user did not ask for ``--quiet``), and the
record of how long each stage took and how much memory the process had used by its end.

Stages (`stage`) are recorded while a `recording()` block is active, whether or not progress is shown, so that a
command's ``--json`` summary can carry ``stages``: one entry per stage with its wall and CPU seconds and the
process's peak resident memory so far (``ru_maxrss``: a high-water mark, so a stage's value includes the stages
before it).
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_QUIET = False
_RECORDERS: list[list[dict]] = []


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

    # With a known length the bar shows the count done and an estimate of the time left.
    with click.progressbar(iterable, length=length, label=label, file=sys.stderr, show_pos=length is not None,
                           show_eta=True) as bar:
        yield from bar


def peak_rss_mib() -> float:
    """The peak resident memory of this process so far, in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def recording() -> Iterator[list[dict]]:
    """Collect the stages run inside the block: ``[{"stage", "seconds", "cpu_seconds", "peak_rss_mib"}, ...]``."""
    stages: list[dict] = []
    _RECORDERS.append(stages)
    try:
        yield stages
    finally:
        _RECORDERS.remove(stages)


@contextlib.contextmanager
def stage(label: str, name: str | None = None) -> Iterator[None]:
    """A one-line stage marker (``label ... done``) on stderr when progress output is enabled; recorded under
    ``name`` (default: the label) by every active `recording()`."""
    if enabled():
        sys.stderr.write(f"{label} ...")
        sys.stderr.flush()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    try:
        yield
    except BaseException:
        if enabled():  # end the marker line, so that the error message starts a line of its own
            sys.stderr.write(" failed\n")
        raise
    entry = {"stage": name or label, "seconds": round(time.perf_counter() - started, 3),
             "cpu_seconds": round(_cpu_seconds() - cpu_started, 3), "peak_rss_mib": peak_rss_mib()}
    for stages in _RECORDERS:
        stages.append(entry)
    if enabled():
        sys.stderr.write(" done\n")
