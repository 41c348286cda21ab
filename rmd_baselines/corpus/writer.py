"""Atomic output: every file is written to a temporary sibling and renamed into place.

A failure part-way (an exception, a full disk, Ctrl-C) leaves no partial file behind and the previous
file, if any, untouched. Directories of outputs (a split, a model) are built in a temporary sibling
directory and swapped in as a whole by `atomic_directory`. ``.gz`` paths are gzip-compressed with a fixed
timestamp so output is byte-for-byte reproducible.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import math
import os
import shutil
import signal
import tempfile
import threading
from typing import Any, Iterable, Iterator

from ..errors import DataError, RmdError
from .model import Dialogue

try:
    import fcntl
except ImportError:  # not POSIX: outputs are still replaced atomically, only without the lock
    fcntl = None  # type: ignore[assignment]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_parents(directory: str) -> list[str]:
    """Create ``directory`` and its missing ancestors; return the folders created, outermost first, so that a
    failed run can remove them again (`remove_created`): a failure leaves nothing behind."""
    missing = []
    current = os.path.abspath(directory)
    while not os.path.isdir(current) and current != os.path.dirname(current):
        missing.append(current)
        current = os.path.dirname(current)
    os.makedirs(directory, exist_ok=True)
    return missing[::-1]


def remove_created(created: list[str]) -> None:
    """Remove the folders `make_parents` created, innermost first, as long as they are empty."""
    for folder in reversed(created):
        try:
            os.rmdir(folder)
        except OSError:  # not empty (someone else wrote there meanwhile) or gone: leave it
            return


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[Any]:
    """Open ``path`` for writing (``"w"`` text UTF-8 or ``"wb"`` bytes) via a temporary file and rename. A
    symbolic link is followed: the file it points to is replaced and the link kept."""
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    created: list[str] = []
    tmp = None
    try:
        # Signals wait while the temporary file is made: a Ctrl-C never lands before its name is known.
        with signals_held():
            created = make_parents(directory)
            fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as raw:
            if path.endswith(".gz"):
                # mtime=0 and no file name keep compressed output reproducible; level 6 (gzip's own default) is
                # several times faster than 9 for a few percent more bytes.
                stream: Any = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
            else:
                stream = raw
            try:
                if "b" in mode:
                    yield stream
                else:
                    text = io.TextIOWrapper(stream, encoding="utf-8", newline="\n")
                    yield text
                    text.flush()
                    text.detach()
            finally:
                if stream is not raw:
                    stream.close()
        # mkstemp creates the file private (0600); give it the permissions a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        remove_created(created)
        if tmp is None and isinstance(exc, OSError):
            raise DataError(f"{path}: cannot write ({exc.strerror or exc})") from None
        named = write_failure(exc, path)
        if named is not None:
            raise named from None
        raise


# Errors of writing that say nothing of where (a write() or close() has no file name): named by the output.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


def write_failure(exc: BaseException, path: str) -> RmdError | None:
    """A one-line error naming ``path`` for a full disk (or quota, file size limit, I/O error, read-only file
    system) met while writing it, or None for any other exception. A full disk is a runtime failure: exit 1."""
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS and not isinstance(exc, RmdError):
        return RmdError(f"{path}: cannot write ({exc.strerror or exc}); nothing was written or replaced")
    return None


def check_replaceable_directory(path: str | os.PathLike, marker: str, what: str) -> None:
    """``path`` may be replaced by a new output directory: it does not exist, is empty, or holds ``marker``
    (the file every such directory has, e.g. ``split.json``). Anything else is refused, so that writing an
    output never deletes a folder of other files."""
    from ..errors import UsageError

    path = os.fspath(path)
    if not os.path.exists(path):
        return
    if not os.path.isdir(path):
        raise UsageError(f"{path}: exists and is not a directory")
    if os.listdir(path) and not os.path.isfile(os.path.join(path, marker)):
        raise UsageError(f"{path}: exists and is not {what} (no {marker}); choose another output directory")


def resolve_output_directory(path: str | os.PathLike) -> str:
    """The absolute path an output directory is written to. A symbolic link (to a directory, or dangling) is
    followed: the directory it points to is replaced and the link keeps pointing at the new one."""
    path = os.path.abspath(os.fspath(path))
    return os.path.realpath(path) if os.path.islink(path) else path


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is over: one arriving inside it is remembered and raised again
    right after it, with the handlers that were in place.

    The handlers are swapped rather than the signals masked because a mask holds for one thread only: a process
    with other threads (numpy's BLAS starts some) has the signal delivered to one of them, and Python runs its
    handler in the main thread at once. Outside the main thread handlers cannot be set, and there is nothing to
    hold (Python's handlers never run there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def remember(signum, frame):
        pending.append(signum)

    previous = {signum: signal.signal(signum, remember) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        if pending:
            signal.raise_signal(pending[0])


def swap_directory_into_place(tmp: str, path: str) -> None:
    """Rename the finished directory ``tmp`` to ``path``, replacing (then deleting) what was there. Signals wait
    until both renames are done, and a failed second rename puts the old directory back, so ``path`` is always
    either the old directory or the new one."""
    backup = None
    with signals_held():
        if os.path.lexists(path):
            backup = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".old-"
                                  + os.path.basename(tmp).rsplit(".", 1)[-1])
            os.replace(path, backup)
        try:
            os.replace(tmp, path)
        except BaseException:
            if backup:
                os.replace(backup, path)
            raise
    if backup:
        shutil.rmtree(backup, ignore_errors=True)


def sibling_temp_directory(path: str) -> str:
    """A new private temporary directory beside ``path`` (parents created), to be renamed to ``path`` later."""
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        return tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".", dir=parent)
    except OSError as exc:
        raise DataError(f"{path}: cannot create the output directory ({exc.strerror or exc})") from None


class OutputLock:
    """An exclusive lock on an output path, held while it is written: the file ``.NAME.lock`` beside it, locked
    with ``flock`` and deleted on release. A second run that wants the same output while the first holds the
    lock fails at once with a `UsageError` (exit 2) instead of racing it."""

    def __init__(self, path: str):
        from ..errors import UsageError

        self.path = path
        self.file = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".lock")
        self.fd: int | None = None
        if fcntl is None:  # no flock on this platform: no lock
            return
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as exc:
            raise DataError(f"{path}: cannot create the output directory ({exc.strerror or exc})") from None
        while True:
            try:
                fd = os.open(self.file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise DataError(f"{path}: cannot write ({exc.strerror or exc})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise UsageError(f"{path}: another run is writing this output right now (lock {self.file}); "
                                 "wait for it to finish or choose another output") from None
            try:  # the run before us may have deleted the file we opened: lock the one at the path
                current = os.stat(self.file)
            except FileNotFoundError:
                current = None
            if current is not None and os.path.samestat(os.fstat(fd), current):
                self.fd = fd
                return
            os.close(fd)

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.file)
        os.close(self.fd)
        self.fd = None


class DirectoryReplacement:
    """Build an output directory beside ``path`` and replace ``path`` with it as a whole.

    ``path`` must be replaceable (see `check_replaceable_directory`); a symbolic link is followed (see
    `resolve_output_directory`). The output's `OutputLock` is held from the start to `commit` or `abort`, so two
    runs writing the same output cannot interleave: the second fails cleanly. `commit` swaps the finished
    directory in; `abort` (any failure, Ctrl-C, SIGTERM) deletes it and leaves ``path`` untouched.
    """

    def __init__(self, path: str | os.PathLike, marker: str, what: str, mode: int | None = None):
        self.path = resolve_output_directory(path)
        self.marker, self.what, self.mode = marker, what, mode
        check_replaceable_directory(self.path, marker, what)
        # The missing parent folders are created now (the lock and the temporary directory live there) and
        # removed again by `abort` or a failed `commit`: a failed run leaves nothing behind. Signals wait until
        # all of it exists (or was undone), so an interruption never lands between a file made and its owner
        # knowing it; construct it inside the block that aborts it (as `atomic_directory` does).
        with signals_held():
            try:
                self.created = make_parents(os.path.dirname(self.path))
            except OSError as exc:
                raise DataError(f"{self.path}: cannot create the output directory ({exc.strerror or exc})") \
                    from None
            try:
                self.lock = OutputLock(self.path)
                self.tmp = sibling_temp_directory(self.path)
            except BaseException:
                if hasattr(self, "lock"):
                    self.lock.release()
                remove_created(self.created)
                raise

    def commit(self) -> None:
        try:
            os.chmod(self.tmp, self.mode if self.mode is not None else 0o777 & ~_umask())  # mkdtemp: private
            check_replaceable_directory(self.path, self.marker, self.what)
            swap_directory_into_place(self.tmp, self.path)
        except BaseException as exc:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.lock.release()
            remove_created(self.created)
            named = write_failure(exc, self.path)
            if named is not None:
                raise named from None
            raise
        self.lock.release()
        self.created = []  # committed: the parents hold the output now

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.lock.release()
        remove_created(self.created)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, marker: str, what: str) -> Iterator[str]:
    """Yield a temporary directory beside ``path`` to write into; when the block succeeds it replaces ``path``
    as a whole (see `DirectoryReplacement`), when it fails it is deleted and ``path`` is untouched."""
    replacement = None
    try:
        with signals_held():  # a signal lands once ``replacement`` is known (then aborted) or before anything exists
            replacement = DirectoryReplacement(path, marker, what)
        yield replacement.tmp
    except BaseException as exc:
        if replacement is None:
            raise
        replacement.abort()
        named = write_failure(exc, replacement.path)
        if named is not None:
            raise named from None
        raise
    replacement.commit()


def write_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> int:
    """Write JSON objects one a line (UTF-8, Chinese kept readable); returns how many were written."""
    count = 0
    with atomic_open(path) as out:
        for record in records:
            out.write(json_text(record))
            out.write("\n")
            count += 1
    return count


def write_dialogues(path: str | os.PathLike, dialogues: Iterable[Dialogue]) -> int:
    """Write dialogues in the canonical JSONL shape; returns how many were written."""
    return write_jsonl(path, (d.to_json() for d in dialogues))


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a whole text file atomically."""
    with atomic_open(path) as out:
        out.write(text)


def finite_json(obj: Any) -> tuple[Any, dict[str, str]]:
    """``obj`` with every infinite or NaN float replaced by ``None`` (JSON has neither), and where each was:
    ``{"dstc7.perplexity": "inf", ...}`` (dotted keys, list positions as numbers)."""
    notes: dict[str, str] = {}

    def clean(value: Any, where: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            notes[where or "."] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
            return None
        if isinstance(value, dict):
            return {key: clean(item, f"{where}.{key}" if where else str(key)) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(item, f"{where}.{i}" if where else str(i)) for i, item in enumerate(value)]
        if type(value).__module__ == "numpy" and hasattr(value, "item"):  # a numpy scalar
            return clean(value.item(), where)
        return value

    return clean(obj, ""), notes


def json_text(obj: Any, indent: int | None = None) -> str:
    """One JSON document that is valid JSON whatever the numbers: a non-finite float becomes ``null`` and, when
    ``obj`` is an object, a ``"non_finite"`` entry says which values were replaced and what they were."""
    try:  # the common case, at full speed
        return json.dumps(obj, ensure_ascii=False, indent=indent, allow_nan=False)
    except ValueError:
        pass
    cleaned, notes = finite_json(obj)
    if notes and isinstance(cleaned, dict):
        cleaned = {**cleaned, "non_finite": {where: f"{what} (not representable in JSON; written as null)"
                                             for where, what in notes.items()}}
    return json.dumps(cleaned, ensure_ascii=False, indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    """Write one JSON document atomically (sorted keys are the caller's choice); never ``NaN``/``Infinity``."""
    write_text(path, json_text(obj, indent=indent) + "\n")

