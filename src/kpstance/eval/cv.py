"""Grouped cross-validation: each section of each article is held out once and predicted by a
system trained without it (and without any training sentence too close to it).

Finished folds are saved in the run's checkpoint folder, so an interrupted run resumes after
the last finished fold.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..files import fault, write_json
from ..systems.base import fit_fresh
from ..systems.registry import system_class
from ..text.segment import Unit
from ..weak.scheme import LabelScheme

log = logging.getLogger("kpstance")
Build = Callable[[Sequence[Unit], Sequence[str]], tuple[list[Unit], list[tuple[str, str]]]]


def groups(units: Sequence[Unit]) -> list[tuple[str, int]]:
    """The folds: one per (article, section)."""
    return sorted({(u.article_id, u.section) for u in units})


def cross_validate(cfg: Any, scheme: LabelScheme, units: Sequence[Unit], build: Build, ckpt: Path,
                   main: bool) -> dict[str, dict]:
    """A prediction dict for every unit, each from the fold that held out its section (rank 0 only)."""
    trainable = system_class(str(cfg.system.name)).trainable
    folds = groups(units)
    if len(folds) < 2:
        raise KpstanceError("cross-validation needs at least two sections; set evaluation.cv=false")
    out: dict[str, dict] = {}
    for k, grp in enumerate(folds):
        held = [u for u in units if (u.article_id, u.section) == grp]
        rest = [u for u in units if (u.article_id, u.section) != grp]
        done = ckpt / f"fold{k}.json"
        if done.is_file():  # finished before an interruption
            preds = json.loads(done.read_text(encoding="utf-8"))
            log.info("fold %d/%d: predictions restored from %s", k + 1, len(folds), done)
        else:
            train_units, labels = build(rest, [u.text for u in held]) if trainable else ([], [])
            system = fit_fresh(cfg, scheme, train_units, labels, f"fold {k + 1}/{len(folds)}", ckpt / f"fold{k}")
            if not main:
                continue
            preds = system.predict(held)
            if trainable:
                ckpt.mkdir(exist_ok=True)
                write_json(done, preds)
                shutil.rmtree(ckpt / f"fold{k}", ignore_errors=True)
                fault(f"after_fold:{k}")
        for u, p in zip(held, preds):
            out[u.id] = {**p, "fold": k}
    if main:
        assert len(out) == len(units), "every gold unit is predicted exactly once"
    return out
