"""How each labeling function behaves: coverage, overlaps, conflicts, and precision against gold (Snorkel-style).

Precision is measured on the run's own gold (the seed article) and, when given, on the multi-source
dev sentences: one article is too few units to tell a good rule from a lucky one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..text.segment import Unit
from .label import SilverLabel, label_units
from .scheme import LabelScheme

# The functions' votes on a second gold set, with that gold by unit id.
DevVotes = tuple[Sequence[SilverLabel], Mapping[str, dict]]


def _votes_attr(group: str) -> str:
    return "actor_votes" if group == "actor" else "stance_votes"


def _precision(silver: Sequence[SilverLabel], gold: Mapping[str, dict], group: str, name: str) -> dict[str, Any]:
    """How often function ``name`` was right where it fired on a unit with gold."""
    votes = [(getattr(s, _votes_attr(group)).get(name), gold.get(s.id)) for s in silver]
    judged = [(v, g[group]) for v, g in votes if v is not None and g is not None]
    correct = sum(v == g for v, g in judged)
    return {"n_gold": len(judged), "correct": int(correct), "precision": (correct / len(judged)) if judged else None}


def lf_analysis(silver: Sequence[SilverLabel], gold: Mapping[str, dict] | None, group: str,
                dev: DevVotes | None = None) -> list[dict]:
    """One row per labeling function of ``group`` (actor or stance); with ``dev`` (from ``dev_votes``),
    also ``dev_coverage``, ``dev_n_gold``, ``dev_correct`` and ``dev_precision`` beside the article's."""
    if not silver:
        return []
    votes_attr = _votes_attr(group)
    names = list(getattr(silver[0], votes_attr))
    L = np.array([[getattr(s, votes_attr)[n] or "" for n in names] for s in silver], dtype=object)
    fired = L != ""
    rows = []
    for j, n in enumerate(names):
        others = np.delete(fired, j, axis=1)
        other_labels = np.delete(L, j, axis=1)
        cov = fired[:, j]
        overlap = cov & others.any(axis=1)
        conflict = cov & np.array(
            [any(o and o != L[i, j] for o in other_labels[i]) for i in range(len(silver))], dtype=bool
        )
        row = {
            "group": group,
            "lf": n,
            "polarity": ",".join(sorted({x for x in L[cov, j]})),
            "coverage": float(cov.mean()),
            "overlaps": float(overlap.mean()),
            "conflicts": float(conflict.mean()),
            "n_fired": int(cov.sum()),
        }
        if gold:
            row.update(_precision(silver, gold, group, n))
        if dev is not None:
            dev_silver, dev_gold = dev
            fired_dev = sum(getattr(s, votes_attr).get(n) is not None for s in dev_silver)
            row["dev_coverage"] = fired_dev / len(dev_silver) if dev_silver else None
            row.update({f"dev_{k}": v for k, v in _precision(dev_silver, dev_gold, group, n).items()})
        rows.append(row)
    return rows


def dev_votes(records: Sequence[dict], scheme: LabelScheme, rules: Any) -> DevVotes | None:
    """The functions' votes on gold sentence records (the multi-source dev split, never test), each read alone,
    and their gold, for ``lf_analysis``."""
    if not records:
        return None
    units = [Unit.of_text(r["text"], r["id"], r["id"], r.get("kind", "sentence")) for r in records]
    silver = label_units(units, scheme, list(rules.actor_lfs), list(rules.stance_lfs), str(rules.aggregator))
    return silver, {r["id"]: r for r in records}
