"""Stance shares that correct for the classifier's errors, with intervals a researcher can publish.

A share computed by counting a classifier's labels is biased wherever the classifier errs unevenly:
what a researcher reports is the proportion, and the proportion is what must be estimated well
(Hopkins and King, AJPS 2010). Three estimators, each from per-article counts:

- ``cc``, classify and count: the share of units given each stance;
- ``pcc``, probabilistic classify and count: the mean calibrated probability of each stance;
- ``acc``, adjusted classify and count (Forman 2008): the counted shares ``q`` corrected by the stance
  confusion matrix ``M`` measured on dev gold, ``M[i, j] = P(predicted i | true j)``, solving ``M p = q``
  and clipping into [0, 1].

Intervals: sentences of one article are not independent, so the bootstrap draws whole articles: each article
gets a Poisson(1) weight per replicate (the bootstrap of a data stream, so memory holds replicate sums, never the
articles); for ``acc`` each replicate also redraws the dev reports the confusion matrix was measured on, so its
uncertainty enters the interval.

The bootstrap alone sees only which articles were drawn, not the classifier's errors: a count of wrong labels is
wrong in every replicate alike. Where the table holds the calibrated stance probabilities, ``cc`` and ``pcc`` also
carry the errors as those probabilities see them (``classifier_error``): each unit's true stance is uncertain
(variance ``p (1 - p)`` a unit), and the counted shares miss the expected ones by ``cc - pcc``, which ``cc``'s
interval takes as its bias (a bias-aware interval: the bootstrap's half-widths widened by the root of both terms).
Measured on dated gold (docs/results.md), this is what brings their coverage up to the nominal level.
"""

from __future__ import annotations

import hashlib
import statistics
import warnings
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


def adjust(q: np.ndarray, m: np.ndarray | None = None, inverse: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted shares for counted shares ``q[..., S]`` and matrices ``m[..., S, S]`` (or their pseudo-inverses,
    computed once by the caller), broadcast: the least-squares solution of ``m p = q``, clipped into [0, 1] and
    renormalised; also whether it had to be clipped."""
    inv = np.linalg.pinv(m) if inverse is None else inverse
    p = (inv @ q[..., None])[..., 0]
    clipped = ((p < -1e-9) | (p > 1 + 1e-9)).any(-1)
    p = np.clip(p, 0.0, 1.0)
    total = p.sum(-1, keepdims=True)
    p = np.where(total > 0, p / np.where(total > 0, total, 1), q)
    return p, clipped


@dataclass
class CellEstimate:
    """One actor × period: units, articles, and per estimator the shares with their interval bounds."""

    units: int
    articles: int
    shares: dict[str, np.ndarray]  # estimator -> (S,)
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    net: dict[str, tuple[float, float, float]]  # estimator -> net index, its low and high
    clipped: bool = False  # acc's point estimate had to be clipped into [0, 1]


def article_hash(article: str) -> int:
    """A stable 64-bit key of an article id (Python's own hash changes from run to run)."""
    return int.from_bytes(hashlib.blake2b(article.encode("utf-8"), digest_size=8).digest(), "big")


def poisson_weights(article: str, seed: int, n_boot: int) -> np.ndarray:
    """How many times an article is drawn in each replicate: Poisson(1) weights, the bootstrap of a stream
    (Hanley and MacGibbon 2006), drawn from the article's id and the seed, so an article gets the same weights
    wherever its rows are, and memory never holds the articles."""
    return np.random.default_rng([seed, article_hash(article)]).poisson(1.0, n_boot).astype(float)


def classifier_error(counts: np.ndarray, probs: np.ndarray, outer: np.ndarray, net: tuple[int, int] | None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """What the calibrated probabilities say of the counted shares' error, per actor: the variance of the true
    shares given the probabilities (``sum of p (1 - p)`` over units, over n squared), the bias of counting
    (``cc - pcc``), and the same two for the net index (None without one). ``outer[actor]`` sums ``p p^T`` over
    the actor's units, so the net index's variance counts that one unit's stances exclude each other."""
    n = counts.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (np.einsum("as,st->ast", probs, np.eye(probs.shape[-1])) - outer) / (n ** 2)[:, None, None]
        var = np.clip(np.diagonal(cov, axis1=-2, axis2=-1), 0.0, None)
        bias = (counts - probs) / n[:, None]
    if net is None:
        return var, bias, None, None
    h, d = net
    net_var = np.clip(cov[:, h, h] + cov[:, d, d] - 2 * cov[:, h, d], 0.0, None)
    return var, bias, net_var, bias[:, h] - bias[:, d]


def widen(point: np.ndarray, low: np.ndarray, high: np.ndarray, var: np.ndarray, bias: np.ndarray, z: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap's bounds widened by the classifier's error: each half-width becomes the root of its square
    plus ``z^2 var + bias^2`` (the bootstrap's own asymmetry kept), clipped into [-1, 1] (the net index) or
    [0, 1] (shares) by the caller's bounds."""
    extra = z * z * var + bias * bias
    return point - np.sqrt((point - low) ** 2 + extra), point + np.sqrt((high - point) ** 2 + extra)


def estimate_period(counts: np.ndarray, probs: np.ndarray | None, boot_counts: np.ndarray,
                    boot_probs: np.ndarray | None, articles: np.ndarray, estimators: Sequence[str],
                    inverse: np.ndarray | None = None, boot_inverse: np.ndarray | None = None,
                    net: tuple[int, int] | None = None, level: float = 0.95, outer: np.ndarray | None = None
                    ) -> list[CellEstimate | None]:
    """Every actor's estimates in one period, from ``counts[actor, stance]`` (units labelled each stance),
    ``probs`` (sums of their stance probabilities; None when the table has none), the same summed in each bootstrap
    replicate (``boot_counts[replicate, actor, stance]``), and the articles per actor. ``inverse`` and
    ``boot_inverse`` are the pseudo-inverses of the dev confusion matrix and of its replicates (acc). ``outer``
    (the sums of ``p p^T``, with ``probs``) widens the intervals of cc and pcc by the classifier's error
    (``classifier_error``); without it they carry the sampling of articles alone. An actor without units gets None
    (an empty row, never zeros). ``net`` gives the indices of the coercive and the de-escalating stance, whose
    difference of shares is the net index."""
    tail = (1 - level) / 2 * 100
    n = counts.sum(-1)
    nb = boot_counts.sum(-1, keepdims=True)
    point: dict[str, np.ndarray] = {}
    reps: dict[str, np.ndarray] = {}
    clipped = np.zeros(len(n), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: actors without units
        q = counts / n[:, None]
        qb = boot_counts / nb
        for est in estimators:
            if est == "cc":
                point[est], reps[est] = q, qb
            elif est == "pcc" and probs is not None and boot_probs is not None:
                point[est], reps[est] = probs / n[:, None], boot_probs / nb
            elif est == "acc" and inverse is not None and boot_inverse is not None:
                point[est], clipped = adjust(q, inverse=inverse)
                reps[est] = adjust(qb, inverse=boot_inverse[:, None])[0]
                reps[est][~np.isfinite(qb).all(-1)] = np.nan
        bounds = {e: np.nanpercentile(r, [tail, 100 - tail], axis=0) for e, r in reps.items()}
        nets = {}
        if net is not None:
            h, d = net
            nets = {e: (point[e][:, h] - point[e][:, d],
                        np.nanpercentile(r[..., h] - r[..., d], [tail, 100 - tail], axis=0))
                    for e, r in reps.items()}
        if outer is not None and probs is not None:
            z = statistics.NormalDist().inv_cdf(1 - (1 - level) / 2)
            var, bias, net_var, net_bias = classifier_error(counts, probs, outer, net)
            for est in ("cc", "pcc"):
                if est not in bounds:
                    continue
                b = bias if est == "cc" else np.zeros_like(bias)  # pcc is the expected share: no bias to add
                low, high = widen(point[est], *bounds[est], var, b, z)
                bounds[est] = np.stack([np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)])
                if est in nets and net_var is not None:
                    v, (lo, hi) = nets[est]
                    nbias = net_bias if est == "cc" else np.zeros_like(net_bias)
                    lo, hi = widen(v, lo, hi, net_var, nbias, z)
                    nets[est] = (v, np.stack([np.clip(lo, -1.0, 1.0), np.clip(hi, -1.0, 1.0)]))
    out: list[CellEstimate | None] = []
    for k in range(len(n)):
        if n[k] == 0:
            out.append(None)
            continue
        out.append(CellEstimate(int(n[k]), int(articles[k]), {e: v[k] for e, v in point.items()},
                                {e: b[0, k] for e, b in bounds.items()}, {e: b[1, k] for e, b in bounds.items()},
                                {e: (float(v[k]), float(b[0, k]), float(b[1, k])) for e, (v, b) in nets.items()},
                                bool(clipped[k]) if "acc" in point else False))
    return out


def dev_matrices(dev: DevConfusion, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """One confusion matrix per replicate, from the dev reports drawn with replacement: ``(n_boot, S, S)``."""
    r = dev.n_reports
    w = rng.multinomial(r, np.full(r, 1.0 / r), size=n_boot).astype(float)
    return conditional(np.einsum("br,rts->bts", w, dev.counts))


def net_indices(stances: Sequence[str], roles: Mapping[str, str]) -> tuple[int, int] | None:
    """Where the coercive and the de-escalating stance sit in the scheme's order (None if it lacks one): the net
    index (hardline − conciliatory) / all units is the difference of their shares."""
    hard, soft = roles.get("coercive"), roles.get("deescalating")
    if hard not in stances or soft not in stances:
        return None
    return list(stances).index(hard), list(stances).index(soft)
