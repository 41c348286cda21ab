"""Table 2/3 statistics and duplicate detection."""


from rmd_baselines.corpus import Dialogue, Turn, load_dialogues
from rmd_baselines.corpus.stats import corpus_statistics, duplicate_dialogues, format_statistics, split_leakage
from tests.conftest import shared_corpus


def dialogue(i, dept, doctor, n_turns, text="问"):
    turns = tuple(Turn("patient" if k % 2 == 0 else "doctor", f"{text}{k}") for k in range(n_turns))
    return Dialogue(id=f"d{i}", turns=turns, department=dept, doctor=doctor, diseases=("胃炎",) if dept else ())


def test_table2_and_table3():
    corpus = [dialogue(0, "消化内科", "甲", 2), dialogue(1, "消化内科", "乙", 4), dialogue(2, "皮肤科", "丙", 9),
              dialogue(3, None, None, 3)]
    stats = corpus_statistics(corpus)
    assert stats["dialogues"] == 4 and stats["utterances"] == 18
    assert stats["utterances_mean"] == 4.5 and stats["utterances_median"] == 3.5
    assert (stats["utterances_min"], stats["utterances_max"]) == (2, 9)
    assert stats["doctors"] == 3 and stats["departments"] == 2
    assert stats["dialogues_per_department_mean"] == 1.5
    assert stats["doctors_per_department_mean"] == 1.5
    assert stats["diseases_per_department_mean"] == 1.0
    assert stats["per_department"] == {"消化内科": {"doctors": 2, "dialogues": 2}, "皮肤科": {"doctors": 1, "dialogues": 1}}
    assert stats["without_department"] == 1
    text = format_statistics(stats)
    assert "Table 2" in text and "Table 3" in text and "皮肤科" in text


def test_duplicates_are_identical_turn_lists_under_different_ids():
    a, b, c = dialogue(0, "x", None, 3), dialogue(1, "y", None, 3), dialogue(2, "x", None, 3, text="答")
    assert duplicate_dialogues([a, b, c]) == {"groups": 1, "records": 2, "examples": [["d0", "d1"]]}


def test_leakage_counts_verbatim_test_inputs():
    assert split_leakage(["a", "b"], ["a", "c", "a"]) == {"test": 3, "seen_in_train": 2, "fraction": 2 / 3}


def test_omc100k_statistics():
    stats = corpus_statistics(load_dialogues(shared_corpus("omc100k"))[0])
    assert (stats["dialogues"], stats["departments"], stats["doctors"]) == (2936, 12, 352)


def test_covid_duplicates_as_documented():
    stats = corpus_statistics(load_dialogues(shared_corpus("covid_zh"))[0])
    assert stats["duplicate_dialogues"]["records"] == 22
