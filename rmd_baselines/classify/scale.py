"""Training and evaluating routers and recommenders on corpora of any size.

``train route|recommend --scale auto|memory|stream --memory-budget SIZE``:

- ``memory``: the in-memory presets (`training.train_model`), fitted on the train split's texts, which are read
  after the scan (`read_training_set`) without holding the dialogues; the feature matrix is in memory.
- ``stream``: `streamed.StreamedClassifier` trained by `train_streamed`, which never holds the corpus: a first pass
  keeps one small row per record (`tasks.streaming.scan_corpus`), the protocol's split is decided from those rows
  (`split_scan`, the same ids as the in-memory split), and a second pass featurizes the train part
  (`StreamedSplit.iter_part`) into a bucketed shuffle on disk that the learner reads pass after pass.
- ``auto`` (the default): after the scan, ``stream`` when the in-memory path's predicted peak,
  ``IN_MEMORY_BASE + records x IN_MEMORY_PER_RECORD[task]`` (measured on synthetic corpora at 20k and 100k records
  and rounded up: peaks of 298 / 794 MiB for the router, 289 / 869 MiB for the recommender, i.e. about 6.2 and
  7.3 KB a record over a fixed part under 200 MiB), exceeds the memory budget (default 1 GiB), else ``memory``.
  With the default budget the router streams from about 123,000 records, the recommender from about 108,000.
  An explicit ``--model`` preset means ``memory``.

`load_test_split` gives ``evaluate model`` the test split without holding the rest of the corpus, optionally a seeded
sample of it (``--max-test N``: the records whose ``sha256(f"{seed}:sample:{id}")`` keys are the N smallest, the
same sample `splits.sample_by_order_key` takes).
"""

from __future__ import annotations

import heapq
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError, UsageError
from ..progress import enabled as progress_enabled
from ..progress import progress, stage
from ..tasks.classification import ClassificationSettings, label_of
from ..tasks.splits import order_key
from ..tasks.streaming import NO_LABEL, StreamedSplit, scan_corpus, split_scan
from ..tasks.views import get_view

SCALES = ("auto", "memory", "stream")
DEFAULT_MEMORY_BUDGET = "1G"
MIB = 1024 * 1024
IN_MEMORY_BASE = 200 * MIB
IN_MEMORY_PER_RECORD = {"route": 7_000, "recommend": 8_000}
_UNITS = {"": 1, "B": 1, "K": 1024, "M": MIB, "G": 1024 * MIB, "T": 1024 ** 4}


def parse_memory_budget(text: str | int | None, option: str = "--memory-budget") -> int:
    """Bytes from ``4G``, ``512M``, ``1.5G``, ``800K`` or a plain byte count (binary units, case-insensitive,
    an optional trailing ``B``/``iB``); at least 64M."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(text or ""))
        if not match:
            raise UsageError(f"{option}: {text!r} is not a size (examples: 4G, 512M, 1.5G)")
        value = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if value < 64 * MIB:
        raise UsageError(f"{option}: {text!r} is below the minimum of 64M")
    return value


def predicted_in_memory_bytes(task: str, records: int) -> int:
    return IN_MEMORY_BASE + records * IN_MEMORY_PER_RECORD[task]


def choose_scale(scale: str, task: str, records: int, budget: int, model: str | None = None) -> str:
    """``memory`` or ``stream`` for ``--scale`` (see the module docstring for the ``auto`` rule)."""
    if scale not in SCALES:
        raise UsageError(f"--scale must be one of {', '.join(SCALES)}, got {scale!r}")
    if scale != "auto":
        return scale
    if model is not None:
        return "memory"
    return "stream" if predicted_in_memory_bytes(task, records) > budget else "memory"


# ----------------------------------------------------------------------------------------- streamed split

@dataclass
class StreamedTask:
    """The protocol's classification split of a corpus file, as a `StreamedSplit` plus what the in-memory
    `ClassificationData` reports about it."""

    settings: ClassificationSettings
    split: StreamedSplit
    labels: list[str]                     # the kept labels, sorted (the classes)
    dropped_unlabelled: int = 0
    dropped_rare: dict[str, int] = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        return self.split.count("train")

    @property
    def n_test(self) -> int:
        return self.split.count("test")

    def class_counts(self, part: str = "train") -> np.ndarray:
        """Records per kept label (in ``labels`` order) in one part."""
        scan = self.split.scan
        codes = scan.label_codes[self.split.parts == {"train": 0, "valid": 1, "test": 2}[part]]
        counts = np.bincount(codes, minlength=len(scan.labels))
        return counts[[scan.labels.index(label) for label in self.labels]]

    def describe(self, n_test: int | None = None) -> str:
        from ..tasks.classification import describe_split

        return describe_split(self.settings, len(self.labels), self.n_train, self.n_test if n_test is None else n_test,
                              self.dropped_rare, self.dropped_unlabelled)

    def iter_records(self, part: str):
        """``(dialogue, text, label)`` of the part's records in file order, read from the file again."""
        view = get_view(self.settings.resolved_view)
        field_name = self.settings.label_field
        for dialogue in self.split.iter_part(part):
            yield dialogue, view(dialogue), label_of(dialogue, field_name)


def streamed_task(data_path: str | os.PathLike, settings: ClassificationSettings) -> StreamedTask:
    """Scan ``data_path`` once and split it as `classification.build_classification_task` does (same checks, same
    messages, same ids), keeping one small row per record."""
    source = os.fspath(data_path)
    field_name = settings.label_field
    with stage(f"scanning {source}", name="scan"):
        scan = scan_corpus(source, lambda d: label_of(d, field_name), settings.seed)
    codes = scan.label_codes
    labelled = codes != NO_LABEL
    if not labelled.any():
        raise DataError(f"{source}: no record has a {field_name}; the {settings.task} task needs one")
    counts = np.bincount(codes[labelled], minlength=len(scan.labels))
    rare = {scan.labels[i]: int(n) for i, n in enumerate(counts) if 0 < n < settings.min_count}
    singletons = sorted(scan.labels[i] for i, n in enumerate(counts) if n == 1 and scan.labels[i] not in rare)
    if singletons:
        raise DataError(
            f"{source}: {field_name}: {len(singletons)} label(s) have a single record (e.g. {singletons[0]!r}); "
            f"a class needs at least 2 records to be learned and tested, use --min-count 2 or higher"
        )
    kept = sorted(scan.labels[i] for i, n in enumerate(counts) if n >= settings.min_count)
    if len(kept) < 2:
        raise DataError(
            f"{source}: {field_name}: {len(kept)} label(s) with at least {settings.min_count} records; "
            "classification needs at least 2"
        )
    with stage("splitting", name="split"):
        split = split_scan(scan, test_fraction=1 / 5, drop_unlabelled=True, min_count=settings.min_count)
    return StreamedTask(settings, split, kept, dropped_unlabelled=int(np.count_nonzero(~labelled)),
                        dropped_rare=rare)


# ------------------------------------------------------------------------------------------------ training

def train_streamed(task_data: StreamedTask, data_path: str | os.PathLike, budget: int,
                   out: str | os.PathLike | None = None, temp_dir: str | None = None, **params):
    """Fit a `StreamedRouter`/`StreamedRecommender` on the train part (the corpus is read once more, the rows are
    featurized into a shuffle on disk); save to ``out``. Returns (estimator, summary)."""
    from .streamed import STREAMED_FOR_TASK
    from .training import model_metadata

    settings = task_data.settings
    estimator = STREAMED_FOR_TASK[settings.task](memory_budget=budget, seed=settings.seed, **params)
    index = {label: i for i, label in enumerate(task_data.labels)}
    n_train = task_data.n_train
    chunk, chunk_chars = 4096, 1_000_000  # bounded by texts and by characters (dialogue views are long)

    def chunks():
        records = task_data.iter_records("train")
        if progress_enabled():
            records = progress(records, label="featurizing train records", length=n_train)
        texts, codes, ids, chars = [], [], [], 0
        for dialogue, text, label in records:
            texts.append(text)
            codes.append(index[label])
            ids.append(dialogue.id)
            chars += len(text)
            if len(texts) == chunk or chars >= chunk_chars:
                yield texts, np.array(codes, dtype=np.int32), ids
                texts, codes, ids, chars = [], [], [], 0
        if texts:
            yield texts, np.array(codes, dtype=np.int32), ids

    with stage("fitting the streamed model (featurize, then passes over the shuffle)", name="fit"):
        estimator.fit_chunks(chunks, task_data.labels, task_data.class_counts("train"), temp_dir=temp_dir)
    summary = {
        **model_metadata(estimator, settings, data_path, "stream"),
        "scale": "stream",
        "memory_budget_bytes": int(budget),
        "train_records": n_train,
        "test_records": task_data.n_test,
        "classes": len(task_data.labels),
        "split": task_data.describe(),
        "training": estimator.training_,
    }
    if out is not None:
        with stage("saving", name="save"):
            estimator.save(out, metadata={k: v for k, v in summary.items() if k not in ("train_seconds",)})
        summary["out"] = os.fspath(out)
    return estimator, summary


# ---------------------------------------------------------------------------------------------- evaluation

def parse_max_test(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"--max-test must be a whole number >= 1, got {value!r}")
    return value


def read_training_set(task_data: StreamedTask):
    """The train split as `training.TrainingSet` (texts, labels, departments in the in-memory split's order), read
    from the file again without holding the rest of the corpus: what the in-memory presets train on."""
    from .training import TrainingSet, department_group

    items: dict[int, tuple[str, str, str]] = {}
    records = zip(task_data.split.part_lines("train"), task_data.iter_records("train"))
    if progress_enabled():
        records = progress(records, label="reading the train split", length=task_data.n_train)
    for line, (dialogue, text, label) in records:
        items[int(line)] = (text, label, department_group(dialogue))
    ordered = [items.pop(int(line)) for line in task_data.split.protocol_order("train")]
    return TrainingSet([t for t, _, _ in ordered], [label for _, label, _ in ordered], [g for _, _, g in ordered],
                       task_data.n_test, len(task_data.labels), task_data.describe())


@dataclass
class TestSplit:
    texts: list[str]
    labels: list[str]
    total: int            # records in the whole test split
    max_test: int | None  # the sample size asked for
    description: str

    @property
    def sampled(self) -> bool:
        return len(self.texts) < self.total


def load_test_split(task_data: StreamedTask, max_test: int | None = None) -> TestSplit:
    """The test split's texts and labels in protocol order (group by label, order key), read without holding
    the rest of the corpus; with ``max_test`` only a seeded sample of that many records is kept while reading."""
    seed = task_data.settings.seed
    total = task_data.n_test
    items: dict[int, tuple[str, str]] = {}
    lines = task_data.split.part_lines("test")
    heap: list[tuple[str, int]] = []  # max-heap by key (negated through the tuple order trick below)
    records = zip(lines, task_data.iter_records("test"))
    if progress_enabled():
        records = progress(records, label="reading the test split", length=total)
    for line, (dialogue, text, label) in records:
        line = int(line)
        if max_test is None or max_test >= total:
            items[line] = (text, label)
            continue
        key = order_key(f"sample:{dialogue.id}", seed)
        entry = (_Desc(key), line)
        if len(heap) < max_test:
            heapq.heappush(heap, entry)
            items[line] = (text, label)
        elif key < heap[0][0].key:
            _, dropped = heapq.heapreplace(heap, entry)
            del items[dropped]
            items[line] = (text, label)
    order = [int(line) for line in task_data.split.protocol_order("test") if int(line) in items]
    texts = [items[line][0] for line in order]
    labels = [items[line][1] for line in order]
    description = task_data.describe()
    if len(texts) < total:
        description += f"; scored on a seeded sample of {len(texts)} of the {total} test records (--max-test)"
    return TestSplit(texts, labels, total, max_test, description)


class _Desc:
    """A key that sorts in reverse, so that ``heapq`` (a min-heap) keeps the largest of the smallest keys on top."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        self.key = key

    def __lt__(self, other: "_Desc") -> bool:
        return self.key > other.key

    def __eq__(self, other) -> bool:
        return self.key == other.key


# ------------------------------------------------------------------------------------- the train command

def train_classifier(data_path: str | os.PathLike, settings: ClassificationSettings, model: str | None = None,
                     out: str | os.PathLike | None = None, cv: int | None = None, scale: str = "auto",
                     memory_budget: str | int = DEFAULT_MEMORY_BUDGET, temp_dir: str | None = None):
    """What ``train route|recommend`` runs: choose the scale (module docstring), train, save to ``out``.

    Returns (estimator, summary); the summary has ``scale``, ``scale_reason`` and ``stages`` (seconds, CPU
    seconds and peak memory of each stage, `progress.recording`).
    """
    import time

    from ..persist import check_model_destination
    from ..progress import peak_rss_mib, recording
    from .training import build_estimator, train_model

    budget = parse_memory_budget(memory_budget)
    if scale not in SCALES:
        raise UsageError(f"--scale must be one of {', '.join(SCALES)}, got {scale!r}")
    if scale == "stream" and model is not None:
        raise UsageError("--model picks an in-memory preset; leave it out with --scale stream "
                         "(the streamed model is a hashed char n-gram softmax)")
    if scale == "stream" and cv:
        raise UsageError("--cv runs with the in-memory presets only (--scale memory or auto)")
    if model is not None:
        build_estimator(settings.task, model, seed=settings.seed)  # checks the name before any work
    if out is not None:
        check_model_destination(out)
    started = time.perf_counter()
    with recording() as stages:
        task_data = streamed_task(data_path, settings)
        if scale == "memory":
            chosen, reason = "memory", "--scale memory"
        elif scale == "auto" and (model is not None or cv):
            chosen, reason = "memory", "auto: --model/--cv name an in-memory preset"
        else:
            records = len(task_data.split.scan)
            chosen = choose_scale(scale, settings.task, records, budget)
            predicted = predicted_in_memory_bytes(settings.task, records) / MIB
            reason = ("--scale stream" if scale == "stream" else
                      f"auto: {records} records, predicted in-memory peak {predicted:.0f} MiB "
                      f"{'>' if chosen == 'stream' else '<='} budget {budget / MIB:.0f} MiB")
        if chosen == "memory":
            with stage("reading the train split", name="read train"):
                training_set = read_training_set(task_data)
            estimator, summary = train_model(data_path, settings, model=model, out=out, cv=cv,
                                             training_set=training_set)
        else:
            estimator, summary = train_streamed(task_data, data_path, budget, out=out, temp_dir=temp_dir)
            summary["train_seconds"] = round(sum(s["seconds"] for s in stages if s["stage"] == "fit"), 3)
    summary["scale"] = chosen
    summary["scale_reason"] = reason
    summary["memory_budget_bytes"] = budget
    summary["stages"] = stages
    summary["seconds"] = round(time.perf_counter() - started, 3)
    summary["peak_rss_mib"] = peak_rss_mib()
    return estimator, summary
