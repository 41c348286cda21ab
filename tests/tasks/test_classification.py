"""Building the routing / recommendation data: label filter, unlabelled records, singletons."""

import pytest

from rmd_baselines.corpus import Dialogue, Turn
from rmd_baselines.errors import DataError, UsageError
from rmd_baselines.tasks import ClassificationSettings, build_classification_task


def corpus(sizes, doctor=True):
    out = []
    for dept, n in sizes.items():
        for i in range(n):
            out.append(Dialogue(f"{dept}-{i}", (Turn("patient", f"{dept}问题{i}"), Turn("doctor", "回答")),
                                title=f"标题{i}", department=dept, doctor=f"{dept}医生" if doctor else None))
    return out


def test_min_count_drops_rare_labels_and_reports_them():
    data = build_classification_task(corpus({"甲": 10, "乙": 10, "丙": 3}), ClassificationSettings("route", min_count=5))
    assert data.labels == ["乙", "甲"] and data.dropped_rare == {"丙": 3}
    assert len(data.test) == 4 and data.test_texts[0].startswith("标题")
    assert "1 labels under --min-count 5 dropped" in data.describe()


def test_single_example_label_is_a_clear_error():
    with pytest.raises(DataError, match=r"1 label\(s\) have a single record .* use --min-count 2"):
        build_classification_task(corpus({"甲": 10, "乙": 1}), ClassificationSettings("route", min_count=1))


def test_task_needs_the_label():
    with pytest.raises(DataError, match="no record has a doctor"):
        build_classification_task(corpus({"甲": 5}, doctor=False), ClassificationSettings("recommend"))


def test_one_class_is_not_a_classification_task():
    with pytest.raises(DataError, match="classification needs at least 2"):
        build_classification_task(corpus({"甲": 5, "乙": 1}), ClassificationSettings("route", min_count=2))


def test_settings_validate_and_round_trip():
    settings = ClassificationSettings("recommend", min_count=15, seed=3)
    assert settings.resolved_view == "dialogue"
    assert ClassificationSettings.from_json(settings.to_json()) == ClassificationSettings("recommend", 15, "dialogue", 3)
    with pytest.raises(UsageError):
        ClassificationSettings("triage")
    with pytest.raises(UsageError):
        ClassificationSettings("route", view="doctor")
