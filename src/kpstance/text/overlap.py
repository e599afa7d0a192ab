"""Token overlap (Jaccard) between sentences: the leak guard that keeps training text away from held-out gold."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

TOKEN_RE = re.compile(r"\w+(?:[-'’]\w+)*")


def tokens(text: str) -> frozenset[str]:
    return frozenset(t.lower() for t in TOKEN_RE.findall(text))


def jaccard(a: str | frozenset[str], b: str | frozenset[str]) -> float:
    ta = a if isinstance(a, frozenset) else tokens(a)
    tb = b if isinstance(b, frozenset) else tokens(b)
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def max_overlap(texts: Iterable[str], references: Sequence[str]) -> list[float]:
    """For each text, its highest Jaccard token overlap with any reference sentence."""
    refs = [tokens(r) for r in references]
    out = []
    for t in texts:
        tt = tokens(t)  # once per text, not once per reference
        out.append(max((jaccard(tt, r) for r in refs), default=0.0))
    return out


def drop_leaks(texts: Sequence[str], references: Sequence[str], threshold: float) -> list[int]:
    """Indices of ``texts`` whose overlap with every reference stays below ``threshold``."""
    return [i for i, o in enumerate(max_overlap(texts, references)) if o < threshold]
