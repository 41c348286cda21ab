"""`train route|recommend` (with --cv), `route`/`recommend` (text, file, stdin; --json, --top-k), `evaluate model`
on a classifier, and the one-line exit-2 errors: unknown model directory, empty text, a label with one record under
--min-count 1, a model trained for the other task, both TEXT and --input, a bad --model name."""

import json

import pytest

from rmd_baselines.classify.presets import DEFAULT_MODELS

from ..classify.toy_corpus import write_toy_corpus
from .invoke import run


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify-cli")
    corpus = write_toy_corpus(root / "toy.jsonl", per_doctor=10)
    code, out = run("train", "route", "--data", corpus, "--out", str(root / "router"), "--json", "--quiet")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["model"] == DEFAULT_MODELS["route"] and summary["settings"]["view"] == "patient"
    code, out = run("train", "recommend", "--data", corpus, "--out", str(root / "recommender"), "--quiet")
    assert code == 0 and "recommender on 48 records" in out, out
    return {"root": root, "corpus": corpus, "router": str(root / "router"), "recommender": str(root / "recommender")}


def test_train_with_cross_validation_prints_mean_and_std(models, tmp_path):
    code, out = run("train", "route", "--data", models["corpus"], "--model", "svm-char", "--cv", "3",
                    "--out", str(tmp_path / "m"))
    assert code == 0, out
    assert "trained svm-char router" in out
    assert "3-fold cross-validation on train: accuracy" in out and " ± " in out


def test_route_a_text(models):
    code, out = run("route", "胸闷心慌，晚上加重", "--model", models["router"])
    assert code == 0 and out.strip() == "心血管内科"


def test_route_json_top_k(models):
    code, out = run("route", "胃痛反酸", "--model", models["router"], "--json", "--top-k", "2")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["label", "top_k"] and document["label"] == "消化内科"
    assert [len(pair) for pair in document["top_k"]] == [2, 2] and document["top_k"][0][0] == "消化内科"
    assert document["top_k"][0][1] >= document["top_k"][1][1]


def test_route_top_k_text_lines(models):
    code, out = run("route", "皮疹瘙痒", "--model", models["router"], "--top-k", "3")
    lines = out.strip().split("\n")
    assert code == 0 and len(lines) == 3 and lines[0].startswith("1\t") and lines[0].endswith("皮肤科")


def test_batch_from_plain_file_jsonl_and_stdin(models, tmp_path):
    plain = tmp_path / "texts.txt"
    plain.write_text("胸闷心慌\n腹泻便秘\n", encoding="utf-8")
    code, out = run("route", "--input", str(plain), "--model", models["router"])
    assert code == 0 and out.split() == ["心血管内科", "消化内科"]
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(json.dumps({"id": f"r{i}", "turns": [{"speaker": "patient", "text": text}]},
                                            ensure_ascii=False) for i, text in enumerate(["湿疹过敏", "早搏"])) + "\n",
                       encoding="utf-8")
    code, out = run("route", "--input", str(records), "--model", models["router"], "--json")
    documents = [json.loads(line) for line in out.strip().split("\n")]
    assert code == 0 and [(d["id"], d["label"]) for d in documents] == [("r0", "皮肤科"), ("r1", "心血管内科")]
    code, out = run("recommend", "--model", models["recommender"], "--top-k", "2", input="胃镜 反酸\n")
    fields = out.strip().split("\t")
    assert code == 0 and len(fields) == 4 and fields[0].startswith("doc-gut")


def test_evaluate_model_table_and_json(models):
    code, out = run("evaluate", "model", models["recommender"])
    assert code == 0 and "Table 6" in out and "m-F1" in out and "CPT*" in out
    code, out = run("evaluate", "model", models["router"], "--json")
    report = json.loads(out)
    assert code == 0 and report["settings"]["task"] == "route" and 0 <= report["macro_f1"] <= 1
    assert {"top3_accuracy", "mrr", "model", "notes"} <= set(report)


@pytest.mark.parametrize("args, message", [
    (["route", "胸闷", "--model", "{root}/nowhere"], "no such model directory"),
    (["route", "  ", "--model", "{router}"], "TEXT: text: empty text"),
    (["route", "胸闷", "--model", "{recommender}"], "this is a 'recommend' model, expected 'route'"),
    (["recommend", "胸闷", "--model", "{router}"], "this is a 'route' model, expected 'recommend'"),
    (["route", "胸闷", "--input", "{corpus}", "--model", "{router}"], "either TEXT or --input"),
    (["route", "--input", "{root}/missing.txt", "--model", "{router}"], "missing.txt: no such file"),
    (["train", "route", "--data", "{corpus}", "--model", "hier-logreg", "--out", "{root}/x"], "Invalid value"),
    (["train", "route", "--data", "{root}/missing.jsonl", "--out", "{root}/x"], "no such file"),
    (["evaluate", "model", "{root}/nowhere"], "no such model directory"),
])
def test_bad_input_is_one_line_and_exit_2(models, args, message):
    code, out = run(*[arg.format(**models) for arg in args])
    assert code == 2, out
    assert message in out and len(out.strip().split("\n")) == 1 and "Traceback" not in out


def test_single_record_label_under_min_count_1(tmp_path):
    extra = [{"id": "one", "department": "眼科", "turns": [{"speaker": "patient", "text": "眼睛疼"}]}]
    corpus = write_toy_corpus(tmp_path / "toy.jsonl", per_doctor=3, extra=extra)
    code, out = run("train", "route", "--data", corpus, "--min-count", "1", "--out", str(tmp_path / "m"))
    assert code == 2 and "single record" in out and "--min-count 2" in out
    assert len(out.strip().split("\n")) == 1 and not (tmp_path / "m").exists()


def test_help_has_examples():
    for command in (["train", "route"], ["train", "recommend"], ["route"], ["recommend"]):
        code, out = run(*command, "--help")
        assert code == 0 and "Example" in out


# ---- issue 13: text of only control/zero-width characters, D15 ConvergenceWarning, changed data in evaluate model ----

@pytest.mark.parametrize("text", ["\u200b\u200b", "\x01\x02", "\u200d\u2060\ufeff", " \u200b\t"])
def test_text_of_only_control_or_zero_width_characters_is_refused(models, text):
    from .invoke import run_streams

    code, out, err = run_streams("route", text, "--model", models["router"])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "TEXT: text: " in err and ("only control or zero-width" in err or "empty text" in err)


def test_a_convergence_warning_is_one_line_of_ours(tmp_path, monkeypatch):
    """Issue 13 D15: scikit-learn's ConvergenceWarning text leaked onto stderr during training."""
    from sklearn.svm import LinearSVC

    from rmd_baselines.classify import heads
    from rmd_baselines.cli.main import _DEBUG

    from .invoke import run_streams

    monkeypatch.setitem(_DEBUG, "on", False)  # restored after the test: --debug below switches it on

    monkeypatch.setattr(heads, "_svm", lambda C, class_weight, seed: LinearSVC(C=C, class_weight=class_weight,
                                                                              random_state=seed, max_iter=1))
    corpus = write_toy_corpus(tmp_path / "toy.jsonl", per_doctor=10)
    code, out, err = run_streams("train", "route", "--data", corpus, "--model", "svm", "--out", tmp_path / "m")
    assert code == 0, err
    assert err == ("rmd-baseline: warning: a solver stopped at its iteration limit before converging (scikit-learn "
                   "ConvergenceWarning); the model is saved and usable (--debug shows the detail)\n")
    code, out, err = run_streams("train", "route", "--data", corpus, "--model", "svm", "--out", tmp_path / "m",
                                 "--debug")
    assert code == 0 and "ConvergenceWarning: " in err and "rmd-baseline: warning:" not in err


def test_evaluate_model_warns_when_the_test_split_holds_training_texts(models, tmp_path):
    """Issue 13: a data file whose SHA-256 differs, and whose test split holds what the model trained on."""
    from .invoke import run_streams

    records = [json.loads(line) for line in open(models["corpus"], encoding="utf-8")]
    others = [json.loads(line) for line in open(write_toy_corpus(tmp_path / "o.jsonl", per_doctor=10, seed=7),
                                                 encoding="utf-8")]
    mixed = tmp_path / "mixed.jsonl"
    with open(mixed, "w", encoding="utf-8") as out:
        for record in records[::2] + [{**r, "id": "other-" + r["id"]} for r in others]:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    code, out, err = run_streams("evaluate", "model", models["router"], "--data", mixed)
    assert code == 0, err
    assert err.count("\n") == 1 and err.startswith("rmd-baseline: warning: ") and "SHA-256 differs" in err
    assert "were in the model's training split: scores are inflated" in err
    code, _, err = run_streams("evaluate", "model", models["router"], "--data", models["corpus"])
    assert code == 0 and err == ""  # the file it was trained on: nothing to warn about
