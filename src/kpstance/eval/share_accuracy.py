"""How well each estimator recovers the gold stance shares: measured on dated gold, not assumed.

The model labels the gold corpus's dev and test units (as the evaluation reads them); per split, actor and
period the estimators' shares are compared with the gold shares of the units whose gold actor is that actor.
Nothing is fitted on the units it is scored on: a dev cell is corrected with the confusion matrix and the
temperature measured on the test split, a test cell with those of the dev split (cross-fitting).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..corpora import gold_units
from ..errors import KpstanceError
from .calibration import fit_temperature, scale
from .shares import ESTIMATORS
from .summary import Counts, Labels, dev_confusion, estimate, predict_gold

SPLITS = ("dev", "test")
# where counting's error comes from (``sources=True``): counting with the gold actors (the model's stances, each unit
# in its gold actor's cell) leaves the error of the stances alone; counting the gold stances of the model's cells
# leaves the error of the units the model gives to the wrong actor alone. Diagnostics, not estimators
GOLD_ACTORS = "cc, gold actors"
GOLD_STANCES = "cc, gold stances"


def cross_fitted(rows: list[dict], stances: Sequence[str], temperature: float) -> dict[str, float]:
    """Rescale each split's stance probabilities to the temperature fitted on the other split; returns the
    temperatures used, by the split they were applied to."""
    index = {s: i for i, s in enumerate(stances)}
    raw = {sp: [r for r in rows if r.get("split") == sp] for sp in SPLITS}
    arrays = {sp: scale(np.array([[r["stance_probs"][s] for s in stances] for r in rs]), 1.0 / temperature)
              for sp, rs in raw.items() if rs}
    fitted = {sp: fit_temperature(arrays[sp], [index[r["gold_stance"]] for r in raw[sp]]) for sp in arrays}
    used = {}
    for sp, other in (("dev", "test"), ("test", "dev")):
        if sp not in arrays or other not in fitted:
            continue
        used[sp] = fitted[other]
        for r, p in zip(raw[sp], scale(arrays[sp], fitted[other])):
            r["stance_probs"] = dict(zip(stances, map(float, p)))
    return used


def share_accuracy(predictor: Any, gold: str | os.PathLike, by: Sequence[str] = ("year", "half"), min_units: int = 10,
                   n_boot: int = 1000, seed: int = 0, batch_size: int = 64, sources: bool = False) -> tuple[Any, Any]:
    """(cells, summary) DataFrames. ``cells``: one row per split × period grain × actor × period × estimator ×
    stance with at least ``min_units`` gold units, the estimate, its interval and the gold share. ``summary``: per
    grain and estimator, the cells, the mean absolute error in share points, the coverage of the intervals, and
    the same for the net index. ``sources`` adds the two diagnostic rows ``GOLD_ACTORS`` and ``GOLD_STANCES``,
    which split counting's error between the stances and the actors."""
    import pandas as pd

    lab = Labels.of(predictor.scheme())
    recs = [r for r in gold_units(gold, split=None) if r.get("split") in SPLITS and r.get("date")]
    unknown = {r["stance"] for r in recs} - set(lab.stances)
    if unknown:
        raise KpstanceError(f"{gold}: stance {', '.join(sorted(unknown))} is not one of the model's")
    rows = predict_gold(predictor, recs, batch_size, probs=True)
    temps = cross_fitted(rows, lab.stances, float(predictor.temperature["stance"]))
    out = []
    for split in SPLITS:
        mine = [r for r in rows if r.get("split") == split]
        other = [r for r in rows if r.get("split") != split]
        if not mine or not other:
            continue
        dev = dev_confusion(other, lab, f"{gold} ({'test' if split == 'dev' else 'dev'} split)")
        for grain in by:
            model = Counts(lab, grain, n_boot=n_boot, seed=seed)
            truth = Counts(lab, grain, n_boot=10, seed=seed)
            gold_actors = Counts(lab, grain, n_boot=n_boot, seed=seed) if sources else None
            gold_stances = Counts(lab, grain, n_boot=n_boot, seed=seed) if sources else None
            for r in mine:
                model.add(r)
                truth.add({**r, "actor": r["gold_actor"], "stance": r["gold_stance"], "stance_probs": None})
                if sources:
                    gold_actors.add({**r, "actor": r["gold_actor"]})
                    gold_stances.add({**r, "stance": r["gold_stance"], "stance_probs": None})
            est = estimate(model, ESTIMATORS, dev)
            if sources:
                est = pd.concat([est, estimate(gold_actors, ["cc"], None).assign(estimator=GOLD_ACTORS),
                                 estimate(gold_stances, ["cc"], None).assign(estimator=GOLD_STANCES)],
                                ignore_index=True)
            ref = estimate(truth, ["cc"], None).set_index(["actor", "period"])
            for _, e in est.iterrows():
                key = (e.actor, e.period)
                if key not in ref.index or ref.loc[key, "units"] < min_units:
                    continue
                g = ref.loc[key]
                for s in [*lab.stances, "net"]:
                    out.append({"split": split, "grain": grain, "actor": e.actor, "period": e.period,
                                "estimator": e.estimator, "stance": s, "gold_units": int(g["units"]),
                                "units": int(e.units), "gold": float(g[s]), "estimate": float(e[s]),
                                "low": float(e[f"{s}_low"]), "high": float(e[f"{s}_high"]),
                                "temperature": temps.get(split)})
    cells = pd.DataFrame(out)
    if cells.empty:
        return cells, cells
    # a cell the model gave no unit of the actor has no estimate, one of a single article no interval: both are
    # counted apart, never as errors of zero or as misses
    cells["error"] = (cells.estimate - cells.gold).abs()
    cells["covered"] = ((cells.low <= cells.gold + 1e-9) & (cells.gold <= cells.high + 1e-9)).where(cells.low.notna())
    return cells, summarise(cells, ["grain", "estimator"])


def summarise(cells: Any, keys: Sequence[str]) -> Any:
    """Per ``keys``: cells scored, share MAE and coverage, the same for the net index, and the cells without an
    estimate or without an interval."""
    shares = cells[cells.stance != "net"]
    net = cells[cells.stance == "net"]
    n_stances = shares.stance.nunique()
    summary = (shares.groupby(list(keys), sort=False)
               .agg(cells=("period", "size"), mae=("error", "mean"), coverage=("covered", "mean"),
                    no_estimate=("estimate", lambda v: int(v.isna().sum())),
                    no_interval=("covered", lambda v: int(v.isna().sum())))
               .join(net.groupby(list(keys), sort=False)
                     .agg(net_mae=("error", "mean"), net_coverage=("covered", "mean"))))
    for c in ("cells", "no_estimate", "no_interval"):
        summary[c] = summary[c] // n_stances
    return summary.reset_index()
