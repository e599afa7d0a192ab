"""``train(cfg)``: prepare → label → cross-validate → final model → save → report → track.

``train.py`` is a thin Hydra wrapper around this function; tests call it directly with a
composed config. Everything a run produces lands in its run folder (``paths.output_dir``);
the model goes to ``models/<run name>/`` by an atomic rename, and the ``latest`` links move
only after the whole run has succeeded.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from ..eval.cv import cross_validate
from ..eval.metrics import score
from ..eval.multisource import Scorer, sentence_units, train_units
from ..eval.report import card_rows, print_summary, write_reports
from ..files import write_json
from ..systems.base import fit_fresh
from ..systems.baselines import RulesSystem
from ..systems.save import point_latest, save_model
from ..text.segment import Unit
from ..weak.analysis import dev_votes
from ..weak.silver import silver_labels
from ..weak.trainset import TrainingData
from .prepare import Run, prepare

log = logging.getLogger("kpstance")


def train(cfg: Any) -> dict[str, float]:
    """Run the whole pipeline for one config; return the flat metrics (also in metrics.json)."""
    run = prepare(cfg)
    cfg, units, gold, scheme = run.cfg, run.units, run.gold, run.scheme
    ms = run.multisource
    dev = dev_votes(ms.split("dev"), scheme, cfg.rules) if ms and run.main else None
    silver = silver_labels(units, scheme, cfg.rules, gold, run.out_dir if run.main else None, dev)
    rows = unit_rows(run, silver)
    pairs = [(gold[u.id]["actor"], gold[u.id]["stance"]) for u in units]
    metrics: dict[str, Any] = score(pairs, [(silver[u.id].actor, silver[u.id].stance) for u in units], scheme, "rules_")

    def labels_of(u: Unit) -> tuple[str, str]:
        g = gold[u.id] if cfg.evaluation.train_labels == "gold" else None
        return (g["actor"], g["stance"]) if g else (silver[u.id].actor, silver[u.id].stance)

    extra = run.extra_gold
    extra_train = extra.split("train") if extra else []
    if extra and ms:  # a report the multi-source corpus holds out stays out whole, not only its close sentences
        held = ms.held_out_reports()
        kept = [r for r in extra_train if r["report_id"] not in held]
        if len(kept) < len(extra_train):
            log.warning("extra gold: %d train unit(s) of multi-source dev/test reports left out of training",
                        len(extra_train) - len(kept))
        extra_train = kept
    data = TrainingData(cfg, scheme, [g["text"] for g in gold.values() if g.get("text")], labels_of,
                        [*(ms.protected_texts() if ms else ()), *(extra.protected_texts() if extra else ())],
                        train_units(ms, cfg.data.language) if ms and cfg.data.multisource.train else None,
                        (sentence_units(extra_train), [(r["actor"], r["stance"]) for r in extra_train])
                        if extra_train else None)
    cv: dict[str, dict] = {}
    if cfg.evaluation.cv:
        cv = cross_validate(cfg, scheme, units, data.build, run.ckpt, run.main)
        for u in units if run.main else []:
            p = cv[u.id]
            rows[u.id].update(cv_actor=p["actor"], cv_stance=p["stance"], cv_fold=p["fold"],
                              cv_actor_score=p["actor_score"], cv_stance_score=p["stance_score"])
        if run.main:
            metrics.update(score(pairs, [(cv[u.id]["actor"], cv[u.id]["stance"]) for u in units], scheme))
    final, info = None, {}
    if cfg.evaluation.final_model or ms or extra:  # the saved model; else one fitted alike for the held-out scores
        final = fit_fresh(cfg, scheme, *data.build(units, []), "final model", run.ckpt / "final")
    if not run.main:
        return {}
    if cfg.evaluation.final_model:
        seen = final.predict(units)
        for u, p in zip(units, seen):
            rows[u.id].update(seen_actor=p["actor"], seen_stance=p["stance"])
        metrics.update(score(pairs, [(p["actor"], p["stance"]) for p in seen], scheme, "seen_"))
        if getattr(final, "stats", None) is not None:
            info["train_examples_per_second"] = round(final.stats.examples_per_second, 2)
    scorer = Scorer(ms, scheme, cfg.data.language) if ms else None
    extra_scorer = Scorer(extra, scheme, cfg.data.language) if extra else None
    if hasattr(final, "temperature") and (scorer or extra_scorer):  # calibrated on dev before scored and saved
        # on the multi-source dev split; without that corpus, on your own gold's dev (extra_test_*_ece keys)
        metrics.update((scorer or extra_scorer).calibrate(final, run.out_dir if cfg.evaluation.plots else None,
                                                          "" if scorer else "extra_"))
    rules = RulesSystem(cfg, scheme, int(cfg.seed)) if scorer or extra_scorer else None
    if scorer:
        metrics.update(scorer.score("model", "", final))
        metrics.update(scorer.score("rules", "rules_", rules))
    if extra_scorer:  # your own gold's dev and test: extra_dev_*, extra_test_* (and rules_extra_*)
        metrics.update(extra_scorer.score("model", "extra_", final))
        metrics.update(extra_scorer.score("rules", "rules_extra_", rules))
        metrics.update({f"n_extra_gold_{s}": len(extra.split(s)) for s in ("dev", "test")},
                       extra_gold_sha256=sha256(*cfg.data.extra_gold))
    metrics.update(n_units=len(units), n_synthetic=data.n_synthetic, n_gold_train=data.n_gold_train, n_corpus=data.n_corpus,
                   n_extra_gold_train=data.n_extra_gold, gold_sha256=sha256(cfg.data.gold_path),
                   labels_sha256=scheme.sha256)
    systems = {"rules": {i: (r["rules_actor"], r["rules_stance"]) for i, r in rows.items()}}
    if cv:
        systems["cv"] = {i: (p["actor"], p["stance"]) for i, p in cv.items()}
    write_reports(run.out_dir, scheme, rows, gold, systems, cfg.evaluation.plots, scorer, extra_scorer)
    return finish(run, metrics, info, final if cfg.evaluation.final_model else None)


def finish(run: Run, metrics: dict, info: dict, final: Any) -> dict:
    """Save the model and move the links, write metrics, track the run, print the summary."""
    cfg = run.cfg
    name = run_name_for(run.out_dir, cfg.task_name)
    model_dir = None
    if final is not None:
        models = Path(cfg.paths.models_dir)
        model_dir = save_model(final, cfg, run.scheme, metrics, card_rows(metrics), models, name, run.resolved)
        point_latest(models, model_dir, str(cfg.task_name), bool(cfg.update_latest))
        info["model_dir"] = str(model_dir)
    # metrics.json holds only what the config and seed determine; timings, paths and ids go to run_info.json
    write_json(run.out_dir / "metrics.json", metrics)
    shutil.rmtree(run.ckpt, ignore_errors=True)
    if cfg.logger.name != "none":
        from omegaconf import OmegaConf

        from ..track.store import git_commit, log_run

        tags = {"experiment": cfg.task_name, "git_commit": git_commit(cfg.paths.root_dir),
                "gold_sha256": metrics["gold_sha256"], "labels_sha256": run.scheme.sha256,
                "system": str(cfg.system.name)}
        info["mlflow_run_id"] = log_run(cfg.logger, OmegaConf.to_container(cfg, resolve=True), metrics, tags,
                                        run.out_dir, name)
    info["wall_seconds"] = round(time.perf_counter() - run.t_start, 1)
    write_json(run.out_dir / "run_info.json", {**info, "run_name": name, "run_dir": str(run.out_dir)})
    print_summary(metrics, run.out_dir, model_dir)
    return {**metrics, **info}


def unit_rows(run: Run, silver: dict) -> dict[str, dict]:
    """One predictions.jsonl row per unit: its gold and rule labels; the system's predictions join later."""
    g = run.gold
    return {u.id: {"id": u.id, "text": u.text, "section": u.section, "kind": u.kind,
                   "gold_actor": g[u.id]["actor"], "gold_stance": g[u.id]["stance"],
                   "phenomena": g[u.id].get("phenomena", []),
                   "rules_actor": silver[u.id].actor, "rules_stance": silver[u.id].stance} for u in run.units}


def run_name_for(output_dir: Path, task_name: str) -> str:
    """The model folder's name: the run folder's name (unique), prefixed by the sweep for multirun jobs."""
    name = output_dir.name
    if name.startswith("job") and output_dir.parent.name:
        name = f"{output_dir.parent.name}_{name}"
    return name if name.startswith(task_name) else f"{task_name}_{name}"


def sha256(*paths: str) -> str:
    """One file's hash; of several, the hash of their hashes in order."""
    digests = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]
    return digests[0] if len(digests) == 1 else hashlib.sha256("".join(digests).encode()).hexdigest()
