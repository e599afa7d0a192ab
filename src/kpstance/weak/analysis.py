"""How each labeling function behaves: coverage, overlaps, conflicts, and precision against gold (Snorkel-style)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .label import SilverLabel


def lf_analysis(silver: Sequence[SilverLabel], gold: dict[str, dict] | None, group: str) -> list[dict]:
    """One row per labeling function of ``group`` (actor or stance)."""
    if not silver:
        return []
    votes_attr = "actor_votes" if group == "actor" else "stance_votes"
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
            idx = [i for i, s in enumerate(silver) if cov[i] and s.id in gold]
            correct = sum(L[i, j] == gold[silver[i].id][group] for i in idx)
            row.update(n_gold=len(idx), correct=int(correct), precision=(correct / len(idx)) if idx else None)
        rows.append(row)
    return rows
