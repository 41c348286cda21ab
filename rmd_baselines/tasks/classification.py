"""Classification tasks: department routing and doctor recommendation (benchmark-protocol.md section 2).

`build_classification_task` is the one function every command uses to turn a corpus into the protocol's
train/test texts and labels: keep records that have the label, drop labels with fewer than ``min_count``
records, split 4:1 per label, render each record through the input view.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from ..corpus.model import Dialogue
from ..errors import DataError, UsageError
from .splits import DEFAULT_SEED, classification_split
from .views import get_view

TASK_LABELS = {"route": "department", "recommend": "doctor"}
DEFAULT_VIEWS = {"route": "patient", "recommend": "dialogue"}
DEFAULT_MIN_COUNT = 2

# The named protocol tasks of benchmark-protocol.md section 2 (corpus directory name -> settings).
PROTOCOL_TASKS = {
    "route/omc100k": {"task": "route", "corpus": "omc100k", "min_count": 10, "view": "patient"},
    "route/toyhom_im": {"task": "route", "corpus": "toyhom_im", "min_count": 1, "view": "patient"},
    "recommend/omc100k": {"task": "recommend", "corpus": "omc100k", "min_count": 15, "view": "dialogue"},
}


@dataclass(frozen=True)
class ClassificationSettings:
    """Everything needed to rebuild a classification split; saved with every trained model."""

    task: str
    min_count: int = DEFAULT_MIN_COUNT
    view: str | None = None
    seed: int = DEFAULT_SEED

    def __post_init__(self):
        if self.task not in TASK_LABELS:
            raise UsageError(f"unknown classification task {self.task!r} (choose route or recommend)")
        if self.min_count < 1:
            raise UsageError("--min-count must be at least 1")
        get_view(self.resolved_view)

    @property
    def label_field(self) -> str:
        return TASK_LABELS[self.task]

    @property
    def resolved_view(self) -> str:
        return self.view or DEFAULT_VIEWS[self.task]

    def to_json(self) -> dict:
        return {"task": self.task, "min_count": self.min_count, "view": self.resolved_view, "seed": self.seed}

    @classmethod
    def from_json(cls, obj: dict) -> "ClassificationSettings":
        return cls(task=obj["task"], min_count=int(obj["min_count"]), view=obj["view"], seed=int(obj["seed"]))


@dataclass
class ClassificationData:
    """The protocol's split of one classification task, as parallel lists of texts and labels."""

    settings: ClassificationSettings
    train: list[Dialogue]
    test: list[Dialogue]
    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]
    labels: list[str]
    dropped_unlabelled: int = 0
    dropped_rare: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        return describe_split(self.settings, len(self.labels), len(self.train), len(self.test), self.dropped_rare,
                              self.dropped_unlabelled)


def describe_split(settings: ClassificationSettings, n_labels: int, n_train: int, n_test: int,
                   dropped_rare: dict, dropped_unlabelled: int) -> str:
    """One line on a classification split (in memory or streamed)."""
    text = (f"{settings.task}: {n_labels} classes, {n_train} train / {n_test} test records "
            f"(view {settings.resolved_view}, seed {settings.seed})")
    if dropped_rare:
        text += f"; {len(dropped_rare)} labels under --min-count {settings.min_count} dropped"
    if dropped_unlabelled:
        text += f"; {dropped_unlabelled} records without a {settings.label_field} dropped"
    return text


def label_of(dialogue: Dialogue, label_field: str) -> str | None:
    value = getattr(dialogue, label_field)
    return value if value is not None and value.strip() else None


def build_classification_task(dialogues: Sequence[Dialogue], settings: ClassificationSettings,
                              source: str = "corpus") -> ClassificationData:
    """Filter, split and render a corpus for routing or recommendation."""
    field_name = settings.label_field
    labelled = [d for d in dialogues if label_of(d, field_name) is not None]
    if not labelled:
        raise DataError(f"{source}: no record has a {field_name}; the {settings.task} task needs one")
    counts = Counter(label_of(d, field_name) for d in labelled)
    rare = {label: n for label, n in counts.items() if n < settings.min_count}
    kept = [d for d in labelled if label_of(d, field_name) not in rare]
    singletons = sorted(label for label, n in counts.items() if n == 1 and label not in rare)
    if singletons:
        raise DataError(
            f"{source}: {field_name}: {len(singletons)} label(s) have a single record (e.g. {singletons[0]!r}); "
            f"a class needs at least 2 records to be learned and tested, use --min-count 2 or higher"
        )
    kept_labels = sorted({label_of(d, field_name) for d in kept})
    if len(kept_labels) < 2:
        raise DataError(
            f"{source}: {field_name}: {len(kept_labels)} label(s) with at least {settings.min_count} records; "
            "classification needs at least 2"
        )
    split = classification_split(kept, lambda d: label_of(d, field_name), lambda d: d.id, settings.seed)
    view = get_view(settings.resolved_view)
    return ClassificationData(
        settings=settings,
        train=split.train,
        test=split.test,
        train_texts=[view(d) for d in split.train],
        train_labels=[label_of(d, field_name) for d in split.train],
        test_texts=[view(d) for d in split.test],
        test_labels=[label_of(d, field_name) for d in split.test],
        labels=kept_labels,
        dropped_unlabelled=len(dialogues) - len(labelled),
        dropped_rare=rare,
    )
