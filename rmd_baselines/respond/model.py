"""What every responder shares: the `Reply` it returns, the `Responder` protocol, reading a context typed by a
person (`parse_context`), and the responder bundle on disk (`train_responder`, `save_responder`, `load_responder`).

A saved responder is a model directory of kind ``respond`` (see `rmd_baselines.persist`) holding::

    responder.json     which responder ("retrieval", "ngram" or "rerank"), the GenerationSettings it was trained
                       with, the training file's path and SHA-256, and the training/validation instance counts
    <model files>      the responder's own files (BM25 index, n-gram language model, rerank weights, ...)

Every bundle also contains a char-level Kneser-Ney language model trained on the same training instances (the
n-gram responder's model; a retrieval responder trains one for this purpose only), so that `evaluate model` can
report the perplexity of the reference responses for every kind of responder (`perplexity_model`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Sequence

from ..corpus.model import visible_text
from ..errors import DataError, ModelFormatError, UsageError
from ..persist import check_model_destination
from ..tasks.generation import MAX_CONTEXT_CHARS, GenerationData, GenerationSettings, cut_context
from .base import MAX_TOP_K, Reply, Responder, check_contexts, check_k  # noqa: F401 (re-exported: the engines' shared API)

MODELS = ("retrieval", "ngram", "rerank")
# The benchmark's best responder on the real corpora (benchmarks/results/respond.md).
DEFAULT_MODEL = "rerank"
BUNDLE_FILE = "responder.json"
BUNDLE_FORMAT = "rmd_baselines-responder"
BUNDLE_FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------------------- contexts

# A speaker tag at the start of a typed turn: 病人：, 医生：, 患者：, patient:, doctor: (full-width or ASCII colon).
_SPEAKER_TAG = re.compile(r"^\s*(病人|患者|医生|patient|doctor)\s*[:：]\s*", re.IGNORECASE)
_DOCTOR_TAGS = {"医生", "doctor"}


def parse_context(text: str, max_chars: int = MAX_CONTEXT_CHARS) -> str:
    """A context as the protocol's instances hold it, from dialogue text typed by a person.

    Turns are separated by newlines; the two characters backslash-n count as a newline too (so a shell argument
    or a one-line file can hold a whole dialogue). A leading speaker tag (病人：, 患者：, 医生：, ``patient:``,
    ``doctor:``) is removed; consecutive turns tagged with the same speaker are merged with a space, as the
    protocol merges them; empty turns are dropped. The result is cut to its last ``max_chars`` characters.
    """
    if not isinstance(text, str):
        raise DataError(f"context: expected text, got {type(text).__name__}")
    turns: list[tuple[str | None, list[str]]] = []
    for line in text.replace("\\n", "\n").split("\n"):
        match = _SPEAKER_TAG.match(line)
        speaker = None
        if match:
            speaker = "doctor" if match.group(1).lower() in _DOCTOR_TAGS else "patient"
            line = line[match.end():]
        line = line.strip()
        if not visible_text(line):  # blank, or only control / zero-width characters
            continue
        if turns and speaker is not None and turns[-1][0] == speaker:
            turns[-1][1].append(line)  # joined once at the end: merging a long run stays linear
        else:
            turns.append((speaker, [line]))
    if not turns:
        raise DataError("context: empty context (no visible text after removing speaker tags and blank turns)")
    return cut_context("\n".join(" ".join(lines) for _, lines in turns), max_chars)


def read_contexts(path: str | os.PathLike) -> tuple[list[str], list[str | None]]:
    """Contexts (and departments) for a batch, from a file or ``-`` for standard input.

    The format is decided by the first non-blank line: if it starts with ``{`` the file is JSONL and every line
    is an object with a ``context`` string (and optionally a ``department``); otherwise every line is one context
    whose turns are separated by the two characters backslash-n (see `parse_context`). Answer N is for line N:
    a blank line before the last context is an error naming its line (blank lines at the end are ignored).
    A ``.gz`` file is decompressed.
    """
    import json
    import sys
    import zlib

    from ..corpus.reader import open_binary

    source = "<stdin>" if os.fspath(path) == "-" else os.fspath(path)
    try:
        if source == "<stdin>":
            raw = sys.stdin.buffer.read()
        else:
            with open_binary(source) as handle:
                raw = handle.read()
    except (EOFError, zlib.error) as exc:
        raise DataError(f"{source}: cannot read compressed file ({exc})") from None
    except OSError as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{source}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"{source}:{line}: not valid UTF-8") from None
    # Only \n ends a line: str.splitlines() would also split at U+2028/U+0085 inside a context or a JSON string.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise DataError(f"{source}: no contexts (the input is empty)")
    contexts: list[str] = []
    departments: list[str | None] = []
    jsonl = first.lstrip().startswith("{")
    last = max(number for number, line in enumerate(lines, 1) if line.strip())
    for number, line in enumerate(lines[:last], 1):
        if not line.strip():
            raise DataError(f"{source}:{number}: empty context (a blank line; every line is one context, and "
                            "answer N is for line N)")
        department = None
        if jsonl:
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{source}:{number}: invalid JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("context"), str):
                raise DataError(f"{source}:{number}: context: missing or not a string")
            department = record.get("department")
            if department is not None and not isinstance(department, str):
                raise DataError(f"{source}:{number}: department: not a string")
            line = record["context"]
        try:
            contexts.append(parse_context(line))
        except DataError as exc:
            raise DataError(f"{source}:{number}: {exc}") from None
        departments.append(department)
    return contexts, departments


def respond_all(responder: Responder, contexts: Sequence[str], departments: Sequence[str | None] | None = None,
                k: int = 1) -> list[Reply]:
    """``responder.respond_many`` for any responder, passing the contexts' departments to those that use them.
    ``k`` (candidates per answer) is at most `MAX_TOP_K`."""
    check_k(k)
    if departments is not None and getattr(responder, "name", None) in ("retrieval", "rerank"):
        return responder.respond_many(contexts, k, departments)
    return responder.respond_many(contexts, k)


# ----------------------------------------------------------------------------------------------- bundles


def make_responder(model: str, order: int = 5, seed: int = 0, **params) -> Responder:
    """An unfitted responder by name, with the char-level language model of ``order`` that every bundle carries."""
    if model not in MODELS:
        raise UsageError(f"unknown responder {model!r} (choose from {', '.join(MODELS)})")
    if model == "ngram":
        from .ngram import NgramResponder

        return NgramResponder(order=order, seed=seed, **params)
    if model == "retrieval":
        from .retrieval import RetrievalResponder

        return RetrievalResponder(lm_order=order, **params)
    from .rerank import RerankResponder

    return RerankResponder(lm_order=order, **params)


def perplexity_model(responder):
    """The `NgramResponder` whose char-level language model scores reference responses for this responder."""
    from .ngram import NgramResponder

    if isinstance(responder, NgramResponder):
        model = responder
    else:
        model = getattr(responder, "ngram_", None)
    if model is None or getattr(model, "unit", None) != "char" or not hasattr(model, "lm_"):
        raise UsageError(f"the {getattr(responder, 'name', type(responder).__name__)} responder carries no "
                         "char-level language model (train it with train_responder, or with lm_order set)")
    return model


def load_generation_data(data_path: str | os.PathLike, settings: GenerationSettings) -> GenerationData:
    """Read a corpus and build the protocol's generation split for ``settings``."""
    from ..corpus import load_dialogues
    from ..tasks import build_generation_task

    dialogues, _ = load_dialogues(data_path)
    return build_generation_task(dialogues, settings, source=os.fspath(data_path))


def train_responder(data_path: str | os.PathLike, model: str = DEFAULT_MODEL, order: int = 5, seed: int = 0,
                    settings: GenerationSettings | None = None, data: GenerationData | None = None,
                    **params) -> Responder:
    """Train a responder on the protocol's train split of a corpus (the valid split is passed to ``fit``: the
    rerank responder tunes its weights on it, the others only report on it).

    ``seed`` is the split's seed (unless ``settings`` are given; 0 is the protocol's) and the n-gram responder's
    sampling seed. ``data`` skips reading the corpus again when the caller already built the split.
    """
    settings = settings or GenerationSettings(seed=seed)
    responder = make_responder(model, order=order, seed=seed, **params)
    if data is None:
        data = load_generation_data(data_path, settings)
    return responder.fit(data.train, valid=data.valid)


def save_responder(responder: Responder, directory: str | os.PathLike, settings: GenerationSettings,
                   data_path: str | os.PathLike | None, n_train: int | None = None,
                   n_valid: int | None = None) -> None:
    """Write a fitted responder as a ``respond`` model directory (atomically: all or nothing)."""
    from ..persist import file_sha256, model_writer

    if responder.name not in MODELS:
        raise UsageError(f"cannot save a responder named {responder.name!r}")
    perplexity_model(responder)  # a bundle without the char-level LM would be incomplete
    source = None
    if data_path is not None:
        source = {"path": os.path.abspath(os.fspath(data_path)), "sha256": file_sha256(os.fspath(data_path))}
    with model_writer(directory, "respond") as writer:
        writer.write_json(BUNDLE_FILE, {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "model": responder.name,
            "settings": settings.to_json(),
            "data": source,
            "instances": {"train": n_train, "valid": n_valid},
        })
        responder.save(writer)


class SizedStream:
    """An iterable read once that knows its length in advance (for progress bars); not a list, so consumers that
    special-case lists (`NgramResponder.fit`) still stream it."""

    def __init__(self, iterable, length: int):
        self._iterable, self._length = iterable, length

    def __iter__(self):
        return iter(self._iterable)

    def __len__(self) -> int:
        return self._length


def train_ngram_streamed(data_path: str | os.PathLike, order: int = 5, seed: int = 0, prune=None,
                         settings: GenerationSettings | None = None, **params):
    """Train an n-gram responder on the protocol's train split of a corpus file in bounded memory: the split is
    decided from one scan (`tasks.generation.stream_generation_split`), the train part is read once and counted in
    chunks, the valid part read once for its perplexity. The model equals `train_responder`'s for the same
    corpus. Returns ``(responder, stream)`` (the `StreamedGenerationSplit`, for its counts)."""
    from .. import progress
    from ..tasks.generation import stream_generation_split
    from .ngram import NgramResponder

    settings = settings or GenerationSettings(seed=seed)
    responder = NgramResponder(order=order, seed=seed, prune=prune, **params)
    responder._check_params()
    with progress.stage("splitting the corpus", name="split"):
        stream = stream_generation_split(data_path, settings).check(os.fspath(data_path))
    with progress.stage("training the n-gram model", name="train"):
        # sized, so that the progress bar (on a terminal) shows counts and a time estimate
        responder.fit(SizedStream(stream.iter_instances("train"), stream.count_instances("train")),
                      valid=stream.iter_instances("valid"))
    return responder, stream


def iter_protocol_instances(stream, part: str):
    """The instances of a part of a `StreamedGenerationSplit` in protocol order (the order of
    ``build_generation_task(...).<part>``), holding one dialogue at a time: the part's raw lines are first copied
    to a temporary file (one sequential read of the corpus, which may be gzipped), then read back dialogue by
    dialogue in protocol order. Memory: two integers per dialogue of the part; disk: the part's uncompressed
    lines, removed when the iteration ends (or the generator is closed)."""
    import tempfile

    import numpy as np

    from ..corpus.reader import decode_line, iter_lines, parse_record
    from ..tasks.generation import dialogue_instances

    ordered = stream.split.protocol_order(part)
    if not len(ordered):
        return
    rank_of_line = np.full(int(ordered.max()) + 1, -1, dtype=np.int64)
    rank_of_line[ordered] = np.arange(len(ordered))
    offsets = np.zeros(len(ordered), dtype=np.int64)
    sizes = np.zeros(len(ordered), dtype=np.int64)
    path, limit = stream.path, len(rank_of_line)
    with tempfile.TemporaryDirectory(prefix="rmd-spool-") as work:
        spool = os.path.join(work, f"{part}.jsonl")
        with open(spool, "wb") as out:
            position = 0
            for number, raw in iter_lines(path):
                if number >= limit:
                    break
                rank = rank_of_line[number]
                if rank >= 0:
                    offsets[rank], sizes[rank] = position, len(raw)
                    out.write(raw)
                    position += len(raw)
        del rank_of_line
        with open(spool, "rb") as handle:
            for rank in range(len(ordered)):
                handle.seek(int(offsets[rank]))
                number = int(ordered[rank])
                raw = handle.read(int(sizes[rank]))
                yield from dialogue_instances(parse_record(f"{path}:{number}", decode_line(path, number, raw)),
                                              stream.settings)


def train_retrieval_streamed(data_path: str | os.PathLike, model: str = "retrieval", order: int = 5, seed: int = 0,
                             settings: GenerationSettings | None = None, **params):
    """Train a retrieval or rerank responder on the protocol's train split of a corpus file without holding the
    corpus: the split is decided from one scan (`tasks.generation.stream_generation_split`); the index is built
    from the train part read in protocol order (`iter_protocol_instances`, so document ``i`` is the ``i``-th
    train instance of ``build_generation_task`` -- the same model, ties broken the same way, and `explain`
    finds the training context of a document as before); the char language model is counted from a second,
    file-order pass (as `train_ngram_streamed`); only the valid part is held as a list (the rerank responder
    tunes its weights on it). Held in memory: the distinct responses (kept by the model), a few numbers per
    training context, one batch of instances. Returns ``(responder, stream)``."""
    from .. import progress
    from ..tasks.generation import stream_generation_split

    if model not in ("retrieval", "rerank"):
        raise UsageError(f"train_retrieval_streamed trains retrieval or rerank, not {model!r}")
    settings = settings or GenerationSettings(seed=seed)
    responder = make_responder(model, order=order, seed=seed, **params)
    responder._check_params()
    with progress.stage("splitting the corpus", name="split"):
        stream = stream_generation_split(data_path, settings).check(os.fspath(data_path))
    with progress.stage(f"training the {model} responder", name="train"):
        train = SizedStream(iter_protocol_instances(stream, "train"), stream.count_instances("train"))
        lm_train = SizedStream(stream.iter_instances("train"), stream.count_instances("train"))
        responder.fit(train, valid=stream.instances("valid"), lm_instances=lm_train)
    return responder, stream


def train_to_directory(data_path: str | os.PathLike, out_dir: str | os.PathLike, model: str = DEFAULT_MODEL,
                       order: int = 5, seed: int = 0, prune=None) -> dict:
    """Train a responder on a corpus and save it (what ``train respond`` does); returns a summary (with the seconds,
    CPU seconds and peak memory of every stage).

    Every responder is trained streamed, never holding the corpus: the n-gram responder by
    `train_ngram_streamed` (memory bounded by the model), with optional count pruning (``prune``: `KneserNeyLM`'s
    thresholds); the retrieval and rerank responders by `train_retrieval_streamed` (the same model as
    `train_responder`'s)."""
    import time

    from .. import progress

    check_model_destination(out_dir)
    settings = GenerationSettings(seed=seed)
    if prune is not None and model != "ngram":
        raise UsageError(f"--prune applies to the n-gram responder (--model ngram), not to --model {model}")
    if model == "ngram":
        from .lm.kneser_ney import prune_thresholds

        prune_thresholds(prune, order)  # refuse bad thresholds before reading the corpus
    with progress.recording() as stages:
        started = time.perf_counter()
        if model == "ngram":
            responder, stream = train_ngram_streamed(data_path, order=order, seed=seed, prune=prune,
                                                     settings=settings)
        else:
            responder, stream = train_retrieval_streamed(data_path, model=model, order=order, seed=seed,
                                                         settings=settings)
        seconds = time.perf_counter() - started
        counts = {part: stream.count_instances(part) for part in ("train", "valid", "test")}
        split = stream.describe()
        with progress.stage("saving", name="save"):
            save_responder(responder, out_dir, settings, data_path, counts["train"], counts["valid"])
    summary = {"model": responder.name, "out": os.fspath(out_dir), "data": os.fspath(data_path),
               "split": split, "train_instances": counts["train"], "valid_instances": counts["valid"],
               "test_instances": counts["test"], "train_seconds": round(seconds, 3), "order": order, "seed": seed,
               "stages": stages, "peak_rss_mib": progress.peak_rss_mib()}
    if model == "ngram":
        summary["prune"] = responder.lm_.prune_thresholds() and list(responder.lm_.prune_thresholds())
        summary["ngram_counts"] = [len(table) for table in responder.lm_.tables_]
    weights = getattr(responder, "weights_", None)
    if weights is not None:
        summary["rerank_weights"] = weights
        summary["weights_tuned_on_valid"] = getattr(responder, "tuning_", None) is not None
    valid_perplexity = getattr(perplexity_model(responder), "valid_perplexity_", None)
    if valid_perplexity is not None:
        summary["valid_perplexity"] = valid_perplexity
    return summary


@dataclass
class LoadedResponder:
    """A responder read back from its directory, with what `save_responder` recorded about its training."""

    responder: Responder
    model: str
    settings: GenerationSettings
    data_path: str | None
    data_sha256: str | None
    directory: str
    instances: dict

    @property
    def perplexity_model(self):
        return perplexity_model(self.responder)


def load_responder(directory: str | os.PathLike) -> LoadedResponder:
    """Read a ``respond`` model directory; anything foreign, tampered or malformed is a one-line error."""
    from ..persist import ModelReader

    reader = ModelReader(directory, kinds="respond")
    meta = reader.read_component(BUNDLE_FILE, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, "responder")
    where = reader.path(BUNDLE_FILE)
    model = reader.require(meta, "model", BUNDLE_FILE)
    if model not in MODELS:
        raise ModelFormatError(f"{where}: unknown responder {model!r}")
    try:
        settings = GenerationSettings.from_json(reader.require(meta, "settings", BUNDLE_FILE))
    except (KeyError, TypeError, ValueError):
        raise ModelFormatError(f"{where}: 'settings' are not generation settings") from None
    source = meta.get("data") or {}
    if not isinstance(source, dict):
        raise ModelFormatError(f"{where}: 'data' must be an object")
    if model == "ngram":
        from .ngram import NgramResponder as cls
    elif model == "retrieval":
        from .retrieval import RetrievalResponder as cls
    else:
        from .rerank import RerankResponder as cls
    try:
        responder = cls.load(reader)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError) as exc:
        # Files whose checksums match but whose content is not what the responder wrote (e.g. an array of
        # another shape): still a refused model, not a crash.
        raise ModelFormatError(f"{reader.directory}: malformed {model} responder files "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None
    instances = meta.get("instances") if isinstance(meta.get("instances"), dict) else {}
    return LoadedResponder(responder=responder, model=model, settings=settings, data_path=source.get("path"),
                           data_sha256=source.get("sha256"), directory=reader.directory, instances=instances)
