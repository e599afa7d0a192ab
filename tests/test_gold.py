"""The hand-labelled gold set: covers every unit the segmenter produces, with configured labels only."""

from __future__ import annotations

import json

import pytest
from helpers import GOLD

from kpstance.corpora import load_gold
from kpstance.errors import KpstanceError
from kpstance.eval.metrics import score

PHENOMENA = {"headline", "dateline", "reported_speech", "nested_report", "pronoun_speaker", "quote_continuation",
             "joint_actors", "alias", "negation", "passive", "coreference", "coordinated_clauses", "procedural",
             "background"}


def test_gold_covers_every_unit_with_configured_labels(scheme, units):
    gold = load_gold(GOLD, scheme, units)
    assert set(gold) == {u.id for u in units}
    for g in gold.values():
        assert g["actor"] in scheme.actor_labels and g["stance"] in scheme.stance_labels
        assert set(g["phenomena"]) <= PHENOMENA
        assert isinstance(g["note"], str)
        if g["actor"] == "none":
            assert g["stance"] == "neutral"


def test_gold_errors_name_file_and_line(tmp_path, scheme, units):
    rows = [json.loads(l) for l in GOLD.read_text(encoding="utf-8").splitlines()]
    bad = tmp_path / "gold.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in rows[:3] + [rows[2]]) + "\n", encoding="utf-8")
    with pytest.raises(KpstanceError, match=r"gold.jsonl:4: duplicate id"):
        load_gold(bad, scheme, units)
    bad.write_text(json.dumps({**rows[0], "actor": "atlantis"}) + "\n", encoding="utf-8")
    with pytest.raises(KpstanceError, match=r"gold.jsonl:1: unknown actor 'atlantis'"):
        load_gold(bad, scheme, units)
    bad.write_text(json.dumps({**rows[0], "id": "tass-2017-11-24-lavrov-999"}) + "\n", encoding="utf-8")
    with pytest.raises(KpstanceError, match="not a unit the segmenter produces"):
        load_gold(bad, scheme, units)


def test_score_f_avg_and_joint(scheme):
    gold = [("russia", "hardline"), ("russia", "conciliatory"), ("none", "neutral"), ("china", "conciliatory")]
    pred = [("russia", "hardline"), ("china", "conciliatory"), ("none", "hardline"), ("china", "neutral")]
    m = score(gold, pred, scheme)
    # hardline: P=1/2 R=1 F1=2/3; conciliatory: P=1 R=1/2 F1=2/3
    assert m["stance_f_avg"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["joint_accuracy"] == pytest.approx(0.25)
    assert m["actor_accuracy"] == pytest.approx(0.75)
