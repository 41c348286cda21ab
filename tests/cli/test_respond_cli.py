"""`train respond`, `respond` (text, file, stdin; --json, --top-k) and `evaluate model` on a responder, and the
one-line exit-2 errors: empty context, a model of another task, a damaged ARPA file, both CONTEXT and --input."""

import json

import pytest

from rmd_baselines.persist import MANIFEST, file_sha256, model_writer

from ..respond.dialogue_fixtures import write_tiny_corpus
from .invoke import run


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    corpus = write_tiny_corpus(root / "tiny.jsonl")
    code, out = run("train", "respond", "--data", str(corpus), "--model", "rerank", "--order", "3",
                       "--out", str(root / "model"), "--json", "--quiet")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["model"] == "rerank" and summary["train_instances"] > 0 and summary["order"] == 3
    return root / "model"


def test_train_respond_text_summary(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "tiny.jsonl")
    code, out = run("train", "respond", "--data", str(corpus), "--model", "retrieval", "--out", str(tmp_path / "m"))
    assert code == 0 and "trained retrieval responder" in out and (tmp_path / "m" / MANIFEST).is_file()


def test_respond_to_a_typed_dialogue(model):
    code, out = run("respond", "病人：孩子发烧两天了，怎么办？\\n医生：你好，发烧多久了？\\n病人：两天了", "--model", str(model))
    assert code == 0 and out.strip() and "\n" not in out.strip()


def test_respond_uses_the_department_of_a_same_department_responder(tmp_path):
    from rmd_baselines.respond.model import load_responder, respond_all, save_responder, train_responder
    from rmd_baselines.tasks import GenerationSettings

    corpus = write_tiny_corpus(tmp_path / "tiny.jsonl")
    responder = train_responder(corpus, model="retrieval", order=3, same_department=True)
    save_responder(responder, tmp_path / "m", GenerationSettings(), corpus)
    context = "病人：医生你好，我咳嗽两天了，怎么办？"
    replies = {}
    for department in ("儿科", "呼吸科"):
        code, out = run("respond", context, "--model", str(tmp_path / "m"), "--department", department, "--json",
                        "--top-k", "3")
        assert code == 0, out
        replies[department] = json.loads(out)["candidates"]
        expected = respond_all(load_responder(tmp_path / "m").responder, [context.split("：", 1)[1]],
                               [department], k=3)[0]
        assert [text for text, _ in replies[department]] == [text for text, _ in expected.candidates]
    assert replies["儿科"] != replies["呼吸科"]  # each department answers from its own consultations
    batch = tmp_path / "in.jsonl"
    batch.write_text("".join(json.dumps({"context": context, "department": d}, ensure_ascii=False) + "\n"
                             for d in ("儿科", "呼吸科")), "utf-8")
    code, out = run("respond", "--input", str(batch), "--model", str(tmp_path / "m"), "--json", "--top-k", "3")
    assert code == 0 and [json.loads(line)["candidates"] for line in out.splitlines()] == \
        [replies["儿科"], replies["呼吸科"]]


def test_respond_json_with_candidates(model):
    code, out = run("respond", "病人：咳痰一周了", "--model", str(model), "--json", "--top-k", "3")
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"response", "candidates"} and document["response"] == document["candidates"][0][0]
    assert 1 <= len(document["candidates"]) <= 3 and all(len(c) == 2 for c in document["candidates"])


def test_respond_batch_from_a_file_and_from_stdin(model, tmp_path):
    plain = tmp_path / "contexts.txt"
    plain.write_text("孩子发烧两天了\\n多久了？\n咳痰一周了\n", encoding="utf-8")
    code, out = run("respond", "--input", str(plain), "--model", str(model))
    assert code == 0 and len(out.strip().split("\n")) == 2
    jsonl = tmp_path / "contexts.jsonl"
    jsonl.write_text('{"context": "孩子发烧两天了"}\n{"context": "咳痰", "department": "呼吸科"}\n', encoding="utf-8")
    code, out = run("respond", "--input", str(jsonl), "--model", str(model), "--json")
    documents = [json.loads(line) for line in out.strip().split("\n")]
    assert code == 0 and len(documents) == 2 and all("response" in d for d in documents)
    code, stdin_out = run("respond", "--model", str(model), "--json", input=jsonl.read_text(encoding="utf-8"))
    assert code == 0 and stdin_out == out


def test_evaluate_model_on_a_responder(model):
    code, out = run("evaluate", "model", str(model), "--json")
    assert code == 0
    report = json.loads(out)
    assert {"paper", "dstc7", "perplexity", "model", "settings", "instances", "notes"} <= set(report)
    code, out = run("evaluate", "model", str(model))
    assert code == 0 and "Perplexity" in out and "BLEU-4" in out


def _one_line_error(output):
    lines = [line for line in output.strip().split("\n") if line]
    return len(lines) == 1 and lines[0].startswith("rmd-baseline: error:")


@pytest.mark.parametrize("context", ["", "病人：", "  \\n  "])
def test_an_empty_context_exits_2_with_one_line(model, context):
    code, out = run("respond", context, "--model", str(model))
    assert code == 2 and _one_line_error(out) and "empty context" in out


def test_a_model_of_another_task_exits_2(tmp_path):
    with model_writer(tmp_path / "router", "route") as writer:
        writer.write_json("model.json", {})
    code, out = run("respond", "发烧", "--model", str(tmp_path / "router"))
    assert code == 2 and _one_line_error(out) and "'route' model" in out


def test_a_damaged_arpa_file_exits_2(model, tmp_path):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(model, damaged)
    arpa = next(damaged.glob("*.arpa"))
    arpa.write_text("\\data\\\nngram 1=3\n\nnot an arpa file\n", encoding="utf-8")
    code, out = run("respond", "发烧", "--model", str(damaged))
    assert code == 2 and _one_line_error(out) and "checksum mismatch" in out
    # Even with the manifest rewritten to match, the ARPA header no longer matches the model's tables.
    manifest = json.loads((damaged / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"][arpa.name] = file_sha256(arpa)
    (damaged / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    code, out = run("respond", "发烧", "--model", str(damaged))
    assert code == 2 and _one_line_error(out) and arpa.name in out


def test_context_and_input_together_exit_2(model, tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("发烧\n", encoding="utf-8")
    code, out = run("respond", "发烧", "--input", str(path), "--model", str(model))
    assert code == 2 and _one_line_error(out)


@pytest.mark.parametrize("command", [["respond", "--help"], ["train", "respond", "--help"]])
def test_help_has_an_example(command):
    code, out = run(*command)
    assert code == 0 and "Example" in out


def test_train_respond_offers_every_model_and_defaults_to_the_library_default():
    from rmd_baselines.cli.train import train_respond
    from rmd_baselines.respond.model import DEFAULT_MODEL, MODELS

    option = next(p for p in train_respond.params if p.name == "model")
    assert tuple(option.type.choices) == MODELS and option.default == DEFAULT_MODEL


@pytest.mark.parametrize("k", ["101", "1000000000"])
def test_a_huge_top_k_is_refused_at_once(model, k):
    """Issue 13 D18: --top-k 1000000000 never returned with an n-gram responder."""
    code, out = run("respond", "头疼", "--model", str(model), "--top-k", k)
    assert code == 2 and "--top-k" in out and len(out.strip().splitlines()) == 1


def test_the_library_caps_k_too(model):
    from rmd_baselines.errors import UsageError
    from rmd_baselines.respond.model import MAX_TOP_K, load_responder, respond_all

    responder = load_responder(model).responder
    assert len(respond_all(responder, ["头疼"], k=MAX_TOP_K)) == 1
    with pytest.raises(UsageError, match="at most 100"):
        respond_all(responder, ["头疼"], k=MAX_TOP_K + 1)


def test_respond_input_gz_is_decompressed(model, tmp_path):
    """Issue 13 D10: a .gz --input was read as compressed bytes."""
    import gzip

    plain = tmp_path / "contexts.txt"
    plain.write_text("病人：孩子发烧两天了\n病人：头疼，怎么办？\n", "utf-8")
    packed = tmp_path / "contexts.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    code, out = run("respond", "--input", str(packed), "--model", str(model))
    assert code == 0, out
    assert out == run("respond", "--input", str(plain), "--model", str(model))[1]
    assert len(out.splitlines()) == 2
    (tmp_path / "broken.txt.gz").write_bytes(b"not gzip at all")
    code, out = run("respond", "--input", str(tmp_path / "broken.txt.gz"), "--model", str(model))
    assert code == 2 and "broken.txt.gz" in out and len(out.strip().splitlines()) == 1


@pytest.mark.parametrize("text, line", [("头疼\n\n发烧\n", 2), ("\n头疼\n", 1), ('{"context": "头疼"}\n \n{"context": "x"}\n', 2)])
def test_a_blank_input_line_is_an_error_naming_it(model, tmp_path, text, line):
    """Issue 13 D12: blank lines were dropped, so output line N no longer answered input line N."""
    path = tmp_path / "contexts.txt"
    path.write_text(text, "utf-8")
    code, out = run("respond", "--input", str(path), "--model", str(model))
    assert code == 2 and f"contexts.txt:{line}: empty context" in out and len(out.strip().splitlines()) == 1


def test_blank_lines_at_the_end_are_ignored(model, tmp_path):
    path = tmp_path / "contexts.txt"
    path.write_text("头疼\n发烧\n\n\n", "utf-8")
    code, out = run("respond", "--input", str(path), "--model", str(model))
    assert code == 0 and len(out.splitlines()) == 2


@pytest.mark.parametrize("context", ["\u200b", "病人：\u200b\u2060", "\x01\x7f"])
def test_a_context_of_only_control_or_zero_width_characters_is_refused(model, context):
    code, out = run("respond", context, "--model", str(model))
    assert code == 2 and "empty context" in out and len(out.strip().splitlines()) == 1


def test_department_is_refused_where_it_would_be_ignored(model, tmp_path):
    """Issue 13: options a command silently ignores are refused (--department on a responder that does not use
    departments, or with --input)."""
    code, out = run("respond", "头疼", "--model", str(model), "--department", "内科")
    assert code == 2 and "--department is not used by this rerank responder" in out
    path = tmp_path / "contexts.txt"
    path.write_text("头疼\n", "utf-8")
    code, out = run("respond", "--input", str(path), "--model", str(model), "--department", "内科")
    assert code == 2 and "--department is for a CONTEXT argument" in out


def test_train_respond_ngram_with_prune_states_it(tmp_path):
    corpus = write_tiny_corpus(tmp_path / "tiny.jsonl")
    code, out = run("train", "respond", "--data", str(corpus), "--model", "ngram", "--order", "4", "--prune", "0 0 1",
                    "--out", str(tmp_path / "m"), "--json", "--quiet")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["prune"] == [0, 0, 1, 1] and len(summary["ngram_counts"]) == 4
    arpa = (tmp_path / "m" / "ngram_lm.arpa").read_text(encoding="utf-8")
    assert arpa.startswith("# rmd_baselines") and "prune 0 0 1 1" in arpa
    assert json.loads((tmp_path / "m" / "ngram_lm.json").read_text(encoding="utf-8"))["prune"] == [0, 0, 1, 1]
    code, out = run("respond", "病人：孩子发烧两天了", "--model", str(tmp_path / "m"))
    assert code == 0 and out.strip()


@pytest.mark.parametrize("args, message", [
    (["--model", "ngram", "--prune", "0 x"], "--prune expects count thresholds"),
    (["--model", "ngram", "--prune", "1"], "unigrams cannot be pruned"),
    (["--model", "ngram", "--prune", "0 2 1"], "must not decrease"),
    (["--model", "ngram", "--order", "3", "--prune", "0 1 1 1"], "4 thresholds for an order-3 model"),
    (["--model", "rerank", "--prune", "0 1"], "--prune applies to the n-gram responder"),
])
def test_bad_prune_is_exit_2_in_one_line(tmp_path, args, message):
    corpus = write_tiny_corpus(tmp_path / "tiny.jsonl")
    code, out = run("train", "respond", "--data", str(corpus), *args, "--out", str(tmp_path / "m"))
    assert code == 2 and message in out and len(out.strip().splitlines()) == 1, out
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("model", ["ngram", "retrieval"])
def test_train_respond_json_records_every_stage(tmp_path, model):
    """Issue 11 §6: --json gives the seconds, CPU seconds and peak memory of every stage."""
    corpus = write_tiny_corpus(tmp_path / "tiny.jsonl")
    code, out = run("train", "respond", "--data", str(corpus), "--model", model, "--order", "3",
                    "--out", str(tmp_path / "m"), "--json", "--quiet")
    assert code == 0, out
    summary = json.loads(out)
    assert [stage["stage"] for stage in summary["stages"]] == ["split", "train", "save"]
    for stage in summary["stages"]:
        assert stage["seconds"] >= 0 and stage["cpu_seconds"] >= 0 and 0 < stage["peak_rss_mib"] <= summary["peak_rss_mib"]
