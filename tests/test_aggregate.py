"""The label-model aggregator on a toy label matrix whose true labels are known."""

from __future__ import annotations

import random

import numpy as np
import pytest

from kpstance.errors import KpstanceError
from kpstance.weak.aggregate import LabelModelAggregator, aggregate, make_aggregator

LABELS = ["a", "b", "c"]


def toy(n: int = 1000, seed: int = 0) -> tuple[list[dict], list[str]]:
    """Votes drawn from known labels: one accurate function (90% right) and four noisy ones (45% right,
    errors spread over the other labels), independent given the label, plus one that never fires.
    The noisy four outvote the accurate one on many units, so majority vote is often wrong."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(LABELS), n)

    def lf(acc: float, cov: float) -> list[str | None]:
        out: list[str | None] = []
        for t in y:
            if rng.random() > cov:
                out.append(None)
            else:
                out.append(LABELS[t] if rng.random() < acc else LABELS[(t + rng.integers(1, 3)) % 3])
        return out

    cols = {f"noisy{i}": lf(0.45, 0.8) for i in range(4)}
    cols["accurate"] = lf(0.9, 0.9)  # last: majority's tie-break does not favour it
    cols["silent"] = [None] * n
    return [{k: v[i] for k, v in cols.items()} for i in range(n)], [LABELS[t] for t in y]


def accuracy(agg, rows: list[dict], truth: list[str]) -> float:
    return float(np.mean([agg(r) == t for r, t in zip(rows, truth)]))


def test_label_model_recovers_the_known_labels_better_than_majority():
    rows, truth = toy()
    order = list(rows[0])
    lm = make_aggregator("label_model", order, LABELS, rows, seed=0)
    maj = make_aggregator("majority", order)
    lm_acc, maj_acc = accuracy(lm, rows, truth), accuracy(maj, rows, truth)
    assert maj_acc < 0.7, maj_acc  # the toy does what it says: a noisy majority
    assert lm_acc > 0.78 and lm_acc > maj_acc + 0.1, (lm_acc, maj_acc)
    w = lm.weights()
    assert "silent" not in w  # a function that never fires is left out of the model
    assert all(w["accurate"] > w[f"noisy{i}"] + 0.1 for i in range(4)), w


def test_label_model_is_deterministic_and_leaves_global_randomness_alone():
    rows, _ = toy(300, seed=1)
    order = list(rows[0])
    random.seed(5)
    np.random.seed(5)
    before = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    a = LabelModelAggregator(order, LABELS, rows, seed=3, epochs=100)
    assert (random.random(), np.random.rand()) == before
    b = LabelModelAggregator(order, LABELS, rows, seed=3, epochs=100)
    assert [a(r) for r in rows] == [b(r) for r in rows]


def test_label_model_edge_cases():
    rows, _ = toy(300, seed=2)
    order = list(rows[0])
    lm = make_aggregator("label_model", order, LABELS, rows)
    assert lm({n: None for n in order}) is None  # nothing fired
    assert lm({"silent": "b"}) == "b"  # only an unmodelled function fired: majority decides
    assert lm({"accurate": "c"}) == "c"  # one vote: the model does not invent another label
    with pytest.raises(KpstanceError, match="vote 'z' is not a label"):
        lm({"accurate": "z"})
    empty = LabelModelAggregator(order, LABELS, [])  # nothing to fit on: majority
    assert empty.model is None and empty({"noisy0": "a", "noisy1": "b", "accurate": "b"}) == "b"
    two = LabelModelAggregator(order, LABELS, [{"noisy0": "a", "accurate": "b"}] * 5)  # Snorkel needs three
    assert two.model is None and two({"noisy0": "a", "accurate": "b"}) == "a"
    with pytest.raises(KpstanceError, match="needs the units' votes"):
        make_aggregator("label_model", order, LABELS)
    with pytest.raises(KpstanceError, match="make_aggregator"):
        aggregate({"accurate": "a"}, order, "label_model")
    assert aggregate({}, [], "label_model") is None  # label_units' early check of the name still passes


def test_lf_table_reports_precision_on_dev_beside_the_article():
    from kpstance.weak.analysis import lf_analysis
    from kpstance.weak.label import SilverLabel

    def s(uid: str, a: str | None, b: str | None) -> SilverLabel:
        return SilverLabel(uid, "", "x", "neutral", {"a": a, "b": b}, {})

    article = [s("u1", "x", None), s("u2", "y", "y")]
    dev = [s("d1", "x", "x"), s("d2", "x", None), s("d3", None, None), s("d4", "y", None)]
    dev_gold = {"d1": {"actor": "x"}, "d2": {"actor": "y"}, "d3": {"actor": "x"}, "d4": {"actor": "y"}}
    rows = {r["lf"]: r for r in lf_analysis(article, {"u1": {"actor": "x"}, "u2": {"actor": "x"}}, "actor",
                                            (dev, dev_gold))}
    assert (rows["a"]["precision"], rows["a"]["dev_precision"], rows["a"]["dev_coverage"]) == (0.5, 2 / 3, 0.75)
    assert (rows["b"]["precision"], rows["b"]["dev_precision"], rows["b"]["dev_n_gold"]) == (0.0, 1.0, 1)
    assert "dev_precision" not in lf_analysis(article, None, "actor")[0]


def test_label_units_with_the_label_model_labels_every_unit_within_the_scheme(units, scheme):
    from kpstance.weak.label import label_units

    first = label_units(units, scheme, aggregator="label_model")
    again = label_units(units, scheme, aggregator="label_model")
    assert [(s.actor, s.stance) for s in first] == [(s.actor, s.stance) for s in again]
    assert len(first) == len(units)
    assert all(s.actor in scheme.actor_labels and s.stance in scheme.stance_labels for s in first)
    majority = label_units(units, scheme)
    # where every function that votes names the same actor, the label model weighs nothing against it: both
    # aggregators agree (the rest of the article, where functions conflict, is what the model is for)
    # (a unit after a conflict may see other votes: "he said" stands for the actor chosen before it)
    agreed = [(a, b) for a, b in zip(first, majority)
              if a.actor_votes == b.actor_votes and len({v for v in a.actor_votes.values() if v}) == 1]
    assert len(agreed) >= len(units) // 2
    assert all(a.actor == b.actor for a, b in agreed)
