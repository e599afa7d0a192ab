"""A model folder: weights (safetensors) and tokenizer, labels, the run's config, metrics and a model card.

Written into a hidden temporary folder and renamed into place, so ``models/`` never holds half
a model; ``models/<task>/latest`` follows every run of a task, ``models/latest`` only real models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files import atomic_folder, atomic_symlink, fault, write_json
from ..weak.scheme import LabelScheme
from .base import System

KPSTANCE_FORMAT = 1


def save_model(system: System, cfg: Any, scheme: LabelScheme, metrics: dict, card_rows: str, models_dir: Path,
               run_name: str, resolved_config: str) -> Path:
    """Save ``system`` as ``models_dir/run_name``; return the folder."""
    meta = {
        "kpstance_format": KPSTANCE_FORMAT,
        "labels": {"actor": scheme.actor_labels, "stance": scheme.stance_labels},
        "label_scheme": scheme.name,
        "label_scheme_sha256": scheme.sha256,
        "base_model": system.describe(),
        "max_length": int(cfg.encoder.max_length),
        "run_name": run_name,
        "experiment": str(cfg.task_name),
        **system.meta(),
    }

    def fill(tmp: Path) -> None:
        system.save(tmp)
        write_json(tmp / "kpstance.json", meta)
        (tmp / "config.yaml").write_text(resolved_config, encoding="utf-8")
        write_json(tmp / "metrics.json", metrics)
        (tmp / "README.md").write_text(model_card(cfg, system, scheme, card_rows, run_name), encoding="utf-8")

    return atomic_folder(models_dir / run_name, fill, before_rename=lambda: fault("in_save"))


def point_latest(models_dir: Path, target: Path, task_name: str, real_model: bool) -> None:
    """``models/<task>/latest`` always; ``models/latest`` only for a real model (not a smoke run)."""
    atomic_symlink(models_dir / task_name / "latest", target)
    if real_model:
        atomic_symlink(models_dir / "latest", target)


def model_card(cfg: Any, system: System, scheme: LabelScheme, rows: str, run_name: str) -> str:
    return f"""---
library_name: transformers
pipeline_tag: text-classification
tags: [kpstance, stance-detection, actor-attribution]
---
# kpstance model `{run_name}`

Labels every sentence of a news article with its **actor** (who acts or speaks) and that
actor's **stance** ({", ".join(scheme.stance_labels)}) on the Korean Peninsula crisis.

- Run `{run_name}` of experiment `{cfg.task_name}`.
- Base model: {system.describe()}
- Label scheme: `{scheme.name}` (sha256 {scheme.sha256[:12]}): actors {", ".join(scheme.actor_labels)};
  stances {", ".join(scheme.stance_labels)}. Annotation guideline: `docs/annotation-guidelines.md`.
- Training data: rule-based silver labels on the article's sentences ({cfg.evaluation.train_labels} labels
  in cross-validation) plus {cfg.data.synthetic.n} synthetic sentences generated from the project's templates.
- One classification head holds both groups (`actor=…`, `stance=…`), trained with one
  cross-entropy per group; decode each group with its own argmax.

## Metrics on the hand-labelled gold set

"CV" is grouped cross-validation over the article's sections (each sentence predicted by a
model that never saw it); "rules" is the weak labeller alone; "seen" is this saved model,
which was trained on all sections, so its score is optimistic.

| metric | CV | rules | seen |
|---|---|---|---|
{rows}

## Load

```python
from kpstance import StancePredictor
p = StancePredictor.load("models/{run_name}")
p.predict(["Lavrov said the drills were unacceptable."])

from transformers import pipeline
clf = pipeline("text-classification", model="models/{run_name}", top_k=None)
```
"""
