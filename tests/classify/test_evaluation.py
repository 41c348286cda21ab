"""Tests of rmd_baselines/classify/evaluation.py: evaluating a model directory and reading texts to classify."""

import io
import json

import pytest

from rmd_baselines.classify.evaluation import (
    evaluate_model_dir,
    predict_inputs,
    read_inputs,
    read_stream,
)
from rmd_baselines.classify.training import load_classification_data, train_model
from rmd_baselines.errors import DataError
from rmd_baselines.metrics.classification import classification_scores
from rmd_baselines.tasks import PROTOCOL_TASKS, ClassificationSettings

from ..conftest import shared_corpus
from .toy_corpus import write_toy_corpus

REPORT_KEYS = {"accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_precision", "weighted_recall",
               "weighted_f1", "top3_accuracy", "mrr", "signature", "n", "model", "settings", "notes"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluation")
    corpus = write_toy_corpus(root / "toy.jsonl", per_doctor=10)
    estimator, _ = train_model(corpus, ClassificationSettings("route"), model="logreg", out=root / "router")
    return root, corpus, estimator


def test_report_scores_the_protocol_test_split(trained):
    root, corpus, estimator = trained
    report, table = evaluate_model_dir(root / "router")
    assert REPORT_KEYS <= set(report)
    data = load_classification_data(corpus, ClassificationSettings("route"))
    expected = classification_scores(data.test_labels, list(estimator.predict(data.test_texts)))
    assert report["macro_f1"] == expected["macro_f1"] and report["n"] == len(data.test_labels)
    assert report["model"]["name"] == "logreg" and report["settings"]["task"] == "route"
    assert report["notes"] == []
    assert "ours: logreg" in table and "CPT*" in table and "paper's figures on RealMedDial" in table
    assert "Table 5" in table


def test_changed_data_file_gives_a_note_and_goes_on(trained, tmp_path):
    root, _, _ = trained
    other = write_toy_corpus(tmp_path / "other.jsonl", per_doctor=10, seed=5)
    report, table = evaluate_model_dir(root / "router", data_path=other)
    assert any("SHA-256 differs" in note for note in report["notes"])
    assert "note: " in table


def test_missing_training_file_is_a_data_error(tmp_path):
    corpus = write_toy_corpus(tmp_path / "gone.jsonl", per_doctor=4)
    train_model(corpus, ClassificationSettings("route"), out=tmp_path / "router")
    (tmp_path / "gone.jsonl").unlink()
    with pytest.raises(DataError, match="no such file"):
        evaluate_model_dir(tmp_path / "router")


@pytest.mark.parametrize("content, view, expected", [
    ("胸闷\n胃痛\n", "patient", [("胸闷", None), ("胃痛", None)]),
    ("胸闷\r\n胃痛\n\n", "patient", [("胸闷", None), ("胃痛", None)]),
    ('{"id": "a", "title": "标题", "turns": [{"speaker": "patient", "text": "胸闷"}, '
     '{"speaker": "doctor", "text": "多久了"}]}\n\n', "patient", [("标题\n胸闷", "a")]),
    ('{"id": "a", "title": "标题", "turns": [{"speaker": "patient", "text": "胸闷"}, '
     '{"speaker": "doctor", "text": "多久了"}]}\n', "dialogue", [("标题\n胸闷\n多久了", "a")]),
])
def test_read_inputs(tmp_path, content, view, expected):
    path = tmp_path / "in.txt"
    path.write_text(content, encoding="utf-8")
    assert [(item.text, item.id) for item in read_inputs(str(path), view)] == expected
    assert [(item.text, item.id) for item in read_stream(io.BytesIO(content.encode("utf-8")), view)] == expected
    # Standard input gets the same BOM handling as a file.
    with_bom = b"\xef\xbb\xbf" + content.encode("utf-8")
    assert [(item.text, item.id) for item in read_stream(io.BytesIO(with_bom), view)] == expected


def test_invalid_utf8_on_standard_input_is_named():
    with pytest.raises(DataError, match="<stdin>:2: line: invalid UTF-8"):
        read_stream(io.BytesIO("胸闷\n".encode("utf-8") + b"\xff\xfe a\n"), "patient")


@pytest.mark.parametrize("content, message", [
    ("胸闷\n \n胃痛\n", "in.txt:2: text: empty text"),
    ("", "no texts to classify"),
    ('{"id": "a", "turns": []}\n', "in.txt:1: turns: a dialogue needs at least one turn"),
    ('{"id": "a", "turns": [{"speaker": "patient", "text": "胸闷"}]}\n胃痛\n', "in.txt:2: json: invalid JSON"),
    ('{"id": "a", "turns": [{"speaker": "doctor", "text": "你好"}]}\n', "in.txt:1: text: empty text"),
    ('{"id": "a", "turns": \n', "in.txt:1: json: invalid JSON"),
])
def test_bad_inputs_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "in.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_inputs(str(path), "patient")


def test_predict_inputs_shape(trained, tmp_path):
    root, _, estimator = trained
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "q1", "turns": [{"speaker": "patient", "text": "胃痛反酸"}]},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    [result] = predict_inputs(estimator, read_inputs(str(path), "patient"), k=2)
    assert list(result) == ["id", "label", "top_k"]
    assert result["id"] == "q1" and result["label"] == "消化内科" and len(result["top_k"]) == 2


def test_default_recommender_on_the_real_omc100k_task(tmp_path):
    """The protocol's recommend/omc100k task end to end: 57 doctors, chance accuracy 1/57."""
    spec = PROTOCOL_TASKS["recommend/omc100k"]
    path = shared_corpus(spec["corpus"])
    settings = ClassificationSettings(spec["task"], spec["min_count"], spec["view"])
    train_model(path, settings, out=tmp_path / "recommender")
    report, table = evaluate_model_dir(tmp_path / "recommender")
    assert report["n"] == 304 and report["settings"] == settings.to_json()
    assert report["accuracy"] > 0.25 and report["macro_f1"] > 0.2 and report["top3_accuracy"] > 0.45
    assert "Table 6" in table
