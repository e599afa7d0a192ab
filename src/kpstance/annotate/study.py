"""The simulated annotation study: is a label chosen by uncertainty or disagreement worth more than one at random?

A base model (trained without the multi-source train split) labels nothing; the train split is the pool.
Each round, a strategy picks a batch from the units still unlabelled with the current model and the rules,
through the same ``pick`` as ``kpstance annotate export``; the batch is "annotated" with its gold labels; the
model is retrained from the base on every unit labelled so far, with a replay sample of synthetic units so that
a few dozen real units do not make it forget the rest; its temperatures are refitted on dev (selection reads
calibrated margins) and dev is scored. ``scripts/annotation_study.py`` runs it and writes the plot and table.

Retraining continues from the base model instead of repeating the whole run (minutes per round on two cores),
which makes every round cheap enough for three strategies, several seeds and many rounds.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..eval.calibration import fit_temperature
from ..eval.metrics import score
from ..systems.predictor import StancePredictor
from ..text.segment import Unit
from ..weak.scheme import LabelScheme
from .select import Candidate, pick

log = logging.getLogger("kpstance")
METRICS = ("dev_actor_macro_f1", "dev_stance_macro_f1", "dev_joint_accuracy")


@dataclass
class Pool:
    """The units a strategy may pick from, with their gold labels, model contexts, articles and rule labels."""

    units: list[Unit]
    labels: list[tuple[str, str]]
    contexts: list[str] | None
    articles: list[str]
    rules: list[tuple[str, str]]


@dataclass
class Labelled:
    """Held-out units with gold labels (dev), or training units (the replay sample's source)."""

    units: list[Unit]
    labels: list[tuple[str, str]]
    contexts: list[str] | None = None


@dataclass
class StudySettings:
    rounds: int = 8
    batch: int = 25
    epochs: int = 2
    lr: float = 1e-4
    batch_size: int = 32
    replay: int = 100  # synthetic units trained beside the labelled units
    fixed_replay: bool = False  # true: one replay sample per seed for every round; false: drawn afresh each round
    predict_batch_size: int = 64
    strategies: tuple[str, ...] = ("uncertainty", "disagreement", "random")
    all_labels: bool = True  # also train on the whole pool: the curve's ceiling


def calibrated(predictor: StancePredictor, dev: Labelled, scheme: LabelScheme) -> dict[str, float]:
    """Fit one temperature per head on dev (as a run does: selection reads calibrated margins); return dev's
    metrics (temperature changes no label, so one prediction serves both)."""
    predictor.temperature = {"actor": 1.0, "stance": 1.0}
    preds = predictor.predict([u.text for u in dev.units], contexts=dev.contexts)
    for head, labels in (("actor", predictor.actors), ("stance", predictor.stances)):
        probs = np.array([[p[f"{head}_probs"][lab] for lab in labels] for p in preds])
        gold = [labels.index(g[0] if head == "actor" else g[1]) for g in dev.labels]
        predictor.temperature[head] = fit_temperature(probs, gold)
    metrics = score(dev.labels, [(p["actor"], p["stance"]) for p in preds], scheme, "dev_")
    return {k: metrics[k] for k in METRICS}


def candidates(predictor: StancePredictor, pool: Pool, todo: Sequence[int], batch_size: int) -> list[Candidate]:
    """What ``pick`` needs of every unlabelled unit: its calibrated margin and how far the rules disagree."""
    ctx = [pool.contexts[i] for i in todo] if pool.contexts is not None else None
    preds = predictor.predict([pool.units[i].text for i in todo], batch_size, contexts=ctx)
    return [Candidate.of(pool.units[i].id, pool.articles[i], p, pool.rules[i]) for i, p in zip(todo, preds)]


def simulate(base: Callable[[], tuple[Any, Any]], pool: Pool, dev: Labelled, replay: Labelled,
             scheme: LabelScheme, trainer_cfg: Any, settings: StudySettings, seed: int,
             max_length: int = 128) -> dict[str, list[dict]]:
    """Every strategy's learning curve from one base model: per strategy, a list of ``{"labels": n, **dev metrics,
    "batch": ids picked that round}``, the base first (0 labels); and ``"all"``, the whole pool's point.

    ``base()`` returns a fresh (model, tokenizer) of the base each time it is called; ``trainer_cfg`` is the run's
    trainer config, of which the settings' epochs, lr and batch size replace their namesakes.
    """
    from omegaconf import OmegaConf

    from ..systems.finetune import fine_tune
    from ..systems.heads import HeadLayout
    from ..systems.transformer import masked_inputs

    layout = HeadLayout.from_scheme(scheme)
    a2i = {a: i for i, a in enumerate(layout.actors)}
    s2i = {s: i for i, s in enumerate(layout.stances)}
    tcfg = OmegaConf.merge(trainer_cfg, {"epochs": settings.epochs, "lr": settings.lr, "max_steps": -1,
                                         "batch_size": settings.batch_size, "checkpoint_every": 0})

    def predictor_of(model: Any, tok: Any) -> StancePredictor:
        return StancePredictor(model, tok, max_length, str(next(model.parameters()).device.type))

    def retrain(picked: Sequence[int], round_seed: int, description: str) -> StancePredictor:
        """The base fine-tuned on the ``picked`` pool units and a replay sample drawn from ``round_seed``."""
        extra = random.Random(round_seed).sample(range(len(replay.units)), min(settings.replay, len(replay.units)))
        units = [pool.units[i] for i in picked] + [replay.units[i] for i in extra]
        labels = [pool.labels[i] for i in picked] + [replay.labels[i] for i in extra]
        ctx = None
        if pool.contexts is not None and replay.contexts is not None:
            ctx = [pool.contexts[i] for i in picked] + [replay.contexts[i] for i in extra]
        model, tok = base()
        texts = [u.text for u in units]
        fine_tune(model, tok, texts, [a2i[a] for a, _ in labels], [s2i[s] for _, s in labels],
                  layout, tcfg, seed, max_length, description, None, pairs=ctx,
                  masked=masked_inputs(scheme, tcfg, False, texts, ctx))
        return predictor_of(model, tok)

    start = predictor_of(*base())
    start_metrics = calibrated(start, dev, scheme)
    start_temps = dict(start.temperature)
    log.info("seed %d: base model %s", seed, _fmt(start_metrics))
    curves: dict[str, list[dict]] = {}
    for strategy in settings.strategies:
        predictor, labelled = start, []
        predictor.temperature = dict(start_temps)
        curve = [{"labels": 0, **start_metrics}]
        for r in range(1, settings.rounds + 1):
            taken = set(labelled)
            todo = [i for i in range(len(pool.units)) if i not in taken]
            if not todo:
                break
            if strategy == "random":  # the model's view is not needed: no prediction of the pool
                cands = [Candidate(pool.units[i].id, pool.articles[i], 0.0) for i in todo]
            else:
                cands = candidates(predictor, pool, todo, settings.predict_batch_size)
            batch = [todo[j] for j in pick(cands, settings.batch, strategy, seed * 1000 + r)]
            labelled += batch
            predictor = retrain(labelled, seed * 1000 + (0 if settings.fixed_replay else r), f"{strategy} round {r}")
            metrics = calibrated(predictor, dev, scheme)
            curve.append({"labels": len(labelled), **metrics, "batch": [pool.units[i].id for i in batch]})
            log.info("seed %d %s: %d labels %s", seed, strategy, len(labelled), _fmt(metrics))
        curves[strategy] = curve
    if settings.all_labels:  # the ceiling: every pool unit labelled, trained the same way
        metrics = calibrated(retrain(range(len(pool.units)), seed * 1000, "whole pool"), dev, scheme)
        curves["all"] = [{"labels": len(pool.units), **metrics}]
        log.info("seed %d whole pool: %d labels %s", seed, len(pool.units), _fmt(metrics))
    return curves


def _fmt(m: Mapping[str, float]) -> str:
    return " ".join(f"{k.removeprefix('dev_')} {m[k]:.3f}" for k in METRICS)


def mean_curves(runs: Sequence[Mapping[str, list[dict]]], metric: str) -> dict[str, list[tuple[int, float, float]]]:
    """Per strategy, (labels, mean, sample std over seeds) at every round all seeds reached."""
    out: dict[str, list[tuple[int, float, float]]] = {}
    for strategy in runs[0]:
        if strategy == "all":
            continue
        n = min(len(r[strategy]) for r in runs)
        rows = []
        for k in range(n):
            values = np.array([r[strategy][k][metric] for r in runs])
            std = float(values.std(ddof=1)) if len(values) > 1 else 0.0  # sample std: three seeds are few
            rows.append((int(runs[0][strategy][k]["labels"]), float(values.mean()), std))
        out[strategy] = rows
    return out


def area_under(runs: Sequence[Mapping[str, list[dict]]], metric: str) -> dict[str, tuple[float, float]]:
    """Per strategy, the mean of ``metric`` over its labelled rounds (the base left out), then mean and sample std
    over seeds: one figure per strategy that a single lucky or unlucky round moves little."""
    out = {}
    for strategy in runs[0]:
        if strategy == "all":
            continue
        values = np.array([np.mean([row[metric] for row in r[strategy][1:]]) for r in runs])
        out[strategy] = (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0)
    return out


def labels_to_reach(curve: Sequence[tuple[int, float, float]], target: float) -> int | None:
    """The fewest labels at which a mean curve reaches ``target`` (None: never within the study)."""
    return next((n for n, mean, _ in curve if mean >= target - 1e-12), None)
