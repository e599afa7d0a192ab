"""Which units to label first: a priority order per strategy, then a per-article cap so the batch is diverse.

Every strategy only orders candidates; ``pick`` then walks that order and takes a unit unless its
article already holds its share of the batch. The share is ``max(1, ceil(n / articles))``, where
``articles`` counts the articles that have candidates at all; when short articles cannot fill their
share, the rest of the batch is filled from the remaining units in the same priority order, so a
batch is never smaller than ``min(n, candidates)``.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import KpstanceError

STRATEGIES = ("uncertainty", "disagreement", "random")


@dataclass(frozen=True)
class Candidate:
    """What the ranking needs to know of one unit."""

    id: str
    article: str
    margin: float  # calibrated top1 - top2 probability, the lower of the two heads
    disagreements: int = 0  # heads (actor, stance) on which the rules and the model differ

    @classmethod
    def of(cls, uid: str, article: str, pred: Mapping, rules: tuple[str, str]) -> Candidate:
        """A unit as the model (a predictor's output dict, calibrated) and the rules (actor, stance) see it."""
        return cls(uid, article, unit_margin(pred["actor_probs"], pred["stance_probs"]),
                   (rules[0] != pred["actor"]) + (rules[1] != pred["stance"]))


def margin(probs: Mapping[str, float] | Sequence[float]) -> float:
    """Top-1 minus top-2 probability: near 0 when the model hesitates between two labels."""
    values = sorted(probs.values() if isinstance(probs, Mapping) else probs, reverse=True)
    if not values:
        raise ValueError("empty distribution")
    return float(values[0] - (values[1] if len(values) > 1 else 0.0))


def unit_margin(actor_probs: Mapping[str, float], stance_probs: Mapping[str, float]) -> float:
    """A unit is as uncertain as its less certain head."""
    return min(margin(actor_probs), margin(stance_probs))


def priority(cands: Sequence[Candidate], strategy: str, seed: int = 0) -> list[int]:
    """Candidate indices, most worth labelling first.

    ``uncertainty``: lowest margin first. ``disagreement``: units on which the rules and the model differ
    on both heads, then on one head, then the rest; ties by margin. ``random``: a permutation drawn from
    ``seed``. Remaining ties keep input order, so the result is deterministic.
    """
    idx = list(range(len(cands)))
    if strategy == "uncertainty":
        return sorted(idx, key=lambda i: (cands[i].margin, i))
    if strategy == "disagreement":
        return sorted(idx, key=lambda i: (-cands[i].disagreements, cands[i].margin, i))
    if strategy == "random":
        random.Random(seed).shuffle(idx)
        return idx
    raise KpstanceError(f"unknown strategy '{strategy}' (known: {', '.join(STRATEGIES)})")


def article_cap(n: int, cands: Sequence[Candidate]) -> int:
    """The most units one article may give a batch of ``n`` before the other articles have had their share."""
    articles = len({c.article for c in cands})
    return max(1, math.ceil(n / max(1, articles)))


def pick(cands: Sequence[Candidate], n: int, strategy: str, seed: int = 0) -> list[int]:
    """The indices of the ``n`` units to label, in priority order, no article above its share (see module doc)."""
    if n < 1:
        raise KpstanceError(f"--n must be at least 1, got {n}")
    order = priority(cands, strategy, seed)
    cap = article_cap(n, cands)
    taken: list[int] = []
    per_article: Counter[str] = Counter()
    for i in order:
        if len(taken) == n:
            break
        if per_article[cands[i].article] < cap:
            taken.append(i)
            per_article[cands[i].article] += 1
    if len(taken) < n:  # short articles left room: fill it in priority order
        chosen = set(taken)
        taken += [i for i in order if i not in chosen][: n - len(taken)]
        rank = {i: r for r, i in enumerate(order)}
        taken.sort(key=rank.__getitem__)
    return taken
