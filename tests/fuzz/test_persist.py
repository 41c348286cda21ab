"""Fuzz the model loader (rmd_baselines/persist.py and the loaders behind it: classify.load_model,
respond.load_responder) with mutated copies of small saved models: the manifest's JSON changed at any place or its
bytes damaged, model files truncated, spliced, removed or added, JSON files changed at any place and ``.npz`` arrays
reshaped, retyped, emptied or filled with NaN -- with the manifest's checksums left alone (tampering) or updated
(so that the content itself is what the loader sees).

Invariants: loading either succeeds or raises one `RmdError` whose message is one line (``ModelFormatError`` for a
tampered or malformed model); a model that loads answers a query or fails with an `RmdError`, never with an
``IndexError`` or the like; the command line refuses a broken model with exit status 2 and one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rmd_baselines.errors import RmdError

from .strategies import json_values
from .support import check_run, fuzz, run_cli

MODELS = ("model-route", "model-recommend", "model-route-hidden", "model-ngram", "model-retrieval", "model-rerank")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _paths(obj, prefix=()):
    """Every place in a JSON value: (path of keys/indices)."""
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for index, value in enumerate(obj[:20]):
            yield from _paths(value, prefix + (index,))


def _replace(obj, path, value, delete=False):
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


def json_mutation(data, obj):
    """Change ``obj`` at one random place; draws only small values (so that a failing example prints short)."""
    places = list(_paths(obj))
    path = places[data.draw(st.integers(0, len(places) - 1), label="place")]
    how = data.draw(st.sampled_from(["value", "value", "delete", "nest", "number", "string"]), label=f"at {path!r}")
    if how == "delete" and path:
        return _replace(obj, path, None, delete=True)
    if how == "nest":
        return _replace(obj, path, json.loads("[" * 50 + "]" * 50))
    if how == "number":
        return _replace(obj, path, data.draw(st.sampled_from([-7, 0, 1, 2, 10**30, -1.5, True, False, None, 1e308])))
    if how == "string":
        return _replace(obj, path, data.draw(st.sampled_from(["", "x", "../manifest.json", "/etc/passwd", "\u200b"])))
    return _replace(obj, path, data.draw(json_values))


def array_mutation(data, arrays: dict) -> dict:
    """Change one array of an ``.npz`` file (drawing only small values)."""
    arrays = dict(arrays)
    key = data.draw(st.sampled_from(sorted(arrays)), label="array")
    value = arrays[key]
    how = data.draw(st.sampled_from(["drop", "empty", "reshape", "dtype", "nan", "negative", "huge", "extra",
                                     "scalar"]), label=f"{key} {value.dtype}{value.shape}")
    if value.ndim == 0 and how in ("empty", "reshape"):
        how = "drop"
    if how == "drop":
        del arrays[key]
    elif how == "empty":
        arrays[key] = value[:0]
    elif how == "reshape":
        arrays[key] = value.reshape(-1)[: max(0, value.size - data.draw(st.integers(1, 3)))]
    elif how == "dtype":
        arrays[key] = value.astype(data.draw(st.sampled_from(["float32", "int8", "int64", "bool", "U3"])))
    elif how == "nan" and value.dtype.kind == "f" and value.size:
        flat = value.reshape(-1).copy()
        flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        arrays[key] = flat.reshape(value.shape)
    elif how == "negative" and value.dtype.kind in "iu" and value.size:
        flat = value.reshape(-1).astype(np.int64)
        flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(st.sampled_from([-1, -(2**40), 2**40]))
        arrays[key] = flat.reshape(value.shape)
    elif how == "huge" and value.size:
        arrays[key] = np.full_like(value, value.reshape(-1)[0]) if value.dtype.kind != "f" else value * 1e300
    elif how == "extra":
        arrays["extra"] = np.arange(3)
    else:
        arrays[key] = np.array(7)
    return arrays


def mutate(directory: Path, data) -> str:
    """Apply one to three random mutations to a model directory; returns a description."""
    done = []
    for _ in range(data.draw(st.integers(1, 3))):
        names = sorted(p.name for p in directory.iterdir())
        name = data.draw(st.sampled_from(names))
        path = directory / name
        manifest_path = directory / "manifest.json"
        rehash = data.draw(st.booleans())
        how = data.draw(st.sampled_from(["content", "content", "bytes", "remove", "add"]))
        if how == "remove":
            path.unlink()
        elif how == "add":
            (directory / data.draw(st.sampled_from(["extra.json", "model.json.tmp", ".hidden"]))).write_text("{}")
        elif how == "bytes" or not name.endswith((".json", ".npz")):
            raw = path.read_bytes()
            cut = data.draw(st.integers(0, len(raw)))
            damage = data.draw(st.sampled_from(["truncate", "splice", "nested", "not-utf8", "empty", "doubled"]))
            if damage == "truncate":
                raw = raw[:cut]
            elif damage == "splice":
                raw = raw[:cut] + data.draw(st.binary(min_size=1, max_size=16)) + raw[cut + 1:]
            elif damage == "nested":
                raw = b"[" * 100000
            elif damage == "not-utf8":
                raw = b"\xff\xfe"
            elif damage == "empty":
                raw = b""
            else:
                raw = raw + raw
            path.write_bytes(raw)
        elif name.endswith(".json"):
            try:
                obj = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError, RecursionError):  # damaged by an earlier mutation
                continue
            path.write_text(json.dumps(json_mutation(data, obj), allow_nan=True), encoding="utf-8")
        else:
            try:
                with np.load(path, allow_pickle=False) as npz:
                    arrays = {k: npz[k] for k in npz.files}
            except (ValueError, OSError, EOFError, zipfile.BadZipFile):
                continue
            if not arrays:
                continue
            buffer = io.BytesIO()
            np.savez(buffer, **array_mutation(data, arrays))
            path.write_bytes(buffer.getvalue())
        done.append(f"{how}:{name}{'+rehash' if rehash else ''}")
        if rehash and name != "manifest.json" and manifest_path.is_file():
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
                if isinstance(manifest.get("files"), dict) and name in manifest["files"]:
                    if path.exists():
                        manifest["files"][name] = _sha(path)
                    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
            except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
                pass
    return ", ".join(done)


def load_and_use(directory: Path, kind: str):
    """Load with the library and answer one query; returns the error of a refusal."""
    if kind in ("route", "recommend"):
        from rmd_baselines.classify import load_model

        model = load_model(directory)
        model.predict_topk(["头痛三天了，还有点发烧", ""], 3)
    else:
        from rmd_baselines.respond.model import load_responder

        loaded = load_responder(directory)
        loaded.responder.respond("病人：孩子发烧两天了\n医生：最高多少度？\n病人：38度5", k=3)


@contextlib.contextmanager
def mutated_copy(inputs, name, data):
    """``(kind, directory, what)``: a copy of saved model ``name`` in a temporary folder, mutated by `mutate`."""
    kind = {"model-route": "route", "model-recommend": "recommend", "model-route-hidden": "route"}.get(name, "respond")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "model"
        shutil.copytree(inputs[name], directory)
        yield kind, directory, mutate(directory, data)


@fuzz(60)
@given(st.sampled_from(MODELS), st.data())
def test_mutated_models_load_or_are_refused_in_one_line(inputs, name, data):
    with mutated_copy(inputs, name, data) as (kind, directory, what):
        try:
            load_and_use(directory, kind)
        except RmdError as exc:
            message = str(exc)
            assert message and "\n" not in message, f"{what}: {message!r}"
        except RecursionError:
            raise AssertionError(f"{what}: RecursionError (issue 13 D4)") from None
        except Exception as exc:
            raise AssertionError(f"{what}: {type(exc).__name__}: {exc}") from exc


@fuzz(25)
@given(st.sampled_from(MODELS), st.data())
def test_command_line_refuses_a_broken_model_with_exit_2(inputs, name, data):
    with mutated_copy(inputs, name, data) as (kind, directory, what):
        text = "病人：孩子发烧两天了\\n医生：最高多少度？\\n病人：38度5" if kind == "respond" else "头痛三天了"
        json_out = data.draw(st.booleans())
        run = run_cli([kind, text, "--model", os.fspath(directory), "--top-k", "2"] + (["--json"] if json_out else []))
        check_run(run, json_out=json_out)
        assert run.code in (0, 2), f"{what}: a broken model gave exit status {run.code}\n{run.describe()}"
