"""Shared responder pieces: parse_context, batch input files, Reply, and the responder bundle on disk
(train_responder / save_responder / load_responder for every model, foreign and damaged directories)."""

import json

import pytest

from rmd_baselines.errors import DataError, ModelFormatError, UsageError
from rmd_baselines.persist import file_sha256, model_writer
from rmd_baselines.respond.model import (
    MODELS, Reply, load_responder, parse_context, perplexity_model, read_contexts, save_responder, train_responder)
from rmd_baselines.respond.retrieval import RetrievalResponder
from rmd_baselines.tasks import GenerationSettings

from .dialogue_fixtures import instance, write_tiny_corpus


@pytest.mark.parametrize("text,expected", [
    ("病人：孩子发烧\n医生：多少度？\n病人：三十九度", "孩子发烧\n多少度？\n三十九度"),
    ("病人：孩子发烧\\n医生：多少度？\\n病人：三十九度", "孩子发烧\n多少度？\n三十九度"),  # literal backslash-n
    ("患者: 咳嗽\nDoctor:多久了\npatient： 三天", "咳嗽\n多久了\n三天"),
    ("病人：发烧\n病人：还咳嗽\n医生：多久了", "发烧 还咳嗽\n多久了"),  # same speaker merged, as the protocol does
    ("发烧\n\n  \n咳嗽", "发烧\n咳嗽"),  # untagged turns kept, blank turns dropped
    ("病人：" + "长" * 310, "长" * 300),  # the protocol's last 300 characters
])
def test_parse_context(text, expected):
    assert parse_context(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "病人：", "病人：\n医生：  ", "\\n\\n"])
def test_an_empty_context_is_a_data_error(text):
    with pytest.raises(DataError, match="empty context"):
        parse_context(text)


def test_read_contexts_plain_lines(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("病人：发烧\\n医生：多少度\n咳嗽三天\n\n", encoding="utf-8")
    assert read_contexts(path) == (["发烧\n多少度", "咳嗽三天"], [None, None])
    path.write_text("病人：发烧\\n医生：多少度\n\n咳嗽三天\n", encoding="utf-8")  # answer N is for line N
    with pytest.raises(DataError, match=r"in.txt:2: empty context"):
        read_contexts(path)


def test_read_contexts_jsonl(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [{"context": "病人：发烧\n医生：多少度", "department": "儿科"}, {"context": "咳嗽"}]
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    assert read_contexts(path) == (["发烧\n多少度", "咳嗽"], ["儿科", None])


def test_read_contexts_ends_lines_only_at_newline(tmp_path):
    # U+2028 and U+0085 are line breaks to str.splitlines() but text inside a context or a JSON string here.
    plain = tmp_path / "in.txt"
    plain.write_text("孩子发烧\u2028两天了\r\n头疼\u0085三天\n", encoding="utf-8")
    assert read_contexts(plain) == (["孩子发烧\u2028两天了", "头疼\u0085三天"], [None, None])
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(json.dumps({"context": "孩子发烧\u2028两天了"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_contexts(jsonl) == (["孩子发烧\u2028两天了"], [None])


@pytest.mark.parametrize("content,message", [
    ('{"context": "发烧"}\n{"text": "咳嗽"}\n', r"in.txt:2: context: missing"),
    ('{"context": "发烧"}\n{"context": "病人："}\n', r"in.txt:2: context: empty context"),
    ('{"context": "发烧"}\nnot json\n', r"in.txt:2: invalid JSON"),
    ('{"context": "发烧", "department": 3}\n', r"in.txt:1: department"),
    ("\n  \n", r"in.txt: no contexts"),
])
def test_read_contexts_bad_input_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "in.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_contexts(path)


def test_read_contexts_invalid_utf8(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("发烧\n".encode("utf-8") + b"\xff\xfe\n")
    with pytest.raises(DataError, match=r"in.txt:2: not valid UTF-8"):
        read_contexts(path)


def test_reply_json():
    assert Reply("好", [("好", -1.5), ("嗯", -2)]).to_json() == {"response": "好", "candidates": [["好", -1.5], ["嗯", -2.0]]}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus") / "tiny.jsonl")


@pytest.mark.parametrize("model", MODELS)
def test_every_model_round_trips_with_its_bundle(corpus, tmp_path, model):
    settings = GenerationSettings(seed=3)
    responder = train_responder(corpus, model=model, order=3, seed=3, settings=settings)
    save_responder(responder, tmp_path / model, settings, corpus, 10, 2)
    loaded = load_responder(tmp_path / model)
    assert loaded.model == model and loaded.settings == settings
    assert loaded.data_sha256 == file_sha256(corpus) and loaded.data_path == str(corpus.resolve())
    assert loaded.instances == {"train": 10, "valid": 2}
    contexts = ["孩子发烧两天了，怎么办？", "咳痰一周了\n多久了？\n一周了"]
    assert [r.candidates for r in loaded.responder.respond_many(contexts, 2)] == \
        [r.candidates for r in responder.respond_many(contexts, 2)]
    lm = loaded.perplexity_model
    assert lm.unit == "char" and lm.order == 3
    assert [x.tolist() for x in lm.response_nll(contexts, ["多喝水", "好"])] == \
        [x.tolist() for x in perplexity_model(responder).response_nll(contexts, ["多喝水", "好"])]


def test_a_retrieval_responder_without_its_language_model_cannot_be_saved(tmp_path):
    responder = RetrievalResponder().fit([instance("发烧", "多少度")])
    with pytest.raises(UsageError, match="char-level language model"):
        save_responder(responder, tmp_path / "m", GenerationSettings(), None)
    assert not (tmp_path / "m").exists()


def test_a_model_of_another_task_is_refused(tmp_path):
    with model_writer(tmp_path / "router", "route") as writer:
        writer.write_json("model.json", {})
    with pytest.raises(ModelFormatError, match="'route' model, expected 'respond'"):
        load_responder(tmp_path / "router")


def test_a_damaged_bundle_is_refused(corpus, tmp_path):
    responder = train_responder(corpus, model="retrieval", order=3)
    save_responder(responder, tmp_path / "m", GenerationSettings(), corpus)
    arpa = tmp_path / "m" / "retrieval_ngram_lm.arpa"
    arpa.write_text(arpa.read_text(encoding="utf-8").replace("ngram 1=", "ngram 1=9"), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="checksum mismatch"):
        load_responder(tmp_path / "m")


def test_an_unknown_model_name_is_a_usage_error(corpus):
    with pytest.raises(UsageError, match="unknown responder"):
        train_responder(corpus, model="gpt")


def test_no_engine_imports_the_bundle_module():
    """model.py builds the engines by name; the engines take what they share from respond/base.py, so the two
    never import each other (the import circle model <-> engines is gone)."""
    import ast
    from pathlib import Path

    import rmd_baselines.respond as package

    folder = Path(package.__file__).parent
    for name in ("retrieval.py", "ngram.py", "rerank.py", "bm25.py", "base.py"):
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "model" not in imported, f"{name} imports respond.model"
    from rmd_baselines.respond.base import Reply
    from rmd_baselines.respond.model import Reply as ReExported

    assert Reply is ReExported


def test_streamed_ngram_training_equals_the_in_memory_model(tmp_path, monkeypatch):
    """`train respond --model ngram` reads the corpus streamed and counts in chunks (forced small here); the saved
    language model is the one the in-memory path trains on the same corpus, byte for byte."""
    from rmd_baselines.respond import ngram
    from rmd_baselines.respond.lm import counting
    from rmd_baselines.respond.model import save_responder, train_responder, train_to_directory
    from rmd_baselines.tasks import GenerationSettings
    from tests.respond.dialogue_fixtures import write_tiny_corpus

    corpus = write_tiny_corpus(tmp_path / "tiny.jsonl")
    in_memory = train_responder(corpus, model="ngram", order=4)
    save_responder(in_memory, tmp_path / "memory", GenerationSettings(), corpus, in_memory.n_train_)
    monkeypatch.setattr(ngram, "IN_MEMORY_INSTANCES", 0)
    monkeypatch.setattr(counting, "DEFAULT_CHUNK_TOKENS", 37)
    calls = []
    real = counting.count_chunked
    monkeypatch.setattr(counting, "count_chunked", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    summary = train_to_directory(corpus, tmp_path / "streamed", model="ngram", order=4)
    assert calls == [37] and summary["train_instances"] == in_memory.n_train_
    for name in ("ngram_lm.arpa", "ngram_lm.npz"):
        assert (tmp_path / "streamed" / name).read_bytes() == (tmp_path / "memory" / name).read_bytes()
    assert summary["valid_perplexity"] == pytest.approx(in_memory.valid_perplexity_, rel=1e-12)


def test_parse_context_merges_like_before_and_in_linear_time():
    """Same-speaker lines are collected and joined once (as the protocol's merge, D2), with the same result as
    extending the turn line by line."""
    import random

    from rmd_baselines.respond.model import _DOCTOR_TAGS, _SPEAKER_TAG, parse_context
    from rmd_baselines.tasks.generation import cut_context

    def reference(text, max_chars=300):
        turns = []
        for line in text.replace("\\n", "\n").split("\n"):
            match = _SPEAKER_TAG.match(line)
            speaker = None
            if match:
                speaker = "doctor" if match.group(1).lower() in _DOCTOR_TAGS else "patient"
                line = line[match.end():]
            line = line.strip()
            if not line:
                continue
            if turns and speaker is not None and turns[-1][0] == speaker:
                turns[-1] = (speaker, turns[-1][1] + " " + line)
            else:
                turns.append((speaker, line))
        return cut_context("\n".join(turn for _, turn in turns), max_chars)

    rng = random.Random(2)
    for _ in range(300):
        lines = [rng.choice(["病人：", "医生：", "doctor: ", "", "  "]) + rng.choice(["发烧", "", "咳嗽 两天", "好"])
                 for _ in range(rng.randrange(1, 12))]
        text = rng.choice(["\n", "\\n"]).join(lines)
        expected = reference(text, 25)
        if expected:
            assert parse_context(text, 25) == expected
        else:
            with pytest.raises(DataError, match="empty context"):
                parse_context(text, 25)
    long = "\n".join(["病人：头痛"] * 20000)
    assert parse_context(long, 0) == " ".join(["头痛"] * 20000)


@pytest.fixture(scope="module")
def sample_corpus(tmp_path_factory):
    """The first 1,200 dialogues of the bundled sample (gzipped, as large corpora are)."""
    import gzip

    from tests.conftest import SAMPLE

    path = tmp_path_factory.mktemp("sample") / "sample.jsonl.gz"
    with gzip.open(SAMPLE, "rb") as source, gzip.open(path, "wb") as out:
        for number, line in enumerate(source):
            if number == 1200:
                break
            out.write(line)
    return path


def test_protocol_order_instances_are_the_in_memory_split(sample_corpus):
    """`iter_protocol_instances` reads a part back in the order of `build_generation_task`, one dialogue at a
    time, and removes its spool file."""
    import glob
    import tempfile

    from rmd_baselines.respond.model import iter_protocol_instances, load_generation_data
    from rmd_baselines.tasks.generation import stream_generation_split

    settings = GenerationSettings(seed=1)
    data = load_generation_data(sample_corpus, settings)
    stream = stream_generation_split(sample_corpus, settings)
    spools = set(glob.glob(f"{tempfile.gettempdir()}/rmd-spool-*"))
    for part in ("train", "valid", "test"):
        assert list(iter_protocol_instances(stream, part)) == getattr(data, part)
    assert list(iter_protocol_instances(stream, "train")) != list(stream.iter_instances("train"))  # not file order
    assert set(glob.glob(f"{tempfile.gettempdir()}/rmd-spool-*")) == spools


@pytest.mark.parametrize("model", ["retrieval", "rerank"])
def test_streamed_retrieval_training_equals_the_in_memory_model(sample_corpus, tmp_path, monkeypatch, model):
    """`train respond --model retrieval|rerank` never loads the corpus (issue 11 §3): the split comes from one
    scan, the index from the train part read back in protocol order, the language model from a file-order pass,
    and only the valid part is held. The saved model is the in-memory one, file for file, and answers alike."""
    import rmd_baselines.corpus as corpus_package
    import rmd_baselines.respond.model as model_module
    from rmd_baselines.respond.model import save_responder, train_to_directory

    settings = GenerationSettings()
    data = model_module.load_generation_data(sample_corpus, settings)
    in_memory = train_responder(sample_corpus, model=model, order=3, settings=settings, data=data)
    save_responder(in_memory, tmp_path / "memory", settings, sample_corpus, len(data.train), len(data.valid))

    def refuse(*args, **kwargs):
        raise AssertionError("the whole corpus was loaded")

    monkeypatch.setattr(corpus_package, "load_dialogues", refuse)
    monkeypatch.setattr(model_module, "load_generation_data", refuse)
    summary = train_to_directory(sample_corpus, tmp_path / "streamed", model=model, order=3)
    assert summary["split"] == data.describe() and summary["train_instances"] == len(data.train)
    memory_files = sorted(p.name for p in (tmp_path / "memory").iterdir())
    assert memory_files == sorted(p.name for p in (tmp_path / "streamed").iterdir())
    for name in memory_files:
        assert (tmp_path / "streamed" / name).read_bytes() == (tmp_path / "memory" / name).read_bytes(), name
    streamed = load_responder(tmp_path / "streamed").responder
    contexts = [instance.context for instance in data.test[:40]]
    departments = [instance.department for instance in data.test[:40]]
    assert [r.candidates for r in streamed.respond_many(contexts, 3)] == \
        [r.candidates for r in in_memory.respond_many(contexts, 3)]
    if model == "retrieval":
        assert [r.candidates for r in streamed.respond_many(contexts, 3, departments)] == \
            [r.candidates for r in in_memory.respond_many(contexts, 3, departments)]
    else:
        assert summary["weights_tuned_on_valid"] and streamed.weights_ == in_memory.weights_


def test_an_empty_index_array_with_a_matching_checksum_is_refused(corpus, tmp_path):
    """Deep fuzz run: an emptied ``retrieval_bm25_fwd_ptr.npy`` (manifest rehashed) gave numpy's EOFError,
    which click reports as "aborted" with exit 1."""
    responder = train_responder(corpus, model="retrieval", order=3)
    save_responder(responder, tmp_path / "m", GenerationSettings(), corpus)
    (tmp_path / "m" / "retrieval_bm25_fwd_ptr.npy").write_bytes(b"")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text("utf-8"))
    manifest["files"]["retrieval_bm25_fwd_ptr.npy"] = file_sha256(tmp_path / "m" / "retrieval_bm25_fwd_ptr.npy")
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(ModelFormatError, match="retrieval_bm25_fwd_ptr.npy: unreadable array file"):
        load_responder(tmp_path / "m")
