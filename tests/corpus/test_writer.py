"""Atomic writers: a failure part-way leaves no partial file and the old file untouched."""

import errno
import gzip
import os
import signal
import subprocess
import sys

import pytest

from rmd_baselines.corpus import Dialogue, Turn, atomic_open, load_dialogues, write_dialogues, write_jsonl
from rmd_baselines.corpus.writer import DirectoryReplacement, OutputLock, atomic_directory
from rmd_baselines.errors import RmdError, UsageError
from tests.output_checks import folder_names, tree_bytes


def dialogues(n):
    return [Dialogue(id=f"d{i}", turns=(Turn("patient", "头疼"), Turn("doctor", "多休息"))) for i in range(n)]


def test_write_then_read_back(tmp_path):
    path = tmp_path / "out.jsonl"
    assert write_dialogues(path, dialogues(3)) == 3
    assert [d.id for d in load_dialogues(path)[0]] == ["d0", "d1", "d2"]
    assert "头疼" in path.read_text("utf-8")  # Chinese kept readable, not \\u-escaped


def failing_records():
    yield {"id": "a"}
    raise RuntimeError("disk full")


def test_failure_leaves_no_partial_file(tmp_path):
    path = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        write_jsonl(path, failing_records())
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_failure_keeps_previous_file(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("previous\n", "utf-8")
    with pytest.raises(RuntimeError):
        write_jsonl(path, failing_records())
    assert path.read_text("utf-8") == "previous\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_gzip_output_is_reproducible(tmp_path):
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    write_dialogues(first, dialogues(5))
    write_dialogues(second, dialogues(5))
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"\0\0\0\0"  # the gzip header's timestamp: always zero
    assert gzip.decompress(first.read_bytes()).count(b"\n") == 5


def test_atomic_open_binary(tmp_path):
    path = tmp_path / "blob.bin"
    with atomic_open(path, "wb") as out:
        out.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


def test_output_gets_ordinary_permissions(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [{"id": "a"}])
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


# ---- issue 13: disk full named, D8 symlinked outputs, D9 concurrent runs, the swap never loses the old folder ----

def _disk_full_after(limit):
    written = {"n": 0}

    def records():
        for record in ({"i": i} for i in range(10)):
            written["n"] += 1
            if written["n"] > limit:
                raise OSError(errno.ENOSPC, "No space left on device")
            yield record
    return records()


def test_a_full_disk_names_the_path_and_keeps_the_previous_file(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    with pytest.raises(RmdError, match=r"out.jsonl: cannot write \(No space left on device\)") as caught:
        write_jsonl(out, _disk_full_after(3))
    assert caught.value.exit_code == 1 and not isinstance(caught.value, OSError)
    assert out.read_text() == "previous\n" and folder_names(tmp_path) == ["out.jsonl"]


def test_a_full_disk_in_an_output_folder_names_the_folder(tmp_path):
    out = tmp_path / "split"
    with pytest.raises(RmdError, match=r"split: cannot write \(No space left on device\)"):
        with atomic_directory(out, "split.json", "a split directory") as tmp:
            with open(os.path.join(tmp, "split.json"), "w") as handle:
                handle.write("{}")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert folder_names(tmp_path) == []


def _write_folder(path, text):
    with atomic_directory(path, "split.json", "a split directory") as tmp:
        with open(os.path.join(tmp, "split.json"), "w") as handle:
            handle.write(text)


def test_a_symlinked_output_folder_is_followed_and_nothing_is_left_behind(tmp_path):
    target = tmp_path / "real"
    _write_folder(target, "first")
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    _write_folder(link, "second")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert (target / "split.json").read_text() == "second" and (link / "split.json").read_text() == "second"
    assert folder_names(tmp_path) == ["link", "real"]


def test_a_dangling_symlink_is_followed_to_a_new_folder(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "made", target_is_directory=True)
    _write_folder(link, "new")
    assert link.is_symlink() and (tmp_path / "made" / "split.json").read_text() == "new"
    assert folder_names(tmp_path) == ["link", "made"]


def test_a_second_writer_of_the_same_output_fails_cleanly(tmp_path):
    out = tmp_path / "out"
    _write_folder(out, "first")
    first = DirectoryReplacement(out, "split.json", "a split directory")
    with pytest.raises(UsageError, match="another run is writing this output"):
        DirectoryReplacement(out, "split.json", "a split directory")
    with open(os.path.join(first.tmp, "split.json"), "w") as handle:
        handle.write("winner")
    first.commit()
    assert (out / "split.json").read_text() == "winner" and folder_names(tmp_path) == ["out"]
    _write_folder(out, "later")  # the lock is released (and its file deleted) after a commit
    assert (out / "split.json").read_text() == "later" and folder_names(tmp_path) == ["out"]


def test_the_lock_is_released_after_an_abort(tmp_path):
    replacement = DirectoryReplacement(tmp_path / "out", "split.json", "a split directory")
    replacement.abort()
    lock = OutputLock(str(tmp_path / "out"))
    lock.release()
    assert folder_names(tmp_path) == []


RACE = r"""
import os, sys, time
from rmd_baselines.corpus.writer import atomic_directory
from rmd_baselines.errors import UsageError
out, name = sys.argv[1], sys.argv[2]
start = float(sys.argv[3])
while time.time() < start:
    pass
try:
    with atomic_directory(out, "split.json", "a split directory") as tmp:
        for part in range(20):
            with open(os.path.join(tmp, f"part{part}.txt"), "w") as handle:
                handle.write(name)
        with open(os.path.join(tmp, "split.json"), "w") as handle:
            handle.write(name)
        time.sleep(0.2)
except UsageError as exc:
    print("lost", exc)
    sys.exit(2)
print("won")
"""


def test_concurrent_writers_one_wins_whole_the_others_fail_cleanly(tmp_path):
    out = tmp_path / "out"
    _write_folder(out, "before")
    import time

    start = time.time() + 1.5
    processes = [subprocess.Popen([sys.executable, "-c", RACE, str(out), f"run{i}", str(start)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in processes]
    assert all(err == "" for _, _, err in results), results
    assert all(code in (0, 2) for code, _, _ in results) and any(code == 0 for code, _, _ in results), results
    names = {(out / name).read_text() for name in os.listdir(out)}
    assert len(names) == 1 and names != {"before"}  # every file from one run
    assert len(os.listdir(out)) == 21 and folder_names(tmp_path) == ["out"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    from rmd_baselines.corpus import writer

    out = tmp_path / "out"
    _write_folder(out, "old")
    before = tree_bytes(out)
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 2:  # the new folder into place
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(writer.os, "replace", failing_replace)
    with pytest.raises(RmdError, match="out: cannot write"):
        _write_folder(out, "new")
    assert tree_bytes(out) == before and folder_names(tmp_path) == ["out"]


def test_a_symlinked_output_file_is_followed(tmp_path):
    (tmp_path / "real.jsonl").write_text("old\n")
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "real.jsonl")
    write_jsonl(tmp_path / "link.jsonl", [{"a": 1}])
    assert (tmp_path / "link.jsonl").is_symlink() and (tmp_path / "real.jsonl").read_text() == '{"a": 1}\n'
    assert folder_names(tmp_path) == ["link.jsonl", "real.jsonl"]


# ---- fuzz F9: a failed write leaves no parent folder it created ----

def test_a_failed_file_write_removes_the_parent_folders_it_created(tmp_path):
    with pytest.raises(RuntimeError):
        write_jsonl(tmp_path / "a" / "b" / "out.jsonl", failing_records())
    assert folder_names(tmp_path) == []


def test_a_failed_folder_write_removes_the_parent_folders_it_created(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(KeyboardInterrupt):
        with atomic_directory(tmp_path / "a" / "b" / "c" / "split", "split.json", "a split directory") as tmp:
            open(os.path.join(tmp, "split.json"), "w").close()
            raise KeyboardInterrupt
    assert folder_names(tmp_path) == ["a"] and folder_names(tmp_path / "a") == []


def test_a_committed_folder_keeps_its_new_parents_and_an_aborted_one_does_not(tmp_path):
    done = DirectoryReplacement(tmp_path / "x" / "y" / "model", "manifest.json", "a model directory")
    done.commit()
    assert folder_names(tmp_path / "x" / "y") == ["model"]
    dropped = DirectoryReplacement(tmp_path / "p" / "q" / "model", "manifest.json", "a model directory")
    dropped.abort()
    assert folder_names(tmp_path) == ["x"]


# Deep fuzz run: SIGTERM 0.07 s into `data split` left `.split.lock` behind -- the signal landed after the lock
# file was made and before its owner knew it. A Ctrl-C raised right there (a real signal, sent to this process at
# that moment) must leave nothing behind.

def _interrupt_after(monkeypatch, module, name):
    original = getattr(module, name)

    def then_ctrl_c(*args, **kwargs):
        result = original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(module, name, then_ctrl_c)


def _wrapped_init(original):
    def init_then_ctrl_c(self, *args, **kwargs):
        original(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
    return init_then_ctrl_c


def test_ctrl_c_as_the_lock_is_taken_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    import rmd_baselines.corpus.writer as writer

    _write_folder(tmp_path / "out", "earlier")
    before = tree_bytes(tmp_path)
    monkeypatch.setattr(writer.OutputLock, "__init__", _wrapped_init(writer.OutputLock.__init__))
    with pytest.raises(KeyboardInterrupt):
        _write_folder(tmp_path / "out", "later")
    assert tree_bytes(tmp_path) == before


def test_ctrl_c_as_the_temporary_file_is_made_leaves_nothing(tmp_path, monkeypatch):
    import tempfile

    (tmp_path / "out.jsonl").write_text("earlier")
    before = tree_bytes(tmp_path)
    _interrupt_after(monkeypatch, tempfile, "mkstemp")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(tmp_path / "new" / "out.jsonl") as out:
            out.write("x")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(tmp_path / "out.jsonl") as out:
            out.write("later")
    assert tree_bytes(tmp_path) == before


def test_ctrl_c_as_a_model_directory_is_started_leaves_nothing(tmp_path, monkeypatch):
    import rmd_baselines.corpus.writer as writer
    from rmd_baselines.persist import model_writer

    monkeypatch.setattr(writer.OutputLock, "__init__", _wrapped_init(writer.OutputLock.__init__))
    with pytest.raises(KeyboardInterrupt):
        with model_writer(tmp_path / "models" / "m", "route") as out:
            out.write_json("model.json", {})
    assert folder_names(tmp_path) == []
