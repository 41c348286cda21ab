"""Response-generation instances: merging, context/response cuts, split by dialogue; linear time (D2); the
streamed split and --max-test sample equal to the in-memory task."""

import pytest

from rmd_baselines.corpus import Dialogue, Turn, load_dialogues
from rmd_baselines.errors import DataError, UsageError
from rmd_baselines.tasks import (GenerationSettings, build_generation_task, dialogue_instances, merge_same_speaker,
                                 stream_generation_split, streamed_generation_test)
from rmd_baselines.tasks.generation import count_instances, instance_sample_id
from rmd_baselines.tasks.splits import sample_by_order_key
from tests.conftest import SAMPLE, SHARED_DATA, shared_corpus


def test_merge_same_speaker_runs():
    turns = [Turn("patient", "a"), Turn("patient", "b"), Turn("doctor", "c"), Turn("doctor", "d"), Turn("patient", "e")]
    assert merge_same_speaker(turns) == [Turn("patient", "a b"), Turn("doctor", "c d"), Turn("patient", "e")]


def test_every_doctor_turn_after_the_first_is_an_instance():
    d = Dialogue("x", (Turn("doctor", "您好"), Turn("patient", "胃疼"), Turn("patient", "三天了"),
                       Turn("doctor", "做胃镜"), Turn("patient", "好"), Turn("doctor", "再见")), department="消化")
    instances = dialogue_instances(d)
    assert [(i.turn, i.context, i.response) for i in instances] == [
        (2, "您好\n胃疼 三天了", "做胃镜"), (4, "您好\n胃疼 三天了\n做胃镜\n好", "再见")]
    assert instances[0].department == "消化"


def test_context_keeps_last_chars_response_first_chars():
    d = Dialogue("x", (Turn("patient", "甲" * 10 + "乙" * 295), Turn("doctor", "丙" * 150)))
    (instance,) = dialogue_instances(d)
    assert instance.context == "甲" * 5 + "乙" * 295 and instance.response == "丙" * 100
    (short,) = dialogue_instances(d, GenerationSettings(max_context_chars=3, max_response_chars=2))
    assert (short.context, short.response) == ("乙乙乙", "丙丙")


def test_instance_json_has_text_for_evaluate():
    d = Dialogue("x", (Turn("patient", "胃疼"), Turn("doctor", "做胃镜")))
    assert dialogue_instances(d)[0].to_json()["text"] == "做胃镜"


def test_covid_zh_instance_counts_and_leakage():
    data = build_generation_task(load_dialogues(shared_corpus("covid_zh"))[0])
    assert len(data.test) == 741
    train_contexts = {i.context for i in data.train}
    assert sum(i.context in train_contexts for i in data.test) == 153


def test_imcs_instance_count():
    data = build_generation_task(load_dialogues(shared_corpus("imcs_v2_dev"))[0])
    assert len(data.test) == 1203


def test_too_few_dialogues_is_named_as_such():
    import pytest

    from rmd_baselines.errors import DataError

    dialogues = [Dialogue(f"d{i}", (Turn("patient", "胃疼"), Turn("doctor", "多久了"), Turn("patient", "三天"),
                                    Turn("doctor", "做胃镜")), department="消化内科") for i in range(3)]
    with pytest.raises(DataError, match="too few dialogues for the respond task's 8:1:1 split"):
        build_generation_task(dialogues)
    single_turn = [Dialogue(f"q{i}", (Turn("patient", "胃疼"),), department="消化内科") for i in range(30)]
    with pytest.raises(DataError, match="needs multi-turn dialogues"):
        build_generation_task(single_turn)


# ---- D2 (issue 13): building instances and merging turns are linear in the turns of a dialogue ----


def _reference_merge(turns):
    """The merge as it was (quadratic: the growing text is copied at every turn of a run)."""
    merged = []
    for turn in turns:
        if merged and merged[-1].speaker == turn.speaker:
            merged[-1] = Turn(turn.speaker, merged[-1].text + " " + turn.text)
        else:
            merged.append(turn)
    return merged


def _reference_instances(dialogue, settings):
    """The instances as they were built (quadratic: the whole context joined again for every doctor turn)."""
    from rmd_baselines.tasks.generation import Instance, cut_context, cut_response

    turns = _reference_merge(dialogue.turns)
    return [Instance(dialogue.id, i, cut_context("\n".join(t.text for t in turns[:i]), settings.max_context_chars),
                     cut_response(turns[i].text, settings.max_response_chars), dialogue.department, dialogue.doctor)
            for i in range(1, len(turns)) if turns[i].speaker == "doctor"]


def _random_dialogue(rng, number):
    turns = []
    for _ in range(rng.randrange(0, 30)):
        text = "".join(rng.choice("甲乙丙丁 ab\n") for _ in range(rng.choice([0, 1, 2, 5, 40, 400])))
        turns.append(Turn(rng.choice(["doctor", "patient"]), text))
    return Dialogue(f"d{number}", tuple(turns), department=rng.choice([None, "内科"]), doctor=rng.choice([None, "王"]))


def test_instances_and_merge_equal_the_quadratic_reference():
    import random

    rng = random.Random(13)
    settings_list = [GenerationSettings(), GenerationSettings(max_context_chars=0, max_response_chars=0),
                     GenerationSettings(max_context_chars=1, max_response_chars=1),
                     GenerationSettings(max_context_chars=7, max_response_chars=3),
                     GenerationSettings(max_context_chars=401)]
    for number in range(300):
        dialogue = _random_dialogue(rng, number)
        assert merge_same_speaker(dialogue.turns) == _reference_merge(dialogue.turns)
        for settings in settings_list:
            assert dialogue_instances(dialogue, settings) == _reference_instances(dialogue, settings)


def test_merging_a_long_run_copies_each_text_once(monkeypatch):
    """Every Turn the merge builds is counted with its text length: merging n one-speaker turns must build
    O(total text), not the O(n^2) of extending the run's text turn by turn (D2)."""
    from rmd_baselines.tasks import generation

    built = []

    class CountingTurn(Turn):
        def __init__(self, speaker, text):
            built.append(len(text))
            super().__init__(speaker, text)

    monkeypatch.setattr(generation, "Turn", CountingTurn)
    turns = [Turn("patient", "症状" * 5) for _ in range(2000)] + [Turn("doctor", "好")]
    merged = merge_same_speaker(turns)
    total = sum(len(t.text) + 1 for t in turns)
    assert merged[0].text == " ".join(["症状" * 5] * 2000)
    assert sum(built) <= 2 * total  # the quadratic merge builds ~ 2000 * 2000 * 11 / 2 characters


def test_contexts_are_built_from_a_bounded_tail(monkeypatch):
    """Every string handed to cut_context is counted: a dialogue of n turns must hand over O(n * max_chars)
    characters, not the O(n^2) of joining the whole history again for every doctor turn (D2)."""
    from rmd_baselines.tasks import generation

    handed = []
    real_cut = generation.cut_context

    def counting_cut(context, max_chars=generation.MAX_CONTEXT_CHARS):
        handed.append(len(context))
        return real_cut(context, max_chars)

    monkeypatch.setattr(generation, "cut_context", counting_cut)
    turns = tuple(Turn("patient" if i % 2 else "doctor", "问答" * 20 + str(i)) for i in range(3000))
    instances = dialogue_instances(Dialogue("long", turns))
    assert len(instances) == 1499
    assert instances[-1].context.endswith("问答" * 20 + "2997") and len(instances[-1].context) == 300
    assert sum(handed) <= 3000 * (2 * 300 + 1)  # the quadratic build hands over ~ 3000 * 3000 * 45 / 4 characters


# ---- streamed generation split (issue 11 §5): the same instances without holding the corpus ----


def _streamed_corpora():
    out = [pytest.param(SAMPLE, id="sample")]
    for name in ("covid_zh", "imcs_v2_dev"):
        path = SHARED_DATA / name / "dialogues.jsonl"
        out.append(pytest.param(path, id=name, marks=pytest.mark.skipif(not path.is_file(),
                                                                      reason=f"shared corpus {name} not found")))
    return out


@pytest.mark.parametrize("path", _streamed_corpora())
@pytest.mark.parametrize("seed", [0, 4])
def test_streamed_instances_equal_the_in_memory_task(path, seed):
    settings = GenerationSettings(seed=seed, max_context_chars=120)
    data = build_generation_task(load_dialogues(path)[0], settings)
    stream = stream_generation_split(path, settings).check()
    assert stream.describe() == data.describe()
    for part in ("train", "valid", "test"):
        expected = getattr(data, part)
        assert stream.count_instances(part) == len(expected)
        assert stream.instances(part) == expected  # protocol order, every field
        assert sorted(stream.iter_instances(part), key=instance_sample_id) == sorted(expected, key=instance_sample_id)
    test = streamed_generation_test(path, settings)
    assert test.instances == data.test and not test.sampled and test.total_instances == len(data.test)


@pytest.mark.parametrize("n", [1, 7, 50])
def test_max_test_is_the_seeded_sample_of_the_test_instances(n):
    data = build_generation_task(load_dialogues(SAMPLE)[0])
    expected = sample_by_order_key(data.test, n, instance_sample_id, seed=0)
    test = streamed_generation_test(SAMPLE, max_test=n)
    assert test.instances == expected and len(expected) == n and test.sampled
    assert f"test sample of {n} of {len(data.test)} instances" in test.describe()
    other = test.stream.instances("test", n, sample_seed=1)
    assert other == sample_by_order_key(data.test, n, instance_sample_id, seed=1) and (n == 1 or other != expected)
    assert streamed_generation_test(SAMPLE, max_test=10**9).instances == data.test


@pytest.mark.parametrize("bad", [0, -3, True, 2.5, "10"])
def test_bad_max_test_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="sample size"):
        streamed_generation_test(SAMPLE, max_test=bad)


def test_count_instances_matches_the_instances():
    import random

    rng = random.Random(5)
    for number in range(200):
        dialogue = _random_dialogue(rng, number)
        assert count_instances(dialogue) == len(dialogue_instances(dialogue))


def test_streamed_split_refuses_like_the_in_memory_one(tmp_path):
    import json

    path = tmp_path / "tiny.jsonl"
    records = [{"id": f"d{i}", "department": "内科", "turns": [{"speaker": "patient", "text": "疼"},
                                                               {"speaker": "doctor", "text": "看"}]} for i in range(3)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    with pytest.raises(DataError) as in_memory:
        build_generation_task(load_dialogues(path)[0], source=str(path))
    with pytest.raises(DataError) as streamed:
        streamed_generation_test(path)
    assert str(streamed.value) == str(in_memory.value)
