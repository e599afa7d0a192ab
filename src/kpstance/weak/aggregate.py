"""Combine the labeling functions' votes into one label.

``majority`` and ``priority`` decide each unit from its own votes. ``label_model`` first learns,
without gold, how far to trust each function from how the functions agree and disagree over many
units (Snorkel's LabelModel), then weighs each unit's votes by that trust.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import KpstanceError

AGGREGATORS = ("majority", "priority", "label_model")
PER_UNIT = ("majority", "priority")  # the aggregators that need nothing but the unit's own votes
ABSTAIN = -1  # Snorkel's code for "did not vote"
TIE = 1e-9  # probabilities closer than this are a tie (then majority decides)
MIN_LFS = 3  # Snorkel needs three functions that fire to tell their accuracies apart; with fewer, majority

Votes = dict[str, "str | None"]
VoteAggregator = Callable[[Votes], "str | None"]


def check_aggregator(method: str) -> None:
    """Refuse an unknown aggregator with the known names (one line, before any work)."""
    if method not in AGGREGATORS:
        raise KpstanceError(f"rules.aggregator: unknown aggregator '{method}' (known: {', '.join(AGGREGATORS)})")


def aggregate(votes: Votes, order: Sequence[str], method: str = "majority") -> str | None:
    """Combine the votes of the functions in ``order``.

    majority: the most frequent label, ties broken by the earliest function in ``order``;
    priority: the first function in ``order`` that did not abstain.
    ``label_model`` must be fitted on many units first: build it with ``make_aggregator``.
    """
    check_aggregator(method)
    fired = [(name, votes[name]) for name in order if votes.get(name) is not None]
    if not fired:
        return None
    if method == "label_model":
        raise KpstanceError("rules.aggregator: label_model is fitted on the units' votes; build it with make_aggregator")
    if method == "priority":
        return fired[0][1]
    counts = Counter(label for _, label in fired)
    best = max(counts.values())
    return next(label for _, label in fired if counts[label] == best)


class LabelModelAggregator:
    """Snorkel's LabelModel over the votes of the functions in ``order``, fitted on ``fit_rows`` (no gold).

    Functions that never fire in ``fit_rows`` are left out of the model (with fewer than ``MIN_LFS``
    left, or one label, there is no model); a unit on which none of the modelled functions fires, or
    whose best labels tie, falls back to majority. With ``voted_only``
    the answer is the most probable label among those some function voted for: the model weighs the
    evidence but does not name an actor or stance that no rule named.
    """

    def __init__(self, order: Sequence[str], labels: Sequence[str], fit_rows: Sequence[Votes], seed: int = 0,
                 epochs: int = 500, lr: float = 0.01, voted_only: bool = True) -> None:
        self.order = list(order)
        self.labels = list(labels)
        self.index = {label: i for i, label in enumerate(self.labels)}
        self.voted_only = voted_only
        L = self._matrix(fit_rows, self.order)
        fired = (L != ABSTAIN).any(axis=0) if L.size else np.zeros(len(self.order), dtype=bool)
        self.columns = [n for n, f in zip(self.order, fired) if f]
        L = L[:, fired] if L.size else L
        L = L[(L != ABSTAIN).any(axis=1)] if L.size else L
        fits = len(self.columns) >= MIN_LFS and len(self.labels) > 1
        self.model = _fit(L, len(self.labels), seed, epochs, lr) if fits else None
        self._cache: dict[tuple, str | None] = {}

    def _matrix(self, rows: Sequence[Votes], names: Sequence[str]) -> np.ndarray:
        """Snorkel's label matrix: one row per unit, one column per function, -1 for an abstention."""
        def code(v: str | None) -> int:
            if v is None:
                return ABSTAIN
            if v not in self.index:
                raise KpstanceError(f"label model: vote '{v}' is not a label (known: {', '.join(self.labels)})")
            return self.index[v]
        return np.array([[code(r.get(n)) for n in names] for r in rows], dtype=int).reshape(len(rows), len(names))

    def weights(self) -> dict[str, float]:
        """The learned accuracy of each modelled function (how far the model trusts it)."""
        if self.model is None:
            return {}
        return dict(zip(self.columns, (float(w) for w in self.model.get_weights())))

    def proba(self, votes: Votes) -> dict[str, float] | None:
        """P(label | votes) from the model, or None when no modelled function fired."""
        row = self._matrix([votes], self.columns)
        if self.model is None or not (row != ABSTAIN).any():
            return None
        return dict(zip(self.labels, (float(p) for p in self.model.predict_proba(row)[0])))

    def __call__(self, votes: Votes) -> str | None:
        key = tuple(votes.get(n) for n in self.order)
        if key not in self._cache:
            self._cache[key] = self._decide(votes)
        return self._cache[key]

    def _decide(self, votes: Votes) -> str | None:
        p = self.proba(votes)
        if p is None:
            return aggregate(votes, self.order, "majority")
        voted = {v for v in votes.values() if v is not None}
        ranked = sorted((x for x in p.items() if not self.voted_only or x[0] in voted), key=lambda x: -x[1])
        if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < TIE:
            return aggregate(votes, self.order, "majority")
        return ranked[0][0]


def _fit(L: np.ndarray, cardinality: int, seed: int, epochs: int, lr: float):  # -> LabelModel
    """Fit quietly and deterministically, leaving the global random generators as they were
    (Snorkel reseeds random, numpy and torch, which would shift every later draw of the run)."""
    import torch
    from snorkel.labeling.model import LabelModel

    py_state, np_state, was_disabled = random.getstate(), np.random.get_state(), logging.root.manager.disable
    threads = torch.get_num_threads()
    logging.disable(logging.INFO)  # Snorkel logs its steps on the root logger
    torch.set_num_threads(1)  # the matrices are tiny: more threads only add overhead (several times slower)
    try:
        with torch.random.fork_rng(devices=[]):
            model = LabelModel(cardinality=cardinality, verbose=False, device="cpu")
            model.fit(L, n_epochs=epochs, lr=lr, seed=seed, progress_bar=False)
    finally:
        torch.set_num_threads(threads)
        logging.disable(was_disabled)
        random.setstate(py_state)
        np.random.set_state(np_state)
    return model


def make_aggregator(method: str, order: Sequence[str], labels: Sequence[str] = (),
                    fit_rows: Sequence[Votes] | None = None, seed: int = 0) -> VoteAggregator:
    """A callable ``votes -> label or None`` for ``method``; ``label_model`` is fitted on ``fit_rows``
    (the votes of the units to be labelled, or of any other units: no gold is read)."""
    check_aggregator(method)
    if method in PER_UNIT:
        names = list(order)
        return lambda votes: aggregate(votes, names, method)
    if fit_rows is None:
        raise KpstanceError("rules.aggregator: label_model needs the units' votes to fit on (fit_rows)")
    return LabelModelAggregator(order, labels, fit_rows, seed)
