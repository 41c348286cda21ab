"""evaluate_model_dir for responders: the report's keys and values, perplexity under the bundled LM, the verbatim
note, a changed corpus file, a missing one."""

import json
import math
import shutil

import pytest

from rmd_baselines.corpus import load_dialogues
from rmd_baselines.errors import DataChangedWarning, DataError, UsageError
from rmd_baselines.metrics.generation import evaluate_generation
from rmd_baselines.respond.evaluation import evaluate_model_dir, verbatim_contexts
from rmd_baselines.respond.model import load_responder, save_responder, train_responder
from rmd_baselines.tasks import GenerationSettings, build_generation_task

from .dialogue_fixtures import instance, write_tiny_corpus


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluation")
    corpus = write_tiny_corpus(root / "tiny.jsonl", n_per_department=30)
    responder = train_responder(corpus, model="retrieval", order=3)
    save_responder(responder, root / "model", GenerationSettings(), corpus)
    return root, corpus


def test_report_scores_the_test_split_like_evaluate_generation(trained):
    root, corpus = trained
    report, table = evaluate_model_dir(root / "model")
    dialogues, _ = load_dialogues(corpus)
    test = build_generation_task(dialogues, GenerationSettings()).test
    loaded = load_responder(root / "model")
    hyps = [r.response for r in loaded.responder.respond_many([i.context for i in test])]
    expected = evaluate_generation(hyps, [[i.response] for i in test])
    for family in ("paper", "dstc7"):
        for key in ("bleu4", "nist4", "meteor", "dist2"):
            assert report[family][key] == pytest.approx(expected[family][key], abs=1e-12)
    nll = loaded.perplexity_model.response_nll([i.context for i in test], [i.response for i in test])
    perplexity = math.exp(sum(float(x.sum()) for x in nll) / sum(len(x) for x in nll))
    assert report["perplexity"] == pytest.approx(perplexity, rel=1e-9)
    assert report["paper"]["perplexity"] == pytest.approx(perplexity, rel=1e-9)
    assert report["model"] == "retrieval" and report["instances"] == len(test)
    assert report["settings"] == GenerationSettings().to_json()
    assert "order 3" in report["notes"][-1]
    json.dumps(report, ensure_ascii=False)  # one JSON document
    assert "Perplexity" in table and "CDial-GPT" in table and "retrieval" in table


def test_verbatim_test_contexts_are_counted(trained):
    report, _ = evaluate_model_dir(trained[0] / "model")
    assert any("occur verbatim in the training split" in note for note in report["notes"])
    train = [instance("发烧", "多少度"), instance("咳嗽", "多久了")]
    assert verbatim_contexts(train, [instance("发烧", "x"), instance("发烧了", "x"), instance("咳嗽", "y")]) == 2


def test_a_changed_corpus_is_noted_and_used(trained, tmp_path):
    root, corpus = trained
    changed = tmp_path / "changed.jsonl"
    shutil.copy(corpus, changed)
    with open(changed, "a", encoding="utf-8") as out:
        for i in range(40):  # a new department: some of it lands in the test split
            out.write(json.dumps({"id": f"extra{i}", "title": None, "department": "眼科", "doctor": None,
                                  "diseases": [], "symptoms": [],
                                  "turns": [{"speaker": "patient", "text": f"眼睛痒{i}天"},
                                            {"speaker": "doctor", "text": "用点眼药水"}]},
                                 ensure_ascii=False) + "\n")
    original, _ = evaluate_model_dir(root / "model")
    with pytest.warns(DataChangedWarning, match="test instances were in the model's training split"):
        report, _ = evaluate_model_dir(root / "model", data_path=changed)
    assert "SHA-256 differs" in report["notes"][0] and report["data"] == str(changed)
    dialogues, _ = load_dialogues(changed)
    expected = len(build_generation_task(dialogues, GenerationSettings()).test)
    assert report["instances"] == expected > original["instances"]


def test_a_missing_corpus_is_a_data_error(trained, tmp_path):
    with pytest.raises(DataError):
        evaluate_model_dir(trained[0] / "model", data_path=tmp_path / "nowhere.jsonl")


def test_a_model_without_a_recorded_corpus_needs_data(trained, tmp_path):
    responder = load_responder(trained[0] / "model").responder
    save_responder(responder, tmp_path / "m", GenerationSettings(), None)
    with pytest.raises(UsageError, match="--data"):
        evaluate_model_dir(tmp_path / "m")
