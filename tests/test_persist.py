"""Model directories without pickle: manifest, checksums, kinds, versions, reproducible bytes."""

import io
import json
import zipfile

import numpy as np
import pytest

from rmd_baselines.errors import ModelFormatError, UsageError
from rmd_baselines.persist import FORMAT_VERSION, ModelReader, file_sha256, model_writer


def save(directory, kind="route"):
    with model_writer(directory, kind) as writer:
        writer.write_json("model.json", {"labels": ["内科", "外科"]})
        writer.write_arrays("weights.npz", coef=np.arange(6.0).reshape(2, 3), bias=np.array([1, 2]))
        writer.write_text("notes.txt", "hello\n")
    return directory


def test_round_trip(tmp_path):
    reader = ModelReader(save(tmp_path / "m"), kinds="route")
    assert reader.read_json("model.json") == {"labels": ["内科", "外科"]}
    arrays = reader.read_arrays("weights.npz")
    assert arrays["coef"].shape == (2, 3) and arrays["bias"].tolist() == [1, 2]
    assert reader.read_text("notes.txt") == "hello\n"


def test_same_model_same_bytes(tmp_path):
    first, second = save(tmp_path / "a"), save(tmp_path / "b")
    for name in ("manifest.json", "model.json", "weights.npz"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_failed_save_leaves_nothing_and_keeps_the_old_model(tmp_path):
    target = save(tmp_path / "m")
    before = (target / "model.json").read_bytes()
    with pytest.raises(RuntimeError):
        with model_writer(target, "route") as writer:
            writer.write_json("model.json", {"labels": []})
            raise RuntimeError("interrupted")
    assert (target / "model.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        with model_writer(tmp_path / "m", "route") as writer:
            writer.write_arrays("bad.npz", labels=np.array(["a", None], dtype=object))


def corrupt(path, how):
    manifest = path / "manifest.json"
    if how == "tampered":
        (path / "model.json").write_text('{"labels": ["x"]}', "utf-8")
    elif how == "truncated":
        data = (path / "weights.npz").read_bytes()
        (path / "weights.npz").write_bytes(data[: len(data) // 2])
    elif how == "missing_file":
        (path / "notes.txt").unlink()
    elif how == "no_manifest":
        manifest.unlink()
    elif how == "foreign_manifest":
        manifest.write_text('{"format": "something-else"}', "utf-8")
    elif how == "newer_version":
        data = json.loads(manifest.read_text("utf-8"))
        data["format_version"] = FORMAT_VERSION + 1
        manifest.write_text(json.dumps(data), "utf-8")
    elif how == "garbage_manifest":
        manifest.write_bytes(b"\xff\x00garbage")


@pytest.mark.parametrize("how, message", [
    ("tampered", "checksum mismatch"),
    ("truncated", "checksum mismatch"),
    ("missing_file", "'notes.txt' is missing"),
    ("no_manifest", "not an rmd_baselines model directory"),
    ("foreign_manifest", "not an rmd_baselines model manifest"),
    ("newer_version", "is newer than this rmd_baselines"),
    ("garbage_manifest", "unreadable manifest"),
])
def test_bad_directories_give_one_line_errors(tmp_path, how, message):
    path = save(tmp_path / "m")
    corrupt(path, how)
    with pytest.raises(ModelFormatError, match=message) as info:
        ModelReader(path)
    assert "\n" not in str(info.value)


def test_kind_mismatch_and_missing_directory(tmp_path):
    path = save(tmp_path / "m", kind="recommend")
    with pytest.raises(ModelFormatError, match="this is a 'recommend' model, expected 'route'"):
        ModelReader(path, kinds="route")
    with pytest.raises(ModelFormatError, match="no such model directory"):
        ModelReader(tmp_path / "absent")


def test_saving_over_a_folder_that_is_not_a_model_is_refused(tmp_path):
    folder = tmp_path / "results"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("keep me", "utf-8")
    with pytest.raises(UsageError, match="not a model directory"):
        save(folder)
    assert (folder / "notes.txt").read_text("utf-8") == "keep me" and (folder / "sub").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no temporary directory left behind
    (tmp_path / "empty").mkdir()
    assert ModelReader(save(tmp_path / "empty")).read_json("model.json")  # an empty folder is fine
    save(tmp_path / "empty")  # and so is replacing a model


def _replace_member(path, name, data: bytes):
    """Put other bytes in a model file and update the manifest, so only the content checks can catch it."""
    (path / name).write_bytes(data)
    manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    manifest["files"][name] = file_sha256(str(path / name))
    (path / "manifest.json").write_text(json.dumps(manifest), "utf-8")


def _npy_bytes():
    buffer = io.BytesIO()
    np.save(buffer, np.arange(3.0))
    return buffer.getvalue()


def _zip_bytes(member: str, payload: bytes, corrupt: bool = False):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, payload)
    data = bytearray(buffer.getvalue())
    if corrupt:  # flip bytes inside the compressed stream, after the 30-byte local header and the name
        start = 30 + len(member)
        data[start:start + 8] = b"\xff" * 8
    return bytes(data)


@pytest.mark.parametrize("payload", [
    _npy_bytes(),
    _zip_bytes("coef.npy", _npy_bytes() * 4, corrupt=True),
    _zip_bytes("coef.txt", b"not an array"),
], ids=["plain-npy", "corrupt-deflate", "member-not-npy"])
def test_array_files_that_are_not_npz_archives_are_refused(tmp_path, payload):
    path = save(tmp_path / "m")
    _replace_member(path, "weights.npz", payload)
    with pytest.raises(ModelFormatError, match="weights.npz: (unreadable array file|member 'coef.txt')"):
        ModelReader(path).read_arrays("weights.npz")


# ---- issue 13: D4 (deeply nested JSON) and D14 (format_version and kind named) ----

def _rewrite_manifest(directory, change=None, drop=None, raw=None):
    path = directory / "manifest.json"
    if raw is not None:
        path.write_text(raw, "utf-8")
        return
    manifest = json.loads(path.read_text("utf-8"))
    manifest.update(change or {})
    if drop:
        del manifest[drop]
    path.write_text(json.dumps(manifest), "utf-8")


def test_a_deeply_nested_manifest_is_not_a_model(tmp_path):
    directory = save(tmp_path / "m")
    _rewrite_manifest(directory, raw="[" * 100_000)
    with pytest.raises(ModelFormatError, match="not a model manifest"):
        ModelReader(directory)


def test_a_deeply_nested_model_file_is_not_a_model(tmp_path):
    from rmd_baselines.persist import MANIFEST

    directory = save(tmp_path / "m")
    (directory / "model.json").write_text("[" * 100_000, "utf-8")
    manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
    manifest["files"]["model.json"] = file_sha256(directory / "model.json")
    (directory / MANIFEST).write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(ModelFormatError, match="not a model file"):
        ModelReader(directory).read_json("model.json")


@pytest.mark.parametrize("version", [True, False, -7, 0, 1.0, "1", None])
def test_a_format_version_that_is_not_a_positive_integer_is_named(tmp_path, version):
    directory = save(tmp_path / "m")
    _rewrite_manifest(directory, {"format_version": version})
    with pytest.raises(ModelFormatError, match=r"manifest.json: format_version: .* is not a format version"):
        ModelReader(directory)


@pytest.mark.parametrize("kind", ["drop", None, 7, ""])
def test_a_missing_kind_is_named(tmp_path, kind):
    directory = save(tmp_path / "m")
    if kind == "drop":
        _rewrite_manifest(directory, drop="kind")
    else:
        _rewrite_manifest(directory, {"kind": kind})
    with pytest.raises(ModelFormatError, match="manifest.json: kind: missing or not a string"):
        ModelReader(directory, kinds="route")


# ---- issue 13 "data is never lost": train --out failing midway, concurrent saves, symlinked --out ----

@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    from tests.respond.dialogue_fixtures import write_tiny_corpus

    return write_tiny_corpus(tmp_path_factory.mktemp("persist") / "tiny.jsonl")


@pytest.mark.parametrize("error, code, message", [
    (KeyboardInterrupt(), 130, "rmd-baseline: interrupted\n"),
    (OSError(28, "No space left on device"), 1, "model: cannot write (No space left on device)"),
    (RuntimeError("boom"), 1, "internal error: RuntimeError: boom"),
])
@pytest.mark.parametrize("task", ["route", "respond"])
def test_train_failing_midway_keeps_the_previous_model(tmp_path, monkeypatch, tiny_corpus, task, error, code,
                                                       message):
    from rmd_baselines import persist
    from tests.cli.invoke import run_streams
    from tests.output_checks import folder_names, tree_bytes

    out = tmp_path / "model"
    args = ["train", task, "--data", tiny_corpus, "--out", out] + (["--min-count", "1"] if task == "route" else [])
    assert run_streams(*args)[0] == 0
    before = tree_bytes(out)
    real = persist.ModelWriter.path
    calls = {"n": 0}

    def failing_path(self, name):  # every model file goes through path(): fail at the second
        calls["n"] += 1
        if calls["n"] == 2:
            raise error
        return real(self, name)

    monkeypatch.setattr(persist.ModelWriter, "path", failing_path)
    result = run_streams(*args, "--seed", "5")
    assert result[0] == code and message in result[2] and result[2].count("\n") == 1, result
    assert tree_bytes(out) == before and folder_names(tmp_path) == ["model"]


def test_a_model_saved_through_a_symlink_keeps_the_link(tmp_path):
    import os

    save(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    save(tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and ModelReader(tmp_path / "link", kinds="route").kind == "route"
    assert sorted(os.listdir(tmp_path)) == ["link", "real"]


def test_saving_a_model_that_another_run_is_saving_fails_cleanly(tmp_path):
    import os

    from rmd_baselines.persist import ModelWriter

    first = ModelWriter(tmp_path / "m", "route")
    with pytest.raises(UsageError, match="another run is writing this output"):
        save(tmp_path / "m")
    first.write_json("model.json", {"labels": []})
    first.commit()
    assert ModelReader(tmp_path / "m").read_json("model.json") == {"labels": []}
    assert sorted(os.listdir(tmp_path)) == ["m"]


# ---- fuzz findings F3 (NaN in a model's arrays) and F4 (an array of another shape) ----

def _replace_array(directory, name, key, value):
    """Rewrite one member of a model's .npz and update its checksum: a consistent but corrupt model."""
    from rmd_baselines.persist import MANIFEST

    path = directory / name
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays[key] = value
    np.savez(path, **arrays)
    manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
    manifest["files"][name] = file_sha256(path)
    (directory / MANIFEST).write_text(json.dumps(manifest), "utf-8")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_an_array_with_nan_or_inf_is_refused(tmp_path, bad):
    directory = save(tmp_path / "m")
    _replace_array(directory, "weights.npz", "coef", np.array([[1.0, bad, 0.0], [0.0, 1.0, 2.0]]))
    with pytest.raises(ModelFormatError, match=r"weights.npz: member 'coef' holds a NaN or infinite value"):
        ModelReader(directory).read_arrays("weights.npz")
    assert ModelReader(directory).read_arrays("weights.npz", finite=False)["coef"].shape == (2, 3)


def test_a_responder_array_of_another_shape_is_a_refused_model(tmp_path, tiny_corpus):
    from tests.cli.invoke import run_streams

    out = tmp_path / "model"
    assert run_streams("train", "respond", "--data", tiny_corpus, "--model", "retrieval", "--out", out)[0] == 0
    npz = next(name for name in sorted(p.name for p in out.iterdir()) if name.endswith("_lm.npz"))
    with np.load(out / npz, allow_pickle=False) as arrays:
        key = next(k for k in arrays.files if arrays[k].ndim == 1)
    _replace_array(out, npz, key, np.array(7))
    code, stdout, stderr = run_streams("respond", "病人：头痛", "--model", out)
    assert code == 2 and stdout == "" and stderr.count("\n") == 1 and "internal error" not in stderr, stderr
