"""Input views: what a classifier reads of a dialogue."""

from rmd_baselines.corpus import Dialogue, Turn
from rmd_baselines.tasks import dialogue_view, patient_view

TURNS = (Turn("patient", "胃疼"), Turn("doctor", "多久了？"), Turn("patient", "三天"))


def test_patient_view_title_then_patient_turns():
    assert patient_view(Dialogue("a", TURNS, title="胃疼怎么办")) == "胃疼怎么办\n胃疼\n三天"


def test_dialogue_view_every_turn():
    assert dialogue_view(Dialogue("a", TURNS, title="胃疼怎么办")) == "胃疼怎么办\n胃疼\n多久了？\n三天"


def test_missing_or_blank_title_is_left_out():
    assert patient_view(Dialogue("a", TURNS, title=None)) == "胃疼\n三天"
    assert dialogue_view(Dialogue("a", TURNS, title="  ")) == "胃疼\n多久了？\n三天"
