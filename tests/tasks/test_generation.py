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
