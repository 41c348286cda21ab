"""Session fixtures of the fuzz suite: one folder of inputs (tiny corpora, foreign-format files, parallel metric
files, broken files) and small saved models, built once per session through the command line itself."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from .support import run_cli

CORPUS_DIALOGUES = 150  # every model trains in seconds on it
SMALL_DIALOGUES = 60


def _cli(*argv):
    run = run_cli(["--quiet", *argv])
    assert run.code == 0 and run.exception is None, run.describe()  # the invariants are the tests' business
    return run


class Inputs(dict):
    """Named paths; a short repr, so that a failing example prints the argv rather than every path."""

    def __repr__(self):
        return f"<fuzz inputs in {self['folder'].parent}>"


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Named input files and models; tests only read them (every output path the fuzzer draws is in a folder of
    its own)."""
    base = tmp_path_factory.mktemp("fuzz-inputs")
    p = Inputs({name: base / name for name in (
        "corpus.jsonl", "small.jsonl", "corpus.jsonl.gz", "bad.jsonl", "empty.jsonl", "blank.jsonl", "garbage.gz",
        "binary.bin", "records.json", "toyhom.csv", "toyhom-big5.csv", "meddialog.txt", "hyp.txt", "hyp2.txt",
        "ref.txt", "ref2.txt", "hyp-short.txt", "logprobs.jsonl", "logprobs-huge.jsonl", "gold.txt", "pred.txt",
        "pred2.txt", "scores.jsonl", "contexts.txt", "contexts.txt.gz", "nested.json", "folder")})
    _cli("data", "synth", "--dialogues", CORPUS_DIALOGUES, "--seed", 1, "--out", p["corpus.jsonl"])
    _cli("data", "synth", "--dialogues", SMALL_DIALOGUES, "--seed", 2, "--out", p["small.jsonl"])
    p["corpus.jsonl.gz"].write_bytes(gzip.compress(p["corpus.jsonl"].read_bytes()))
    lines = p["small.jsonl"].read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    p["bad.jsonl"].write_text("\n".join(lines[:5] + ['{"id": "x", "turns": []}', "not json"] + lines[5:10]) + "\n",
                              encoding="utf-8")
    p["empty.jsonl"].write_bytes(b"")
    p["blank.jsonl"].write_bytes(b"\n  \n\t\n")
    p["garbage.gz"].write_bytes(b"\x1f\x8b\x08\x00garbage")
    p["binary.bin"].write_bytes(bytes(range(256)) * 4)
    p["records.json"].write_text(json.dumps(records[:10], ensure_ascii=False), encoding="utf-8")
    rows = ["department,title,ask,answer"] + [
        f"{r['department'] or ''},{r['title'] or ''},{r['turns'][0]['text']},{r['turns'][-1]['text']}"
        for r in records[:10]]
    p["toyhom.csv"].write_text("\n".join(rows) + "\n", encoding="gb18030")
    p["toyhom-big5.csv"].write_bytes("department,title,ask,answer\n內科,頭痛,醫生你好,多喝水\n".encode("big5"))
    p["meddialog.txt"].write_text("id=1\nhttps://x\nDoctor faculty\n内科\nDescription\n疾病：头痛\n"
                                  "病情描述：头痛三天\n\nDialogue\n病人：\n头痛怎么办\n医生：\n多休息\n", encoding="utf-8")
    hyps = [r["turns"][-1]["text"] for r in records[:20]]
    refs = [r["turns"][1]["text"] if len(r["turns"]) > 1 else r["turns"][0]["text"] for r in records[:20]]
    p["hyp.txt"].write_text("\n".join(hyps) + "\n", encoding="utf-8")
    p["hyp2.txt"].write_text("\n".join(["好的"] * 19 + [""]) + "\n", encoding="utf-8")
    p["hyp-short.txt"].write_text("\n".join(hyps[:3]) + "\n", encoding="utf-8")
    p["ref.txt"].write_text("\n".join(refs) + "\n", encoding="utf-8")
    p["ref2.txt"].write_text("\n".join(reversed(refs)) + "\n", encoding="utf-8")
    p["logprobs.jsonl"].write_text("\n".join(json.dumps([-0.5] * len(r)) for r in refs) + "\n", encoding="utf-8")
    p["logprobs-huge.jsonl"].write_text("\n".join(json.dumps([-800.0]) for _ in refs) + "\n", encoding="utf-8")
    gold = [r["department"] or "内科" for r in records[:20]]
    p["gold.txt"].write_text("\n".join(gold) + "\n", encoding="utf-8")
    p["pred.txt"].write_text("\n".join(gold[1:] + gold[:1]) + "\n", encoding="utf-8")
    p["pred2.txt"].write_text("\n".join(gold) + "\n", encoding="utf-8")
    p["scores.jsonl"].write_text("\n".join(json.dumps({g: 0.7, "内科": 0.1}, ensure_ascii=False) for g in gold)
                                 + "\n", encoding="utf-8")
    contexts = ["病人：孩子发烧两天了\\n医生：最高多少度？\\n病人：38度5", "", "头痛", "   "]
    p["contexts.txt"].write_text("\n".join(contexts) + "\n", encoding="utf-8")
    p["contexts.txt.gz"].write_bytes(gzip.compress(p["contexts.txt"].read_bytes()))
    p["nested.json"].write_text("[" * 100000 + "]" * 100000, encoding="utf-8")
    p["folder"].mkdir()
    models = {"route": ("train", "route", "--model", "logreg"), "recommend": ("train", "recommend", "--model", "cnb"),
              "ngram": ("train", "respond", "--model", "ngram", "--order", 3),
              "retrieval": ("train", "respond", "--model", "retrieval"),
              "rerank": ("train", "respond", "--model", "rerank", "--order", 3)}
    for name, argv in models.items():
        p[f"model-{name}"] = base / f"model-{name}"
        _cli(*argv, "--data", p["corpus.jsonl"], "--out", p[f"model-{name}"])
    # The streamed router with a hidden layer (chosen by size only from 500k records, so built here directly).
    from rmd_baselines.classify.streamed import StreamedRouter
    from rmd_baselines.corpus.reader import load_dialogues
    from rmd_baselines.tasks import ClassificationSettings, build_classification_task

    task = build_classification_task(load_dialogues(p["corpus.jsonl"])[0], ClassificationSettings("route"))
    p["model-route-hidden"] = base / "model-route-hidden"
    StreamedRouter(hidden=4, n_features=2 ** 10, max_epochs=2).fit(task.train_texts, task.train_labels).save(
        p["model-route-hidden"])
    p["results"] = base / "results"
    _cli("reproduce", "--data", p["small.jsonl"], "--out", p["results"], "--n-boot", 10, "--no-models")
    return p

