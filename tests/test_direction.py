"""Direction-flipped copies (``weak.direction``): one step word turned into its reverse, from the label YAML's
``directions`` pairs, and their place in the distillation pool (``data.teacher.pool_direction``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import LABELS

from kpstance.errors import KpstanceError
from kpstance.text.segment import Unit
from kpstance.weak.direction import DirectionFlipper
from kpstance.weak.scheme import load_scheme


@pytest.fixture(scope="module")
def flipper(scheme):
    return DirectionFlipper(scheme)


def _flips(flipper, text: str) -> list[str]:
    return [flipper.flip(text, s) for s in flipper.sites(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("Seoul and Washington agreed to suspend the joint drills.", ["Seoul and Washington refused to suspend the joint "
                                                                 "drills.", "Seoul and Washington agreed to resume "
                                                                            "the joint drills."]),
    ("Beijing lifted sanctions on coal.", ["Beijing imposed sanctions on coal."]),
    ("The council condemned the launch.", ["The council welcomed the launch."]),
    ("Suspension of the drills was announced.", ["Resumption of the drills was announced."]),
    ("Pyongyang vowed to de-escalate.", ["Pyongyang vowed to escalate."]),
    ("Tokyo called off the exercise.", ["Tokyo went ahead with the exercise."]),
    ("EASE THE SANCTIONS, Moon says", ["TIGHTEN THE SANCTIONS, Moon says"]),
])
def test_one_step_word_turns_into_its_reverse_with_its_case(flipper, text, expected):
    assert _flips(flipper, text) == expected


def test_words_inside_longer_words_and_hyphenated_compounds_are_left_alone(flipper):
    # "lifting" is a form of "lift", but "uplifting" and "self-imposed" are other words
    assert flipper.sites("An uplifting, self-imposed silence.") == []
    assert _flips(flipper, "Talks will resume.") == ["Talks will suspend."]


def test_copies_are_seeded_own_units_read_with_the_original_speaker(flipper):
    units = [Unit.of_text("Moon said Seoul would suspend the drills and ease sanctions.", "a-1"),
             Unit.of_text("The weather was mild.", "a-2")]
    one = flipper.copies(units, 1, key=0, speakers=["Moon", None])
    assert [f.index for f in one] == [0] and one[0].unit.id == "a-1~dir0" and one[0].unit.article_id == "a-1~dir0"
    assert one[0].unit.extra["speaker"] == "Moon" and one[0].unit.extra["direction_of"] == "a-1"
    assert one == flipper.copies(units, 1, key=0, speakers=["Moon", None])  # the same copy on every run
    both = flipper.copies(units, 5, key=0)
    assert sorted(f.word for f in both) == ["ease", "suspend"]  # at most one copy per step word
    assert {f.unit.text for f in both} == {"Moon said Seoul would resume the drills and ease sanctions.",
                                           "Moon said Seoul would suspend the drills and tighten sanctions."}
    assert flipper.copies(units, 0) == []


def _with_directions(tmp_path: Path, directions: str) -> Path:
    text = LABELS.read_text(encoding="utf-8")
    head = text[:text.index("\ndirections:")]
    p = tmp_path / "labels.yaml"
    p.write_text(head + "\ndirections:\n" + directions, encoding="utf-8")
    return p


@pytest.mark.parametrize("entry", ["  - [[suspend, suspends], [resume]]\n", "  - [[suspend], [resume], [halt]]\n",
                                   "  - [suspend, resume]\n", "  - [[suspend], ['']]\n"])
def test_a_bad_direction_pair_is_one_line_naming_file_and_line(tmp_path, entry):
    p = _with_directions(tmp_path, "  - [[lift], [impose]]\n" + entry)
    line = p.read_text(encoding="utf-8").splitlines().index(entry.rstrip("\n")) + 1
    with pytest.raises(KpstanceError) as e:
        load_scheme(p)
    assert str(e.value).startswith(f"{p}:{line}: directions[1]: expected two lists") and "\n" not in str(e.value)
    with pytest.raises(KpstanceError, match=rf"^{p}:{line}: "):  # composed by Hydra: the same line
        load_scheme(yaml.safe_load(p.read_text(encoding="utf-8")), str(p))


def test_no_directions_means_no_copies(tmp_path):
    p = _with_directions(tmp_path, "")
    flipper = DirectionFlipper(load_scheme(p))
    assert flipper.sites("They agreed to suspend the drills.") == []
    assert flipper.copies([Unit.of_text("They agreed to suspend the drills.", "a-1")], 2) == []


def test_the_pool_holds_flipped_copies_for_the_teacher_alone(scheme, tmp_path):
    from test_remedies import _distill_cfg

    from kpstance.weak.trainset import TrainPart, teacher_pool

    units = [Unit.of_text("Washington agreed to suspend the drills.", "u-1"),
             Unit.of_text("Beijing condemned the launch.", "u-2"), Unit.of_text("Talks were held.", "u-3")]
    labels = [("united_states", "conciliatory"), ("china", "hardline"), ("none", "neutral")]
    cfg = _distill_cfg(tmp_path, tmp_path / "t.safetensors", "data.teacher.pool_direction=2", "seed=0")
    (pool,) = teacher_pool(cfg, scheme, [], [TrainPart("toy", units, labels)])
    assert [u.extra["pool"] for u in pool.units] == ["direction"] * 3
    assert all(u.extra["teacher_only"] and u.id.endswith("~pool") for u in pool.units)
    assert {u.text for u in pool.units} == {"Washington refused to suspend the drills.",
                                            "Washington agreed to resume the drills.", "Beijing welcomed the launch."}
    assert not any("direction_of" in u.extra for u in pool.units)
