"""Tests of rmd_baselines/classify/scale.py: --memory-budget, the scale choice, streamed training on the protocol's
split, and the streamed test split with its --max-test sample."""

import json

import pytest

from rmd_baselines.classify.classifier import load_model
from rmd_baselines.classify.evaluation import evaluate_model_dir
from rmd_baselines.classify.scale import (choose_scale, load_test_split, parse_memory_budget, read_training_set,
                                          streamed_task, train_classifier)
from rmd_baselines.classify.training import TrainingSet, train_model
from rmd_baselines.corpus import load_dialogues
from rmd_baselines.errors import DataError, UsageError
from rmd_baselines.tasks import ClassificationSettings, build_classification_task
from rmd_baselines.tasks.splits import sample_by_order_key

from .toy_corpus import write_toy_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_toy_corpus(tmp_path_factory.mktemp("scale") / "toy.jsonl", per_doctor=20)


@pytest.mark.parametrize("text, expected", [("4G", 4 * 1024 ** 3), ("512M", 512 * 1024 ** 2), ("1.5g", 1536 * 1024 ** 2),
                                            ("2GiB", 2 * 1024 ** 3), ("100000000", 100_000_000)])
def test_memory_budget_sizes(text, expected):
    assert parse_memory_budget(text) == expected


@pytest.mark.parametrize("text", ["", "4X", "-1G", "G", "1M", "four"])
def test_bad_memory_budgets(text):
    with pytest.raises(UsageError, match="--memory-budget"):
        parse_memory_budget(text)


def test_scale_choice():
    gib = 1024 ** 3
    assert choose_scale("auto", "route", 2_000, gib) == "memory"
    assert choose_scale("auto", "route", 100_000, gib) == "memory"  # measured: 794 MiB at 100k
    assert choose_scale("auto", "route", 130_000, gib) == "stream"
    assert choose_scale("auto", "route", 1_000_000, 8 * gib) == "memory"
    assert choose_scale("auto", "recommend", 100_000, gib) == "memory"  # measured: 869 MiB at 100k
    assert choose_scale("auto", "recommend", 110_000, gib) == "stream"
    assert choose_scale("auto", "route", 100_000, gib, model="svm-char") == "memory"
    assert choose_scale("memory", "route", 10 ** 7, gib) == "memory"
    assert choose_scale("stream", "route", 10, gib) == "stream"
    with pytest.raises(UsageError):
        choose_scale("huge", "route", 10, gib)


@pytest.mark.parametrize("task", ["route", "recommend"])
def test_streamed_training_uses_the_protocol_split(corpus, task, tmp_path):
    settings = ClassificationSettings(task, seed=3)
    dialogues, _ = load_dialogues(corpus)
    data = build_classification_task(dialogues, settings)
    task_data = streamed_task(corpus, settings)
    assert [d.id for d, _, _ in task_data.iter_records("train")] == sorted(
        (d.id for d in data.train), key=[d.id for d in dialogues].index)
    assert task_data.labels == data.labels and task_data.describe() == data.describe()
    model, summary = train_classifier(corpus, settings, out=tmp_path / "m", scale="stream", memory_budget="256M")
    assert summary["scale"] == "stream" and summary["train_records"] == len(data.train)
    assert [s["stage"] for s in summary["stages"]][:3] == ["scan", "split", "fit"]
    assert all(s["peak_rss_mib"] > 0 for s in summary["stages"])
    loaded = load_model(tmp_path / "m", kinds=task)
    assert loaded.metadata_["settings"] == settings.to_json()
    assert (loaded.predict(data.test_texts) == model.predict(data.test_texts)).all()
    report, table = evaluate_model_dir(tmp_path / "m")
    assert report["n"] == len(data.test) and report["max_test"] is None and report["sample"] is None
    assert report["accuracy"] == pytest.approx(model.score(data.test_texts, data.test_labels))


def test_streamed_fit_sees_exactly_the_train_ids(corpus, tmp_path, monkeypatch):
    from rmd_baselines.classify import streamed

    settings = ClassificationSettings("route")
    data = build_classification_task(load_dialogues(corpus)[0], settings)
    seen = []
    original = streamed.StreamedClassifier.fit_chunks

    def spy(self, chunks, *args, **kwargs):
        def recorded():
            for texts, codes, ids in chunks():
                seen.extend(ids)
                yield texts, codes, ids
        return original(self, recorded, *args, **kwargs)

    monkeypatch.setattr(streamed.StreamedClassifier, "fit_chunks", spy)
    train_classifier(corpus, settings, scale="stream")
    assert sorted(seen) == sorted(d.id for d in data.train)


def test_auto_trains_in_memory_below_the_budget_and_streams_above(corpus, tmp_path):
    settings = ClassificationSettings("route")
    _, summary = train_classifier(corpus, settings, scale="auto")
    assert summary["scale"] == "memory" and "auto:" in summary["scale_reason"]
    _, summary = train_classifier(corpus, settings, scale="auto", memory_budget="64M")
    assert summary["scale"] == "stream"  # the in-memory path alone needs more than 64M
    with pytest.raises(UsageError):
        train_classifier(corpus, settings, scale="stream", model="svm-char")
    with pytest.raises(UsageError):
        train_classifier(corpus, settings, scale="stream", cv=3)
    with pytest.raises(UsageError):
        train_classifier(corpus, settings, memory_budget="lots")


def test_streamed_split_refuses_what_the_in_memory_split_refuses(tmp_path):
    path = tmp_path / "one.jsonl"
    record = {"id": "a", "department": "内科", "doctor": "d", "turns": [{"speaker": "patient", "text": "头疼"}]}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="single record"):
        streamed_task(path, ClassificationSettings("route", min_count=1))


def test_max_test_is_the_seeded_sample_of_the_test_split(corpus):
    settings = ClassificationSettings("route")
    data = build_classification_task(load_dialogues(corpus)[0], settings)
    task_data = streamed_task(corpus, settings)
    full = load_test_split(task_data)
    assert full.texts == data.test_texts and full.labels == data.test_labels and not full.sampled
    sample = load_test_split(task_data, max_test=7)
    expected = sample_by_order_key(list(zip(data.test, data.test_texts)), 7, lambda pair: pair[0].id, seed=0)
    assert sample.texts == [text for _, text in expected] and len(sample.texts) == 7
    assert "7 of the" in sample.description and sample.total == len(data.test)


class _Terminal:
    """A stand-in for stderr that says it is a terminal and keeps what is written."""

    def __init__(self, tty):
        self.tty, self.parts = tty, []

    def isatty(self):
        return self.tty

    def write(self, text):
        self.parts.append(text)
        return len(text)

    def flush(self):
        pass

    @property
    def text(self):
        return "".join(self.parts)


@pytest.mark.parametrize("tty", [True, False])
def test_progress_with_counts_only_on_a_terminal(corpus, monkeypatch, tty):
    import sys

    from rmd_baselines import progress

    terminal = _Terminal(tty)
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "_QUIET", False)
    train_classifier(corpus, ClassificationSettings("route"), scale="stream")
    if tty:
        assert "featurizing train records" in terminal.text and "pass 1" in terminal.text
        assert "/96" in terminal.text  # the count done of the 96 train records
    else:
        assert terminal.text == ""


@pytest.mark.parametrize("task", ["route", "recommend"])
def test_the_train_split_read_back_is_the_in_memory_split_in_its_order(corpus, task):
    settings = ClassificationSettings(task, min_count=2)
    read_back = read_training_set(streamed_task(corpus, settings))
    in_memory = TrainingSet.from_data(build_classification_task(load_dialogues(corpus)[0], settings))
    assert read_back == in_memory  # texts, labels and departments, in the same order


@pytest.mark.parametrize("task", ["route", "recommend"])
def test_scale_memory_saves_the_model_that_reading_the_whole_corpus_gives(corpus, task, tmp_path):
    settings = ClassificationSettings(task, min_count=2)
    train_classifier(corpus, settings, scale="memory", out=tmp_path / "lean")
    train_model(corpus, settings, out=tmp_path / "whole")  # reads every dialogue into memory
    lean = sorted(p.name for p in (tmp_path / "lean").iterdir())
    assert lean == sorted(p.name for p in (tmp_path / "whole").iterdir())
    for name in lean:
        assert (tmp_path / "lean" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
