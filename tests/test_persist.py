"""Model directories without pickle: manifest, checksums, kinds, versions, reproducible bytes."""

import json

import numpy as np
import pytest

from rmd_baselines.errors import ModelFormatError
from rmd_baselines.persist import FORMAT_VERSION, ModelReader, model_writer


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
