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
from ..files import atomic_path
from ..text.segment import Unit
from ..weak.scheme import LabelScheme

log = logging.getLogger("kpstance")
REGENERATE = "make teacher"


def example_key(text: str, context: str | None) -> str:
    """The key of one training example: what the student reads (its text and its context)."""
    return hashlib.sha256(f"{text}\x1f{context or ''}".encode()).hexdigest()[:20]


def example_keys(cfg: Any, scheme: LabelScheme, units: Sequence[Unit]) -> tuple[list[str | None], list[str]]:
    """Each training example's context (where the system reads one) and its key in the stores."""
    from .context import contexts

    ctx: list[str | None] = list(contexts(units, scheme)) if cfg.system.context else [None] * len(units)
    return ctx, [example_key(u.text, c) for u, c in zip(units, ctx)]


def weights_sha256(model_dir: str | os.PathLike) -> str:
    h = hashlib.sha256()
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        h.update(f.read_bytes())
    return h.hexdigest()


def teacher_sha(models: Sequence[str]) -> str:
    """The hash a store keeps of the teacher that made it: one model's weights, or K cross-fitted ones in fold order."""
    shas = [weights_sha256(m) for m in models]
    return shas[0] if len(shas) == 1 else hashlib.sha256(f"crossfit{len(shas)}:{':'.join(shas)}".encode()).hexdigest()


def read_store(path: Path, tensor: str, what: str, regenerate: str, fields: Sequence[str]) -> tuple[Any, dict]:
    """One tensor of a store and its metadata (the JSON ``fields`` decoded, the rest as strings); a damaged file is
    refused in one line naming the command that makes it again (tensors only, no pickle)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = dict(f.metadata() or {})
            arr = f.get_tensor(tensor)
        meta.update({k: json.loads(meta[k]) for k in fields})
    except Exception as e:  # noqa: BLE001 (any damage: truncated, not safetensors, metadata missing)
        raise KpstanceError(f"damaged {what} ({str(e).splitlines()[0] if str(e) else type(e).__name__}): run "
                            f"`{regenerate}`", path) from None
    return arr, meta


class TeacherOutputs:
    """Probabilities per example key, in the columns ``actor=…`` then ``stance=…`` of the label scheme."""

    def __init__(self, columns: list[str], probs: dict[str, list[float]], teacher: str) -> None:
        self.columns, self.probs, self.teacher = columns, probs, teacher

    @classmethod
    def read(cls, path: Path) -> TeacherOutputs | None:
        """The stored outputs, or None when there is no file; a damaged file is refused (tensors only, no pickle)."""
        if not path.is_file():
            return None
        probs, meta = read_store(path, "probs", "teacher outputs", REGENERATE, ("keys", "columns"))
        keys, columns = meta["keys"], meta["columns"]
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
        with atomic_path(path) as tmp:  # never a half-written file at ``path``
            save_file({"probs": arr}, str(tmp), metadata={"keys": json.dumps(keys), "columns": json.dumps(self.columns),
                                                          "teacher": self.teacher})


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
    t = cfg.data.teacher
    ctx, keys = example_keys(cfg, scheme, units)
    columns = columns_of(scheme)
    from_file = [u.extra.get("pool") == "file" for u in units]
    probs: list[list[float] | None] = [[] for _ in units]  # by position: a pool line may repeat a training text
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
        labels_only = _tolerated(t, path, stored, missing, [units[i] for i in mine], [keys[i] for i in mine],
                                 bool(named))
        missing -= labels_only
        if missing:
            stored = _predict_missing(cfg, path, stored, columns, [units[i] for i in mine], [ctx[i] for i in mine],
                                      [keys[i] for i in mine], missing, named, sha, folds, pool)
        for i in mine:
            probs[i] = None if keys[i] in labels_only else stored.probs[keys[i]]
        log.info("distillation: teacher distributions for %d %s (%s)", len(mine),
                 "pool-file lines" if pool else "training examples", path)
    return [replace(u, extra={**u.extra, "teacher": p}) for u, p in zip(units, probs)]


def _tolerated(t: Any, path: Path, stored: TeacherOutputs | None, missing: set[str], units: Sequence[Unit],
               keys: Sequence[str], teacher_named: bool) -> set[str]:
    """The missing keys a run may do without, where no teacher is named to predict them and they are at most
    ``data.teacher.max_missing`` of the store's share of the training examples: a labelled example learns from its
    label alone, a pool line (which has no label) sits the run out. A change to the rules or the name tables that
    alters a handful of examples then costs those examples their soft targets, with a warning, instead of the hour
    of retraining the teachers; anything larger is refused as before."""
    share = float(t.get("max_missing", 0.0) or 0.0)
    if not missing or teacher_named or stored is None or not share or len(missing) > share * len(set(keys)):
        return set()
    idle = len({k for u, k in zip(units, keys) if k in missing and (u.extra.get("teacher_only") or u.extra.get("pool"))})
    log.warning("%s lacks the teacher's distributions for %d of %d training examples (within data.teacher.max_missing"
                " = %g): %d learn from their labels alone, %d pool examples sit the run out. `%s` makes the store "
                "whole", path, len(missing), len(set(keys)), share, len(missing) - idle, idle, REGENERATE)
    return set(missing)


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


# ------------------------------------------------------------------------------------- representation distillation
HIDDEN_REGENERATE = "make teacher-hidden"


def head_input(model: Any) -> Any:
    """The layer that gives a sequence classifier's logits (the last linear layer with one output per label): its
    input is the representation the classifier reads (BERT's pooled first token; MPNet's head after its dense
    layer), which representation distillation compares between teacher and student."""
    from torch import nn

    n = int(model.config.num_labels)
    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear) and m.out_features == n:
            last = m
    if last is None:
        raise KpstanceError(f"{type(model).__name__}: no linear layer with one output per label ({n}) to read the "
                            "representation from")
    return last


class HiddenOutputs:
    """A teacher's representation per example key (float16 rows), with the hash of the teacher that made them."""

    def __init__(self, vectors: dict[str, Any], teacher: str) -> None:
        self.vectors, self.teacher = vectors, teacher

    @classmethod
    def read(cls, path: Path) -> HiddenOutputs | None:
        if not path.is_file():
            return None
        arr, meta = read_store(path, "hidden", "teacher representations", HIDDEN_REGENERATE, ("keys",))
        keys = meta["keys"]
        if arr.ndim != 2 or arr.shape[0] != len(keys):
            raise KpstanceError(f"damaged teacher representations (shape {arr.shape} for {len(keys)} keys): run "
                                f"`{HIDDEN_REGENERATE}`", path)
        return cls(dict(zip(keys, arr)), meta.get("teacher", ""))

    def write(self, path: Path) -> None:
        import numpy as np
        from safetensors.numpy import save_file

        keys = sorted(self.vectors)
        arr = np.stack([np.asarray(self.vectors[k], dtype=np.float16) for k in keys])
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({"hidden": arr}, str(tmp), metadata={"keys": json.dumps(keys), "teacher": self.teacher})


def representations(predictor: Any, texts: Sequence[str], contexts: Sequence[str] | None,
                    batch_size: int = 64) -> Any:
    """The input of ``predictor``'s classifier layer for every text (n × width, float32), read in eval mode, as the
    model itself runs (no first-token view, no speaker averaging)."""
    import numpy as np
    import torch

    model = predictor.model
    layer = head_input(model)
    seen: list[Any] = []
    handle = layer.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().float()))
    pair = [list(contexts)] if contexts is not None else []
    enc = predictor.tokenizer(list(texts), *pair, truncation=True, max_length=predictor.max_length)
    order = sorted(range(len(texts)), key=lambda i: len(enc["input_ids"][i]))
    out = np.zeros((len(texts), layer.in_features), dtype=np.float32)
    try:
        model.eval()
        with torch.inference_mode():
            for k in range(0, len(order), batch_size):
                idx = order[k : k + batch_size]
                seen.clear()
                model(**predictor._collate(enc, idx))
                out[idx] = seen[0].cpu().numpy()
    finally:
        handle.remove()
    return out


def hidden_targets(cfg: Any, scheme: LabelScheme, units: Sequence[Unit]) -> list[Unit]:
    """``units`` with the teacher's representation in ``extra["teacher_hidden"]`` when the run distils
    representations (``trainer.hidden_weight`` > 0); unchanged otherwise. One teacher makes every example's
    (``data.teacher.hidden_model``, named apart from ``data.teacher.model`` so that naming a teacher for the
    distributions never remakes the representations); a store another teacher made is made again."""
    if not float(cfg.trainer.get("hidden_weight", 0.0) or 0.0):
        return list(units)
    t = cfg.data.teacher
    path = Path(t.hidden_outputs)
    ctx, keys = example_keys(cfg, scheme, units)
    stored = HiddenOutputs.read(path)
    model = t.get("hidden_model")
    sha = teacher_sha([str(model)]) if model else ""
    if stored is not None and sha and stored.teacher and stored.teacher != sha:
        log.warning("teacher representations in %s came from another teacher than the one named; made again", path)
        stored = None
    todo: dict[str, int] = {}
    for i, k in enumerate(keys):
        if stored is None or k not in stored.vectors:
            todo.setdefault(k, i)
    if todo:
        if not model:
            have = "no teacher representations" if stored is None else "teacher representations of another set"
            raise KpstanceError(f"{have} ({len(todo)} of this run's {len(set(keys))} training examples are not in "
                                f"them): run `{HIDDEN_REGENERATE}`, set data.teacher.hidden_model to a saved teacher, "
                                "or train without them (trainer.hidden_weight=0)", path)
        from .predictor import StancePredictor

        teacher = StancePredictor.load(str(model), precision="fp32")
        idx = list(todo.values())
        log.info("representation distillation: the teacher %s reads %d training examples", model, len(idx))
        vec = representations(teacher, [units[i].text for i in idx],
                              [ctx[i] for i in idx] if cfg.system.context else None,
                              int(cfg.trainer.predict_batch_size))
        stored = stored or HiddenOutputs({}, sha)
        for row, i in enumerate(idx):
            stored.vectors[keys[i]] = vec[row].astype("float16")  # as the store keeps them: a run reads the same
        stored.teacher = sha
        stored.write(path)
    log.info("representation distillation: teacher representations for %d training examples (%s)", len(units), path)
    return [replace(u, extra={**u.extra, "teacher_hidden": stored.vectors[k]}) for u, k in zip(units, keys)]
