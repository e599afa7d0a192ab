"""Scores a user can trust: temperature scaling per head, expected calibration error, reliability diagrams.

Temperature scaling divides a head's logits by one number fitted on held-out data (the dev
split); it changes no argmax, only how sure the scores say the model is. It can be fitted
from probabilities alone, since ``softmax(log p / T) == softmax(z / T)`` for the logits ``z``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from ..files import save_figure

T_BOUNDS = (0.05, 20.0)


def scale(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities as the same logits divided by ``temperature`` would give them."""
    z = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, labels: Sequence[int]) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` (a bounded 1-D search)."""
    from scipy.optimize import minimize_scalar

    y = np.asarray(labels)
    if len(y) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        p = scale(probs, float(np.exp(log_t)))
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)).mean())

    res = minimize_scalar(nll, bounds=tuple(np.log(T_BOUNDS)), method="bounded")
    return round(float(np.exp(res.x)), 6)


def ece(probs: np.ndarray, labels: Sequence[int], bins: int = 15) -> float:
    """Expected calibration error: |accuracy - confidence| over equal-width confidence bins, weighted by size."""
    y = np.asarray(labels)
    if len(y) == 0:
        return float("nan")
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return round(float(total), 6)


def reliability_diagram(curves: dict[str, tuple[np.ndarray, Sequence[int]]], title: str, path: str | os.PathLike,
                        bins: int = 10) -> None:
    """Accuracy against confidence per bin, one line per named (probabilities, labels) pair, and the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], color="#999999", lw=1, ls="--", label="perfect")
    edges = np.linspace(0.0, 1.0, bins + 1)
    for name, (probs, labels) in curves.items():
        y = np.asarray(labels)
        conf = probs.max(axis=1)
        correct = probs.argmax(axis=1) == y
        which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
        xs = [conf[which == b].mean() for b in range(bins) if (which == b).any()]
        ys = [correct[which == b].mean() for b in range(bins) if (which == b).any()]
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece(probs, y):.3f})")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def keep_threshold(scores: Sequence[float], keep: float) -> float:
    """The score threshold that keeps the ``keep`` most confident share of units, rounded down to the 3 decimals a
    user types for ``--min-score`` (which keeps a unit whose score is at least the threshold)."""
    s = np.sort(np.asarray(scores, dtype=float))[::-1]
    if len(s) == 0:
        return float("nan")
    n = max(1, math.ceil(keep * len(s) - 1e-9))  # at least the share asked for (round(4.5) would keep 4 of 5)
    return math.floor(float(s[n - 1]) * 1000) / 1000
