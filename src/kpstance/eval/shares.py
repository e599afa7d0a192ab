"""Stance shares that correct for the classifier's errors, with intervals a researcher can publish.

A share computed by counting a classifier's labels is biased wherever the classifier errs unevenly:
what a researcher reports is the proportion, and the proportion is what must be estimated well
(Hopkins and King, AJPS 2010). Three estimators, each from per-article counts:

- ``cc``, classify and count: the share of units given each stance;
- ``pcc``, probabilistic classify and count: the mean calibrated probability of each stance;
- ``acc``, adjusted classify and count (Forman 2008): the counted shares ``q`` corrected by the stance
  confusion matrix ``M`` measured on dev gold, ``M[i, j] = P(predicted i | true j)``, solving ``M p = q``
  and clipping into [0, 1].

Intervals: sentences of one article are not independent, so the bootstrap resamples whole articles
(within each period); for ``acc`` each replicate also resamples the dev reports the confusion matrix was
measured on, so its uncertainty enters the interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ESTIMATORS = ("cc", "pcc", "acc")
# below this smallest singular value the confusion matrix amplifies counting noise more than tenfold
NEAR_SINGULAR = 0.1


@dataclass
class DevConfusion:
    """Stance confusion counts on dev gold, one matrix per dev report: ``counts[r, true, predicted]``."""

    counts: np.ndarray
    stances: list[str]
    source: str = "dev gold"

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, str, str]], stances: Sequence[str], source: str = "dev gold"
                   ) -> DevConfusion:
        """From (report, gold stance, predicted stance) triples."""
        index = {s: i for i, s in enumerate(stances)}
        reports = {r: i for i, r in enumerate(dict.fromkeys(r for r, _, _ in pairs))}
        counts = np.zeros((len(reports), len(stances), len(stances)))
        for r, gold, pred in pairs:
            counts[reports[r], index[gold], index[pred]] += 1
        return cls(counts, list(stances), source)

    @property
    def n_units(self) -> int:
        return int(self.counts.sum())

    @property
    def n_reports(self) -> int:
        return int(self.counts.shape[0])

    def matrix(self) -> np.ndarray:
        return conditional(self.counts.sum(0))

    def missing(self) -> list[str]:
        """Stances no dev unit holds: their column of the matrix cannot be measured."""
        totals = self.counts.sum((0, 2))
        return [s for s, n in zip(self.stances, totals) if n == 0]

    def smallest_singular_value(self) -> float:
        return float(np.linalg.svd(self.matrix(), compute_uv=False).min())


def conditional(counts: np.ndarray) -> np.ndarray:
    """``M[..., i, j] = P(predicted i | true j)`` from ``counts[..., true, predicted]``; a true stance without
    units gets the identity column (nothing known of its errors: none assumed)."""
    totals = counts.sum(-1, keepdims=True)
    eye = np.broadcast_to(np.eye(counts.shape[-1]), counts.shape)
    rows = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), eye)
    return np.swapaxes(rows, -1, -2)


def adjust(q: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted shares for counted shares ``q[..., S]`` and matrices ``m[..., S, S]`` (broadcast): the
    least-squares solution of ``m p = q``, clipped into [0, 1] and renormalised; also whether it had to be
    clipped."""
    p = (np.linalg.pinv(m) @ q[..., None])[..., 0]
    clipped = ((p < -1e-9) | (p > 1 + 1e-9)).any(-1)
    p = np.clip(p, 0.0, 1.0)
    total = p.sum(-1, keepdims=True)
    p = np.where(total > 0, p / np.where(total > 0, total, 1), q)
    return p, clipped


@dataclass
class CellEstimate:
    """One actor × period: units, articles, and per estimator the shares with their 2.5 and 97.5 percentiles."""

    units: int
    articles: int
    shares: dict[str, np.ndarray]  # estimator -> (S,)
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    net: dict[str, tuple[float, float, float]]  # estimator -> net index, its low and high
    clipped: bool = False  # acc's point estimate had to be clipped into [0, 1]


def bootstrap_weights(n_articles: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How many times each article is drawn in each replicate, ``(n_boot, n_articles)``."""
    if n_articles == 0:
        return np.zeros((n_boot, 0))
    return rng.multinomial(n_articles, np.full(n_articles, 1.0 / n_articles), size=n_boot).astype(float)


def estimate_period(counts: np.ndarray, probs: np.ndarray | None, estimators: Sequence[str],
                    dev: DevConfusion | None, dev_boot: np.ndarray | None, n_boot: int, rng: np.random.Generator,
                    net: tuple[int, int] | None = None, level: float = 0.95) -> list[CellEstimate | None]:
    """Every actor's estimates in one period from per-article arrays ``counts[article, actor, stance]`` (units
    labelled each stance) and ``probs`` (sums of their stance probabilities; None when the table has none).
    ``dev_boot`` holds one resampled confusion matrix per replicate (``dev_matrices``). An actor without units
    in the period gets None (an empty row, never zeros). ``net`` gives the indices of the coercive and the
    de-escalating stance, for the net index (their difference of shares)."""
    w = bootstrap_weights(counts.shape[0], n_boot, rng)
    boot_counts = np.einsum("ba,aks->bks", w, counts)
    boot_probs = np.einsum("ba,aks->bks", w, probs) if probs is not None else None
    tail = (1 - level) / 2 * 100
    out: list[CellEstimate | None] = []
    for k in range(counts.shape[1]):
        c = counts[:, k, :]
        n = c.sum()
        if n == 0:
            out.append(None)
            continue
        nb = boot_counts[:, k, :].sum(-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            q_b = boot_counts[:, k, :] / nb
            point: dict[str, np.ndarray] = {}
            reps: dict[str, np.ndarray] = {}
            q = c.sum(0) / n
            clipped = False
            for est in estimators:
                if est == "cc":
                    point[est], reps[est] = q, q_b
                elif est == "pcc" and probs is not None and boot_probs is not None:
                    point[est], reps[est] = probs[:, k, :].sum(0) / n, boot_probs[:, k, :] / nb
                elif est == "acc" and dev is not None and dev_boot is not None:
                    point[est], flags = adjust(q, dev.matrix())
                    clipped = bool(flags)
                    reps[est] = adjust(q_b, dev_boot)[0]
                    reps[est][~np.isfinite(q_b).all(-1)] = np.nan
        low = {e: np.nanpercentile(r, tail, axis=0) for e, r in reps.items()}
        high = {e: np.nanpercentile(r, 100 - tail, axis=0) for e, r in reps.items()}
        nets = {}
        if net is not None:
            h, d = net
            for e, r in reps.items():
                diff = r[:, h] - r[:, d]
                nets[e] = (float(point[e][h] - point[e][d]), float(np.nanpercentile(diff, tail)),
                           float(np.nanpercentile(diff, 100 - tail)))
        articles = int((c.sum(-1) > 0).sum())
        out.append(CellEstimate(int(n), articles, point, low, high, nets, clipped))
    return out


def dev_matrices(dev: DevConfusion, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """One confusion matrix per replicate, from the dev reports drawn with replacement: ``(n_boot, S, S)``."""
    w = bootstrap_weights(dev.n_reports, n_boot, rng)
    return conditional(np.einsum("br,rts->bts", w, dev.counts))


def net_indices(stances: Sequence[str], roles: Mapping[str, str]) -> tuple[int, int] | None:
    """Where the coercive and the de-escalating stance sit in the scheme's order (None if it lacks one): the net
    index (hardline − conciliatory) / all units is the difference of their shares."""
    hard, soft = roles.get("coercive"), roles.get("deescalating")
    if hard not in stances or soft not in stances:
        return None
    return list(stances).index(hard), list(stances).index(soft)
