"""Tests of the synthetic RealMedDial-shaped generator (rmd_baselines/corpus/synth) and `data synth`."""

import gzip
import hashlib
import os
import statistics
from collections import Counter, defaultdict

import pytest
from click.testing import CliRunner

from rmd_baselines.cli.main import cli
from rmd_baselines.corpus import read_dialogues
from rmd_baselines.corpus.synth import (
    DEPARTMENTS,
    DISEASES,
    ENGLISH_NAMES,
    SYMPTOM_PHRASES,
    SyntheticCorpus,
    doctor_plan,
    generate_dialogues,
    length_plan,
    scale_counts,
    write_synthetic_corpus,
)
from rmd_baselines.corpus.synth import generator as synth_generator
from rmd_baselines.corpus.synth import vocabulary
from rmd_baselines.errors import UsageError

# The paper's Table 3 (benchmark-protocol.md section 6): English name -> (doctors, dialogues).
PAPER_TABLE3 = {
    "Cardiovascular": (7, 240), "Andrology": (3, 35), "Dermatology": (6, 272), "Internal Medicine": (6, 326),
    "Gastroenterology": (9, 150), "Orthopedics": (4, 182), "Anorectal": (3, 116), "Obstetrics": (3, 130),
    "Gynecology": (2, 48), "Rheumatology": (6, 424), "Chinese Medicine": (4, 202), "Urology": (1, 26),
    "Endocrinology": (2, 86), "Nephrology": (3, 260), "Brain": (1, 26), "Respiratory": (1, 4), "Pediatrics": (2, 110),
}


def sha256(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def table3(dialogues) -> dict[str, tuple[int, int]]:
    doctors, counts = defaultdict(set), Counter()
    for d in dialogues:
        doctors[ENGLISH_NAMES[d.department]].add(d.doctor)
        counts[ENGLISH_NAMES[d.department]] += 1
    return {name: (len(doctors[name]), counts[name]) for name in counts}


def check_paper_shape(dialogues) -> None:
    """The paper's Tables 2-3 figures that a 2,637-dialogue synthetic corpus must reproduce."""
    lengths = [len(d.turns) for d in dialogues]
    per_doctor = Counter(d.doctor for d in dialogues)
    assert len(dialogues) == 2637
    assert sum(lengths) == 24255
    assert abs(statistics.mean(lengths) - 9.2) <= 0.5
    assert statistics.median(lengths) == 8
    assert (min(lengths), max(lengths)) == (2, 48)
    assert len(per_doctor) == 59
    assert (min(per_doctor.values()), max(per_doctor.values())) == (4, 184)
    assert table3(dialogues) == PAPER_TABLE3


# ---------------------------------------------------------------------------------------------------- the plan

def test_plan_at_paper_size_is_the_papers_table3():
    slots = doctor_plan(2637)
    per_department = defaultdict(lambda: [set(), 0])
    for slot in slots:
        entry = per_department[ENGLISH_NAMES[slot.department]]
        entry[0].add(slot.doctor)
        entry[1] += slot.dialogues
    assert {name: (len(ds), n) for name, (ds, n) in per_department.items()} == PAPER_TABLE3
    per_doctor = Counter()
    for slot in slots:
        per_doctor[slot.doctor] += slot.dialogues
    assert len(per_doctor) == 59
    assert (min(per_doctor.values()), max(per_doctor.values())) == (4, 184)


@pytest.mark.parametrize("counts, total, expected", [
    ([240, 35, 272], 547, [240, 35, 272]),      # the base total gives the counts back
    ([1, 1, 1], 2, [1, 1, 0]),                  # ties go to the earlier entry
    ([3, 1], 8, [6, 2]),
    ([2, 1], 4, [3, 1]),                        # remainders 2/3 and 1/3: the larger gets the extra one
    ([5, 5, 1], 0, [0, 0, 0]),
])
def test_scale_counts(counts, total, expected):
    assert scale_counts(counts, total) == expected


@pytest.mark.parametrize("n", [1, 10, 2636, 2638, 10_000, 1_000_000])
def test_scaled_plans_add_up_and_keep_the_shape(n):
    slots = doctor_plan(n)
    lengths = length_plan(n)
    assert sum(s.dialogues for s in slots) == n
    assert sum(k for _, k in lengths) == n
    for slot, base in zip(slots, doctor_plan(2637)):
        assert abs(slot.dialogues - base.dialogues * n / 2637) < 1
    if n >= 10_000:
        mean = sum(length * k for length, k in lengths) / n
        assert abs(mean - 24255 / 2637) < 0.01


# ---------------------------------------------------------------------------------------------------- vocabulary

def test_vocabulary_is_consistent():
    assert [d.english for d in DEPARTMENTS] == list(PAPER_TABLE3)
    assert len({d.name for d in DEPARTMENTS}) == 17
    for department in DEPARTMENTS:
        assert all(name in DISEASES for name, _ in department.diseases), department.name
        assert all(n in vocabulary.DEPARTMENT_BY_NAME and n != department.name for n in department.neighbours)
        assert 0 <= department.borrow < 0.5
    for disease in DISEASES.values():
        assert disease.symptoms and disease.exams and disease.medicines, disease.name
        assert all(s in SYMPTOM_PHRASES for s in disease.symptoms), disease.name
    # Related departments share diseases: that overlap is what makes routing non-trivial.
    listed = Counter(name for d in DEPARTMENTS for name, _ in d.diseases)
    assert sum(1 for n in listed.values() if n > 1) >= 8
    assert len(set(vocabulary.SURNAMES)) >= 59


@pytest.mark.parametrize("name, kind", [
    ("阿司匹林", "oral"), ("他克莫司软膏", "topical"), ("炉甘石洗剂", "topical"), ("太宁栓", "topical"),
    ("布地奈德福莫特罗", "inhaled"), ("手术", "procedure"), ("体外碎石", "procedure"),
])
def test_medicine_kind(name, kind):
    assert vocabulary.medicine_kind(name) == kind


# ---------------------------------------------------------------------------------------------------- records

@pytest.fixture(scope="module")
def small_corpus():
    return list(generate_dialogues(400, seed=7))


def test_small_corpus_follows_the_scaled_plan(small_corpus):
    assert [d.id for d in small_corpus] == [f"synth-{i:06d}" for i in range(1, 401)]
    expected_departments = Counter()
    for slot in doctor_plan(400):
        expected_departments[slot.department] += slot.dialogues
    assert Counter(d.department for d in small_corpus) == +expected_departments
    expected_lengths = Counter({length: k for length, k in length_plan(400) if k})
    assert Counter(len(d.turns) for d in small_corpus) == expected_lengths


def test_records_have_the_canonical_shape_and_annotations(small_corpus):
    for d in small_corpus:
        assert d.turns[0].speaker == "patient"
        assert any(t.speaker == "doctor" for t in d.turns)
        assert all(t.text.strip() for t in d.turns)
        assert d.title and d.department and d.doctor.startswith("医生-")
        assert d.diseases and d.diseases[0] in DISEASES
        assert d.symptoms and all(s in SYMPTOM_PHRASES for s in d.symptoms)
        assert len(set(d.symptoms)) == len(d.symptoms)
    titles = [d.title for d in small_corpus]
    assert sum(t.endswith(("？", "吗")) for t in titles) / len(titles) > 0.6


def test_turns_mostly_alternate(small_corpus):
    pairs = [(a.speaker, b.speaker) for d in small_corpus for a, b in zip(d.turns, d.turns[1:])]
    same = sum(a == b for a, b in pairs) / len(pairs)
    assert 0.03 < same < 0.25


def test_doctor_replies_depend_on_the_context(small_corpus):
    # Every consultation reaches a diagnosis that names the annotated disease.
    assert all(any(d.diseases[0] in t.text for t in d.turns if t.speaker == "doctor") for d in small_corpus)
    # Doctors ask about the symptoms the patient mentioned.
    asked_about_mentioned = sum(
        any(s in t.text for s in d.symptoms for t in d.turns if t.speaker == "doctor" and t.text.endswith("？"))
        for d in small_corpus)
    assert asked_about_mentioned / len(small_corpus) > 0.3


def test_doctors_have_habits_but_share_the_department_vocabulary(small_corpus):
    corpus = SyntheticCorpus(400, seed=7)
    profiles = list(corpus.doctors.values())
    assert len({p.greetings for p in profiles}) > 40          # personal, ...
    assert len({g for p in profiles for g in p.greetings}) < len(profiles)  # ... but drawn from a shared pool


def test_generation_is_lazy():
    corpus = SyntheticCorpus(10**9, seed=0)
    first = next(iter(corpus))
    assert first.id == "synth-0000000001"


@pytest.mark.parametrize("n, seed", [(0, 0), (-3, 0), (2.5, 0), (True, 0), (10, "0"), (10, None)])
def test_bad_arguments_are_usage_errors(n, seed):
    with pytest.raises(UsageError):
        SyntheticCorpus(n, seed)


# ---------------------------------------------------------------------------------------------------- files

@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_same_seed_same_bytes_different_seed_different_bytes(tmp_path, suffix):
    a, b, c = (tmp_path / f"{name}{suffix}" for name in "abc")
    write_synthetic_corpus(a, 150, seed=3)
    write_synthetic_corpus(b, 150, seed=3)
    write_synthetic_corpus(c, 150, seed=4)
    assert sha256(a) == sha256(b)
    assert sha256(a) != sha256(c)


def test_gzip_and_plain_hold_the_same_records(tmp_path):
    plain, packed = tmp_path / "s.jsonl", tmp_path / "s.jsonl.gz"
    summary = write_synthetic_corpus(plain, 80, seed=1)
    write_synthetic_corpus(packed, 80, seed=1)
    with gzip.open(packed, "rb") as handle:
        assert handle.read() == plain.read_bytes()
    back = list(read_dialogues(packed))
    assert len(back) == 80 == summary["dialogues"]
    assert sum(len(d.turns) for d in back) == summary["utterances"]
    assert summary["bytes"] == os.path.getsize(plain)


def test_write_summary(tmp_path):
    summary = write_synthetic_corpus(tmp_path / "s.jsonl", 2637, seed=0)
    assert summary["departments"] == 17 and summary["doctors"] == 59 and summary["utterances"] == 24255


def test_a_failure_leaves_no_partial_file(tmp_path, monkeypatch):
    original = SyntheticCorpus._dialogue
    calls = {"n": 0}

    def failing(self, *args):
        calls["n"] += 1
        if calls["n"] == 30:
            raise RuntimeError("disk full")
        return original(self, *args)

    monkeypatch.setattr(SyntheticCorpus, "_dialogue", failing)
    with pytest.raises(RuntimeError):
        write_synthetic_corpus(tmp_path / "s.jsonl.gz", 100, seed=0)
    assert os.listdir(tmp_path) == []


def test_output_name_must_be_jsonl(tmp_path):
    with pytest.raises(UsageError, match=r"\.jsonl"):
        write_synthetic_corpus(tmp_path / "s.csv", 10)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------------- the sample

def test_paper_size_reproduces_the_papers_statistics():
    check_paper_shape(list(generate_dialogues(2637, seed=5)))


def test_bundled_sample_mirrors_the_paper(sample_path):
    assert os.path.getsize(sample_path) < 5 * 2**20
    check_paper_shape(list(read_dialogues(sample_path)))


def test_bundled_sample_is_what_the_command_produces(sample_path, tmp_path):
    regenerated = tmp_path / "sample.jsonl.gz"
    result = CliRunner().invoke(cli, ["data", "synth", "--dialogues", "2637", "--seed", "0", "--out",
                                      str(regenerated), "--quiet"])
    assert result.exit_code == 0, result.output
    assert sha256(regenerated) == sha256(sample_path)


# ---------------------------------------------------------------------------------------------------- CLI

def test_cli_writes_and_reports(tmp_path):
    out = tmp_path / "corpus.jsonl"
    result = CliRunner().invoke(cli, ["data", "synth", "--dialogues", "25", "--seed", "2", "--out", str(out),
                                      "--json"])
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads(result.output)
    assert summary["dialogues"] == 25 and summary["seed"] == 2 and summary["generator"] == synth_generator.GENERATOR_VERSION
    assert len(list(read_dialogues(out))) == 25


def test_cli_plain_output(tmp_path):
    result = CliRunner().invoke(cli, ["data", "synth", "--dialogues", "5", "--out", str(tmp_path / "c.jsonl.gz")])
    assert result.exit_code == 0
    assert result.output.startswith("wrote 5 synthetic dialogues")


@pytest.mark.parametrize("args, message", [
    (["--dialogues", "0"], "--dialogues"),
    (["--dialogues", "-5"], "--dialogues"),
    (["--dialogues", "ten"], "--dialogues"),
    (["--seed", "x"], "--seed"),
])
def test_cli_bad_arguments_exit_2(tmp_path, args, message):
    out = tmp_path / "c.jsonl"
    result = CliRunner().invoke(cli, ["data", "synth", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_cli_bad_output_name_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["data", "synth", "--dialogues", "5", "--out", str(tmp_path / "c.txt")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and ".jsonl" in result.output
    assert os.listdir(tmp_path) == []


def test_cli_help_has_an_example():
    result = CliRunner().invoke(cli, ["data", "synth", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "--dialogues 2637" in result.output
