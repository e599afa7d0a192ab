"""Combine the labeling functions' votes into one label."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..errors import KpstanceError

AGGREGATORS = ("majority", "priority")


def aggregate(votes: dict[str, str | None], order: Sequence[str], method: str = "majority") -> str | None:
    """Combine the votes of the functions in ``order``.

    majority: the most frequent label, ties broken by the earliest function in ``order``;
    priority: the first function in ``order`` that did not abstain.
    """
    if method not in AGGREGATORS:
        raise KpstanceError(f"rules.aggregator: unknown aggregator '{method}' (known: {', '.join(AGGREGATORS)})")
    fired = [(name, votes[name]) for name in order if votes.get(name) is not None]
    if not fired:
        return None
    if method == "priority":
        return fired[0][1]
    counts = Counter(label for _, label in fired)
    best = max(counts.values())
    return next(label for _, label in fired if counts[label] == best)
