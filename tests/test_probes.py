"""The probes of the rules (data/probes): well formed, labelled in the scheme, and scored by scripts/probe_rules.py."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from helpers import LABELS, load_script

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "data" / "probes" / "opposition_futility.tsv"


def _script():
    return load_script(ROOT / "scripts" / "probe_rules.py")


def test_the_opposition_probe_is_labelled_in_the_scheme_and_scored_sentence_by_sentence():
    from kpstance.weak.scheme import load_scheme

    scheme = load_scheme(str(LABELS))
    rows = _script().read_probe(PROBE)
    assert len(rows) == 150 and len({r["id"] for r in rows}) == 150
    assert Counter(r["kind"] for r in rows) == {"opposition": 50, "target": 35, "futility": 35, "plain": 30}
    assert {r["actor"] for r in rows} <= set(scheme.actor_labels) and {r["stance"] for r in rows} <= set(scheme.stances)
    right, n, wrong = _script().score(rows, LABELS)
    assert sum(n.values()) == 150 and sum(right.values()) + len(wrong) == 150


def test_the_second_probe_is_labelled_in_the_scheme():
    from kpstance.weak.scheme import load_scheme

    scheme = load_scheme(str(LABELS))
    rows = _script().read_probe(PROBE.with_name("opposition_futility_2.tsv"))
    assert len(rows) == 120 and len({r["id"] for r in rows}) == 120
    assert Counter(r["kind"] for r in rows) == {"opposition": 40, "target": 25, "futility": 30, "plain": 25}
    assert {r["actor"] for r in rows} <= set(scheme.actor_labels) and {r["stance"] for r in rows} <= set(scheme.stances)
    # no sentence of one probe repeats the other's
    assert not {r["text"] for r in rows} & {r["text"] for r in _script().read_probe(PROBE)}


def test_a_probe_row_without_its_label_is_one_line_naming_file_and_row(tmp_path):
    from kpstance.errors import KpstanceError

    bad = tmp_path / "p.tsv"
    bad.write_text("id\tactor\tstance\tkind\ttext\nx1\trussia\t\tplain\tMoscow urged talks.\n", encoding="utf-8")
    with pytest.raises(KpstanceError, match=r"p.tsv:2: a row needs id, actor, stance, kind and text"):
        _script().read_probe(bad)
