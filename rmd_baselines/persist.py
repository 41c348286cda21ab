"""Saved models without pickle: a directory of JSON, ``.npz``, LightGBM text models and ARPA/kenlm files.

Layout of a model directory::

    manifest.json      {"format": "rmd_baselines-model", "format_version": 1, "kind": "route",
                        "library_version": "0.1.0", "files": {"model.json": "<sha256>", ...}}
    <files>            whatever the model wrote through `ModelWriter`

Loading never runs code: JSON is parsed, arrays are read with ``allow_pickle=False``, LightGBM and kenlm parse
their own text/binary formats. `ModelReader` checks the manifest first and every file's SHA-256, so a foreign,
truncated or tampered directory, or one written by a newer format version, fails with a one-line
`ModelFormatError` instead of a traceback or a silently different model.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tokenize
import zipfile
import zlib
from typing import Any, Iterator

import numpy as np

from . import __version__
from .corpus.writer import DirectoryReplacement, check_replaceable_directory, signals_held, write_failure
from .errors import ModelFormatError

FORMAT_NAME = "rmd_baselines-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_model_destination(directory: str | os.PathLike) -> None:
    """A model may be saved to ``directory``: it does not exist, is empty, or holds a saved model (replaced)."""
    check_replaceable_directory(directory, MANIFEST, "a model directory")


# What numpy raises for a damaged .npy/.npz file: a garbled header reaches Python's tokenizer (TokenError,
# SyntaxError), a truncated one gives EOFError or ValueError.
ARRAY_FILE_ERRORS = (ValueError, OSError, zipfile.BadZipFile, zlib.error, EOFError, SyntaxError, tokenize.TokenError)


class ModelWriter:
    """Collects a model's files in a temporary directory; `commit` moves it into place atomically."""

    def __init__(self, directory: str | os.PathLike, kind: str):
        # Checks the destination, follows a symlink, locks it against a concurrent run, makes the temporary sibling.
        self._replacement = DirectoryReplacement(directory, MANIFEST, "a model directory", mode=0o755)
        self.directory = self._replacement.path
        self.kind = kind
        self.tmp = self._replacement.tmp
        self.files: list[str] = []

    def path(self, name: str) -> str:
        """Where to write a file yourself (e.g. LightGBM's ``save_model``); it is registered for the manifest."""
        if "/" in name or name.startswith(".") or name == MANIFEST:
            raise ValueError(f"invalid model file name {name!r}")
        if name not in self.files:
            self.files.append(name)
        return os.path.join(self.tmp, name)

    def write_json(self, name: str, obj: Any) -> None:
        with open(self.path(name), "w", encoding="utf-8") as out:
            json.dump(obj, out, ensure_ascii=False, indent=1, sort_keys=True)
            out.write("\n")

    def write_text(self, name: str, text: str) -> None:
        with open(self.path(name), "w", encoding="utf-8", newline="\n") as out:
            out.write(text)

    def write_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Numeric arrays only (object arrays would need pickle and are refused)."""
        for key, value in arrays.items():
            if np.asarray(value).dtype == object:
                raise TypeError(f"array {key!r} has dtype object; store strings in JSON instead")
        # Like np.savez_compressed, but with fixed zip timestamps so that the same model gives the same bytes.
        with zipfile.ZipFile(self.path(name), "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for key, value in arrays.items():
                info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)

    def commit(self) -> None:
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "library_version": __version__,
            "files": {name: file_sha256(os.path.join(self.tmp, name)) for name in sorted(self.files)},
        }
        with open(os.path.join(self.tmp, MANIFEST), "w", encoding="utf-8") as out:
            json.dump(manifest, out, ensure_ascii=False, indent=1, sort_keys=True)
            out.write("\n")
        self._replacement.commit()

    def abort(self) -> None:
        self._replacement.abort()


@contextlib.contextmanager
def model_writer(directory: str | os.PathLike, kind: str) -> Iterator[ModelWriter]:
    """``with model_writer(dir, "route") as w: w.write_json(...)`` -- committed only if the block succeeds."""
    writer = None
    try:
        with signals_held():  # a signal lands once ``writer`` is known (then aborted) or before anything exists
            writer = ModelWriter(directory, kind)
        yield writer
        writer.commit()
    except BaseException as exc:
        if writer is None:
            raise
        writer.abort()  # also after a failed commit: deleting the temporary directory again is harmless
        named = write_failure(exc, writer.directory)
        if named is not None:
            raise named from None
        raise


class ModelReader:
    """Validates a model directory and reads its files; every problem is a one-line `ModelFormatError`."""

    def __init__(self, directory: str | os.PathLike, kinds: tuple[str, ...] | str | None = None):
        self.directory = os.fspath(directory)
        if not os.path.isdir(self.directory):
            raise ModelFormatError(f"{self.directory}: no such model directory")
        manifest_path = os.path.join(self.directory, MANIFEST)
        if not os.path.isfile(manifest_path):
            raise ModelFormatError(f"{self.directory}: not an rmd_baselines model directory (no {MANIFEST})")
        try:
            with open(manifest_path, encoding="utf-8") as handle:
                manifest = json.load(handle)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"{manifest_path}: unreadable manifest ({' '.join(str(exc).split())[:120]})") \
                from None
        except RecursionError:  # e.g. 100,000 nested '['
            raise ModelFormatError(f"{manifest_path}: not a model manifest (JSON nested too deeply)") from None
        except OSError as exc:
            raise ModelFormatError(f"{manifest_path}: cannot read ({exc.strerror or exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise ModelFormatError(f"{manifest_path}: not an rmd_baselines model manifest")
        version = manifest.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ModelFormatError(f"{manifest_path}: format_version: {version!r} is not a format version "
                                   "(a positive integer)")
        if version > FORMAT_VERSION:
            raise ModelFormatError(
                f"{self.directory}: model format version {version} is newer than this rmd_baselines "
                f"({__version__}) reads (version {FORMAT_VERSION}); upgrade rmd_baselines"
            )
        self.kind = manifest.get("kind")
        if not isinstance(self.kind, str) or not self.kind:
            raise ModelFormatError(f"{manifest_path}: kind: missing or not a string (expected one of "
                                   "'route', 'recommend', 'respond')")
        wanted = (kinds,) if isinstance(kinds, str) else kinds
        if wanted and self.kind not in wanted:
            raise ModelFormatError(
                f"{self.directory}: this is a {self.kind!r} model, expected {' or '.join(repr(k) for k in wanted)}"
            )
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise ModelFormatError(f"{manifest_path}: file list missing")
        for name, digest in files.items():
            path = os.path.join(self.directory, name)
            if "/" in name or not os.path.isfile(path):
                raise ModelFormatError(f"{self.directory}: model file {name!r} is missing")
            if file_sha256(path) != digest:
                raise ModelFormatError(f"{path}: checksum mismatch (file truncated or modified since it was saved)")
        self.files = files
        self.manifest = manifest

    def path(self, name: str) -> str:
        if name not in self.files:
            raise ModelFormatError(f"{self.directory}: model file {name!r} is not in the manifest")
        return os.path.join(self.directory, name)

    def has(self, name: str) -> bool:
        return name in self.files

    def read_json(self, name: str) -> Any:
        path = self.path(name)
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"{path}: invalid JSON ({' '.join(str(exc).split())[:120]})") from None
        except RecursionError:
            raise ModelFormatError(f"{path}: not a model file (JSON nested too deeply)") from None

    def read_text(self, name: str) -> str:
        path = self.path(name)
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except UnicodeDecodeError as exc:
            raise ModelFormatError(f"{path}: invalid UTF-8 ({exc})") from None

    def read_arrays(self, name: str, finite: bool = True) -> dict[str, np.ndarray]:
        """The arrays of an ``.npz`` file (never unpickled); anything else in the file is a `ModelFormatError`, and
        so is a NaN or infinite float unless ``finite=False`` (a model whose arrays legitimately hold them)."""
        path = self.path(name)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            loaded = np.load(io.BytesIO(data), allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            with loaded as npz:
                arrays = {key: npz[key] for key in npz.files}
        except ARRAY_FILE_ERRORS as exc:
            raise ModelFormatError(f"{path}: unreadable array file ({exc})") from None
        for key, value in arrays.items():
            if not isinstance(value, np.ndarray):
                raise ModelFormatError(f"{path}: member {key!r} is not a .npy array")
            if finite and value.dtype.kind in "fc" and not np.isfinite(value).all():
                raise ModelFormatError(f"{path}: member {key!r} holds a NaN or infinite value (model file corrupt)")
        return arrays

    def read_component(self, name: str, format_name: str, format_version: int, what: str) -> dict:
        """The JSON description of one model component, checked to be ``format_name`` of a version we read."""
        meta = self.read_json(name)
        where = os.path.join(self.directory, name)
        if not isinstance(meta, dict) or meta.get("format") != format_name:
            raise ModelFormatError(f"{where}: not a {what} description")
        version = meta.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ModelFormatError(f"{where}: {what} format version {version!r} is not a version number")
        if version > format_version:
            raise ModelFormatError(f"{where}: {what} format version {version} is newer than this rmd_baselines "
                                   f"reads ({format_version}); upgrade rmd_baselines")
        return meta

    def estimator(self, cls, meta: dict, name: str, exclude: tuple[str, ...] = (), **fixed) -> Any:
        """``cls(**meta["params"], **fixed)`` after checking the saved hyper-parameters are exactly the ones
        ``cls`` takes (minus ``exclude``) and pass its own ``_check_params``."""
        from .errors import UsageError

        where = os.path.join(self.directory, name)
        params = self.require(meta, "params", name)
        expected = set(cls().get_params()) - set(exclude)
        if not isinstance(params, dict) or set(params) != expected:
            raise ModelFormatError(f"{where}: 'params' must hold exactly {sorted(expected)}")
        estimator = cls(**params, **fixed)
        try:
            estimator._check_params()
        except UsageError as exc:
            raise ModelFormatError(f"{where}: {exc}") from None
        return estimator

    def require(self, obj: Any, key: str, name: str) -> Any:
        """``obj[key]`` or a `ModelFormatError` naming the file and key."""
        try:
            return obj[key]
        except (KeyError, TypeError, IndexError):
            raise ModelFormatError(f"{os.path.join(self.directory, name)}: missing entry {key!r}") from None


def read_kind(directory: str | os.PathLike) -> str:
    """The ``kind`` of a model directory (validated)."""
    return ModelReader(directory).kind
