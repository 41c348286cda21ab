"""Helpers of the "data is never lost" tests: the bytes of a whole output (file or folder), to compare before and
after a failure, and what else is in its folder (a temporary file or directory, a lock, a backup)."""

from __future__ import annotations

import os
from pathlib import Path


def tree_bytes(path: str | os.PathLike) -> dict[str, bytes]:
    """``{relative path: bytes}`` of every file under ``path`` (or of the file ``path``)."""
    path = Path(path)
    if path.is_file():
        return {".": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def folder_names(folder: str | os.PathLike) -> list[str]:
    """Every name in ``folder``, hidden ones included, sorted."""
    return sorted(os.listdir(folder))
