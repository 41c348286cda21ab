"""Response-generation instances: merging, context/response cuts, split by dialogue."""

from rmd_baselines.corpus import Dialogue, Turn, load_dialogues
from rmd_baselines.tasks import GenerationSettings, build_generation_task, dialogue_instances, merge_same_speaker
from tests.conftest import shared_corpus


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
