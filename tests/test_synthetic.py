"""The synthetic corpus: seeded, covering every label and pattern, and never close to gold."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers import GOLD, ROOT

from kpstance.text.overlap import drop_leaks, jaccard, max_overlap
from kpstance.weak.synthetic import Generator

TEMPLATES = ROOT / "configs" / "synthetic" / "korean_peninsula.yaml"


@pytest.fixture(scope="module")
def corpus(scheme):
    gold = [json.loads(l)["text"] for l in GOLD.read_text(encoding="utf-8").splitlines()]
    return Generator(TEMPLATES, scheme).generate(1500, seed=3, exclude=gold), gold


def test_same_seed_same_corpus(scheme):
    g = Generator(TEMPLATES, scheme)
    assert [e.text for e in g.generate(50, seed=1)] == [e.text for e in g.generate(50, seed=1)]
    assert [e.text for e in g.generate(50, seed=1)] != [e.text for e in g.generate(50, seed=2)]


def test_covers_every_actor_stance_and_pattern(corpus, scheme):
    ex, _ = corpus
    assert set(Counter(e.actor for e in ex)) == set(scheme.actor_labels)
    assert set(Counter(e.stance for e in ex)) == set(scheme.stance_labels)
    tags = {t for e in ex for t in e.tags}
    for needed in ("reported_speech", "trailing", "quote", "according_to", "headline", "passive", "joint_actors",
                   "nested_report", "negation", "background", "procedural"):
        assert needed in tags
    for actor in scheme.actors:  # many aliases per actor, not one name
        names = {a for a in actor.aliases if any(a in e.text for e in ex if e.actor == actor.name)}
        assert len(names) >= 3, actor.name


def test_no_training_sentence_overlaps_gold(corpus):
    ex, gold = corpus
    assert max(max_overlap([e.text for e in ex], gold)) < 0.8


def test_leak_filter_rejects_near_copies():
    gold = ["Washington is provoking Pyongyang, Lavrov said."]
    texts = ["Washington is provoking Pyongyang, Lavrov said again.", "Seoul urged calm."]
    assert jaccard(texts[0], gold[0]) >= 0.8
    assert drop_leaks(texts, gold, 0.8) == [1]
