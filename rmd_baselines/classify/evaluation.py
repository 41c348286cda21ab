"""Evaluating a saved router or recommender (``rmd-baseline evaluate model DIR``) and predicting for the
``route`` / ``recommend`` commands (texts typed, plain-text lines, or canonical JSONL records).

`evaluate_model_dir` rebuilds the protocol's test split from the `ClassificationSettings` saved in the model
directory, predicts it and scores it with `rmd_baselines.metrics.classification`; the table prints our row
beside the paper's four transformer columns (their figures on RealMedDial, Table 5 or 6).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from typing import BinaryIO, Iterable

import numpy as np

from ..corpus.model import visible_text
from ..corpus.reader import decode_line, iter_lines, iter_stream_lines, parse_record
from ..errors import DataChangedWarning, DataError, ModelFormatError, changed_data_message
from ..persist import file_sha256
from ..tasks.classification import ClassificationSettings
from ..tasks.views import get_view
from .classifier import TextClassifier, load_model


def saved_settings(model: TextClassifier, directory: str) -> ClassificationSettings:
    """The split settings a loaded model was trained with."""
    try:
        return ClassificationSettings.from_json(model.metadata_["settings"])
    except (KeyError, TypeError, ValueError):
        raise ModelFormatError(f"{directory}: the model does not record its task settings") from None


def _recorded_training_split(recorded: dict, data_path: str, settings: ClassificationSettings) -> set[str] | None:
    """The training texts of the file the model was trained on, when that file is still there unchanged."""
    path = recorded.get("path")
    if not path or os.path.abspath(path) == os.path.abspath(data_path) or not os.path.isfile(path):
        return None
    if file_sha256(path) != recorded.get("sha256"):
        return None
    from .scale import read_training_set, streamed_task

    return set(read_training_set(streamed_task(path, settings)).texts)


def evaluate_model_dir(model_dir: str | os.PathLike, data_path: str | os.PathLike | None = None,
                       max_test: int | None = None) -> tuple[dict, str]:
    """Score a saved model on the protocol's test split; returns (report, Table 5/6 text).

    ``data_path`` defaults to the file the model was trained on; when its SHA-256 differs from the recorded one
    the report carries a note (the split is rebuilt from the file as it is now). The split is decided from a scan
    of the file and only the test records are held (`scale.load_test_split`); ``max_test`` scores a seeded sample
    of that many test records (stated in the report and the table).
    """
    from ..metrics.classification import (
        classification_scores,
        format_classification_table,
    )
    from ..progress import peak_rss_mib, recording, stage
    from .scale import load_test_split, parse_max_test, streamed_task

    max_test = parse_max_test(max_test)
    directory = os.fspath(model_dir)
    model = load_model(directory)
    settings = saved_settings(model, directory)
    recorded = model.metadata_.get("data") or {}
    notes = []
    if data_path is None:
        data_path = recorded.get("path")
        if not data_path:
            raise DataError(f"{directory}: the model does not record its training data; pass --data FILE")
    data_path = os.fspath(data_path)
    with recording() as stages:
        task_data = streamed_task(data_path, settings)
        with stage("reading the test split", name="read test"):
            test = load_test_split(task_data, max_test)
        with stage("predicting", name="predict"):
            proba = _predict_in_batches(model, test.texts)
        sha = file_sha256(data_path)
    if recorded.get("sha256") and sha != recorded["sha256"]:
        trained_on = _recorded_training_split(recorded, data_path, settings)
        overlap = None if trained_on is None else sum(text in trained_on for text in test.texts)
        note = changed_data_message(data_path, recorded["sha256"], overlap, len(test.texts), "texts")
        notes.append(note)
        if overlap != 0:  # the scores may count what the model was trained on
            warnings.warn(note, DataChangedWarning, stacklevel=2)
    unknown = sorted(set(test.labels) - set(model.classes_))
    if unknown:
        notes.append(f"{len(unknown)} test label(s) the model never saw (e.g. {unknown[0]!r}); they count as errors")
    predicted = model.classes_[proba.argmax(axis=1)].tolist()
    scores = classification_scores(test.labels, predicted, scores=proba, labels=list(model.classes_))
    name = model.metadata_.get("model", type(model).__name__)
    report = {key: value for key, value in scores.items()}
    report.update({
        "n": len(test.labels),
        "test_records": test.total,
        "max_test": max_test,
        "sample": (f"seeded sample of {len(test.labels)} of {test.total} test records: the smallest "
                   f"sha256('{settings.seed}:sample:' + id)" if test.sampled else None),
        "zero_division": 0.0,
        "model": {"name": name, "estimator": type(model).__name__, "directory": directory,
                  "params": model.metadata_.get("params")},
        "settings": settings.to_json(),
        "data": {"path": os.path.abspath(data_path), "sha256": sha},
        "split": test.description,
        "notes": notes,
        "stages": stages,
        "peak_rss_mib": peak_rss_mib(),
    })
    table = format_classification_table({f"ours: {name}": scores}, settings.task)
    header = f"{test.description}\nmodel {directory} ({name}), test split of {data_path}\n"
    table = header + "\n" + table
    if notes:
        table += "\n" + "\n".join(f"note: {note}" for note in notes)
    return report, table


def _predict_in_batches(model, texts: list[str], batch: int = 20_000) -> np.ndarray:
    """Probabilities of every text, featurized ``batch`` texts at a time (bounded memory for big test splits)."""
    if not texts:
        return np.zeros((0, len(model.classes_)))
    return np.vstack([model.predict_proba(texts[i:i + batch]) for i in range(0, len(texts), batch)])


# ------------------------------------------------------------------------------------------------ inputs

@dataclass
class InputText:
    """One text to classify and where it came from (``id`` for JSONL records)."""

    text: str
    where: str
    id: str | None = None


def check_text(text: str, where: str) -> None:
    if not text.strip():
        raise DataError(f"{where}: text: empty text (nothing to classify)")
    if not visible_text(text):
        raise DataError(f"{where}: text: only control or zero-width characters (nothing to classify)")


def read_inputs(path: str, view: str) -> list[InputText]:
    """Texts of a file: canonical JSONL records (rendered through ``view``) or one plain text per line.

    The kind is decided by the first non-blank line: a JSON object means every line must be a record. Blank
    lines are skipped in JSONL; in plain text a blank line is an error (outputs are one per input line).
    """
    lines = [(number, decode_line(path, number, raw)) for number, raw in iter_lines(path)]
    return parse_input_lines(lines, path, view)


def read_stream(stream: BinaryIO, view: str, name: str = "<stdin>") -> list[InputText]:
    """Like `read_inputs` for an open binary stream (``sys.stdin.buffer``): same BOM and UTF-8 handling."""
    lines = [(number, decode_line(name, number, raw)) for number, raw in iter_stream_lines(stream)]
    return parse_input_lines(lines, name, view)


def parse_input_lines(lines: list[tuple[int, str]], name: str, view: str) -> list[InputText]:
    render = get_view(view)
    lines = [(number, line.rstrip("\r\n")) for number, line in lines]
    while lines and not lines[-1][1].strip():
        lines.pop()
    if not lines:
        raise DataError(f"{name}: no texts to classify")
    first = next(line for _, line in lines if line.strip())
    if not _is_json_object(first):
        out = []
        for number, line in lines:
            check_text(line, f"{name}:{number}")
            out.append(InputText(line, f"{name}:{number}"))
        return out
    out = []
    for number, line in lines:
        if not line.strip():
            continue
        where = f"{name}:{number}"
        dialogue = parse_record(where, line)
        text = render(dialogue)
        check_text(text, where)
        out.append(InputText(text, where, dialogue.id))
    return out


def _is_json_object(line: str) -> bool:
    if not line.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return True  # looks like a record: report it as bad JSON rather than classify it as text


def predict_inputs(model: TextClassifier, inputs: Iterable[InputText], k: int) -> list[dict]:
    """``{"label", "top_k": [[label, score], ...]}`` per input (plus ``id`` for records)."""
    inputs = list(inputs)
    ranked = model.predict_topk([item.text for item in inputs], k)
    out = []
    for item, top in zip(inputs, ranked):
        result = {"label": top[0][0], "top_k": [[label, round(score, 6)] for label, score in top]}
        if item.id is not None:
            result = {"id": item.id, **result}
        out.append(result)
    return out


def model_view(model: TextClassifier, directory: str) -> str:
    """The input view a model was trained on (how JSONL records are rendered for it)."""
    return saved_settings(model, directory).resolved_view
