"""A teacher's distributions on the training set, kept as versioned data for distillation.

The larger encoder reads stance better but trains too slowly for the default run, so its actor and stance
probabilities on every training example are stored (``data.teacher.outputs``, safetensors) keyed by a hash of
the example as the student reads it (text and context). A run with ``trainer.distill_weight`` > 0 takes each of
its training examples' distributions from there; an example the file lacks means the data changed since the
outputs were made, and the run is refused with one line naming ``make teacher``, unless ``data.teacher.model``
names the saved teacher, which then predicts what is missing (and the file is rewritten with it).

Cross-fitting (``data.teacher.fold_models``): K teachers, each trained without one fold of the sources
(``data.teacher.folds``, ``data.teacher.fold``), and each example's distributions come from the teacher that never
trained on it, so that they carry the teacher's reading of unseen text rather than the labels it fitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..text.segment import Unit
from ..weak.scheme import LabelScheme

log = logging.getLogger("kpstance")
REGENERATE = "make teacher"


def example_key(text: str, context: str | None) -> str:
    """The key of one training example: what the student reads (its text and its context)."""
    return hashlib.sha256(f"{text}\x1f{context or ''}".encode()).hexdigest()[:20]


def weights_sha256(model_dir: str | os.PathLike) -> str:
    h = hashlib.sha256()
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        h.update(f.read_bytes())
    return h.hexdigest()


def teacher_sha(models: Sequence[str]) -> str:
    """The hash a store keeps of the teacher that made it: one model's weights, or K cross-fitted ones in fold order."""
    shas = [weights_sha256(m) for m in models]
    return shas[0] if len(shas) == 1 else hashlib.sha256(f"crossfit{len(shas)}:{':'.join(shas)}".encode()).hexdigest()


class TeacherOutputs:
    """Probabilities per example key, in the columns ``actor=…`` then ``stance=…`` of the label scheme."""

    def __init__(self, columns: list[str], probs: dict[str, list[float]], teacher: str) -> None:
        self.columns, self.probs, self.teacher = columns, probs, teacher

    @classmethod
    def read(cls, path: Path) -> TeacherOutputs | None:
        """The stored outputs, or None when there is no file; a damaged file is refused (tensors only, no pickle)."""
        if not path.is_file():
            return None
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                probs = f.get_tensor("probs")
            keys, columns = json.loads(meta["keys"]), json.loads(meta["columns"])
        except Exception as e:  # noqa: BLE001 (any damage: truncated, not safetensors, metadata missing)
            raise KpstanceError(f"damaged teacher outputs ({str(e).splitlines()[0] if str(e) else type(e).__name__}):"
                                f" run `{REGENERATE}`", path) from None
        if probs.shape != (len(keys), len(columns)):
            raise KpstanceError(f"damaged teacher outputs (shape {probs.shape} for {len(keys)} keys): run "
                                f"`{REGENERATE}`", path)
        return cls(columns, {k: [float(x) for x in row] for k, row in zip(keys, probs)}, meta.get("teacher", ""))

    def write(self, path: Path) -> None:
        import numpy as np
        from safetensors.numpy import save_file

        keys = sorted(self.probs)
        arr = np.array([self.probs[k] for k in keys], dtype=np.float32).reshape(len(keys), len(self.columns))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file({"probs": arr}, str(tmp), metadata={"keys": json.dumps(keys), "columns": json.dumps(self.columns),
                                                      "teacher": self.teacher})
        os.replace(tmp, path)  # never a half-written file at ``path``


def columns_of(scheme: LabelScheme) -> list[str]:
    return [f"actor={a}" for a in scheme.actor_labels] + [f"stance={s}" for s in scheme.stance_labels]


def teacher_targets(cfg: Any, scheme: LabelScheme, units: Sequence[Unit],
                    folds_of: Callable[[Sequence[Unit], int], list[int]] | None = None) -> list[Unit]:
    """``units`` with the teacher's distributions in ``extra["teacher"]`` when the run distils
    (``trainer.distill_weight`` > 0); unchanged otherwise. ``folds_of`` gives each unit's cross-fitting fold
    (``TrainingData.folds_of``), which a cross-fitted teacher needs to predict what is missing. The lines of the
    pool files (``data.teacher.pool_files``) take theirs from a store of their own (``pool_outputs``), made by one
    teacher: text that no teacher trained on needs no cross-fitting."""
    if not float(cfg.trainer.get("distill_weight", 0.0) or 0.0):
        return list(units)
    from .context import contexts

    t = cfg.data.teacher
    ctx = contexts(units, scheme) if cfg.system.context else [None] * len(units)
    keys = [example_key(u.text, c) for u, c in zip(units, ctx)]
    columns = columns_of(scheme)
    from_file = [u.extra.get("pool") == "file" for u in units]
    probs: list[list[float]] = [[] for _ in units]  # by position: a pool line may repeat a training text
    stores = [(Path(t.outputs), [str(m) for m in t.get("fold_models") or []] or [t.model], folds_of, False)]
    if any(from_file):
        stores.append((Path(t.pool_outputs), [t.get("pool_model") or t.model], None, True))
    for path, models, folds, pool in stores:
        mine = [i for i, f in enumerate(from_file) if f == pool]
        stored = TeacherOutputs.read(path)
        if stored is not None and stored.columns != columns:
            raise KpstanceError(f"teacher outputs are for other labels ({len(stored.columns)} columns): run "
                                f"`{REGENERATE}`", path)
        named = [str(m) for m in models if m]
        sha = teacher_sha(named) if named else ""  # the weights are read once, here
        # a teacher named is the store's teacher: a complete store that another one made is made again, so that
        # `make teacher` after a new teacher replaces the outputs even where the training set did not change
        if stored is not None and sha and stored.teacher and stored.teacher != sha:
            log.warning("teacher outputs in %s came from another teacher than the one named; they are made again", path)
            stored = None
        missing = {keys[i] for i in mine if stored is None or keys[i] not in stored.probs}
        if missing:
            stored = _predict_missing(cfg, path, stored, columns, [units[i] for i in mine], [ctx[i] for i in mine],
                                      [keys[i] for i in mine], missing, named, sha, folds, pool)
        for i in mine:
            probs[i] = stored.probs[keys[i]]
        log.info("distillation: teacher distributions for %d %s (%s)", len(mine),
                 "pool-file lines" if pool else "training examples", path)
    return [replace(u, extra={**u.extra, "teacher": p}) for u, p in zip(units, probs)]


def _predict_missing(cfg: Any, path: Path, stored: TeacherOutputs | None, columns: list[str],
                     units: Sequence[Unit], ctx: Sequence[str | None], keys: Sequence[str],
                     missing: set[str], models: Sequence[str], sha: str,
                     folds_of: Callable[[Sequence[Unit], int], list[int]] | None, pool: bool = False) -> TeacherOutputs:
    """The stored outputs with the ``missing`` keys predicted by ``models`` (one teacher, or K cross-fitted ones in
    fold order) and written back under their hash ``sha`` (the caller has already dropped a store another teacher
    made); refused with one line when no teacher is named."""
    if not models:
        if pool:
            raise KpstanceError(f"no teacher outputs for {len(missing)} of the {len(set(keys))} pool-file lines: set "
                                "data.teacher.pool_model (or data.teacher.model) to a saved teacher", path)
        have = "no teacher outputs" if stored is None else "teacher outputs made for another training set"
        raise KpstanceError(f"{have} ({len(missing)} of this run's {len(set(keys))} training examples are not in "
                            f"them): run `{REGENERATE}`, set data.teacher.model to a saved teacher, or train without one "
                            "(trainer.distill_weight=0)", path)
    from .predictor import StancePredictor

    if len(models) > 1 and folds_of is None:
        raise KpstanceError("cross-fitted teachers need each example's fold (data.teacher.fold_models)", path)
    teachers = [StancePredictor.load(m) for m in models]  # every folder and label set checked before any prediction
    for m, teacher in zip(models, teachers):
        if teacher.actors + teacher.stances != [c.partition("=")[2] for c in columns]:
            raise KpstanceError("the teacher's labels differ from the configured scheme", Path(m))
    todo: dict[str, int] = {}  # one example per key: its first unit (a copy may repeat another unit's text)
    for i, k in enumerate(keys):
        if k in missing:
            todo.setdefault(k, i)
    idx = list(todo.values())
    fold = folds_of([units[i] for i in idx], len(models)) if len(models) > 1 else [0] * len(idx)
    out = stored or TeacherOutputs(columns, {}, sha)
    for f, (m, teacher) in enumerate(zip(models, teachers)):
        mine = [i for i, g in zip(idx, fold) if g == f]
        if not mine:
            continue
        log.info("distillation: the teacher %s predicts %d training examples%s", m, len(mine),
                 f" (fold {f} of {len(models)})" if len(models) > 1 else "")
        pa, ps = teacher.predict_proba([units[i].text for i in mine], int(cfg.trainer.predict_batch_size),
                                       contexts=[ctx[i] for i in mine] if cfg.system.context else None)
        for row, i in enumerate(mine):
            out.probs[keys[i]] = [*map(float, pa[row]), *map(float, ps[row])]
    out.teacher = sha
    out.write(path)
    return out
