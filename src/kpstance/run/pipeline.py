"""``train(cfg)``: prepare → label → cross-validate → final model → save → report → track.

``train.py`` is a thin Hydra wrapper around this function; tests call it directly with a
composed config. Everything a run produces lands in its run folder (``paths.output_dir``);
the model goes to ``models/<run name>/`` by an atomic rename, and the ``latest`` links move
only after the whole run has succeeded.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..corpora import GoldCorpus
from ..eval.cv import cross_validate
from ..eval.evaluate import Evaluation
from ..eval.report import print_summary
from ..files import write_json
from ..systems.base import fit_fresh
from ..systems.baselines import RulesSystem
from ..systems.save import point_latest, save_model
from ..systems.teacher import hidden_targets, teacher_targets
from ..weak.analysis import dev_votes
from ..weak.scheme import LabelScheme
from ..weak.silver import silver_labels
from ..weak.trainset import TrainingData, TrainPart, alias_part, swap_part, teacher_pool, unlike_part, wants_pool
from .prepare import Run, prepare

log = logging.getLogger("kpstance")
# metrics.json's counts of training units, in its order (a source the run lacks counts 0)
COUNT_KEYS = ("n_synthetic", "n_gold_train", "n_corpus", "n_extra_gold_train")


def train(cfg: Any) -> dict[str, float]:
    """Run the whole pipeline for one config; return the flat metrics (also in metrics.json)."""
    run = prepare(cfg)
    cfg, units, scheme = run.cfg, run.units, run.scheme
    ev, data = labelled(run)
    cv: dict[str, dict] = {}
    if cfg.evaluation.cv:
        cv = cross_validate(cfg, scheme, units, data.build, run.ckpt, run.main)
        if run.main:
            ev.seen("cv", "", cv, ("fold", "actor_score", "stance_score"))
    final, info, train_labels = None, {}, None
    if cfg.evaluation.final_model or ev.held_out:  # the saved model; else one fitted alike for the held-out scores
        train_units, labels = data.build(units, [])
        train_labels = [lab for u, lab in zip(train_units, labels)  # the priors: labelled originals only
                        if not {"swap_of", "alias_of", "teacher_only"} & set(u.extra)]
        train_units = hidden_targets(cfg, scheme, teacher_targets(cfg, scheme, train_units, data.folds_of))
        final = fit_fresh(cfg, scheme, train_units, labels, "final model", run.ckpt / "final")
    if not run.main:
        return {}
    if cfg.evaluation.final_model:
        ev.seen("seen", "seen_", dict(zip((u.id for u in units), final.predict(units))), table=False)
        if getattr(final, "stats", None) is not None:
            info["train_examples_per_second"] = round(final.stats.examples_per_second, 2)
    if getattr(final, "stats", None) is not None:
        info["train_precision"] = final.stats.precision  # what trainer.precision resolved to on this machine
    ev.calibrate(final, run.out_dir if cfg.evaluation.plots else None)  # on dev, before it is scored and saved
    rules = RulesSystem(cfg, scheme, int(cfg.seed)) if ev.held_out else None
    ev.held_out_scores(final, rules)
    ev.metrics.update(run_counts(run, data))
    ev.swap_scores(final, rules, train_labels, cfg.evaluation.swap)  # keys after the others: metrics.json keeps its order
    ev.metrics["n_swap_train"] = data.counts.get("n_swap_train", 0)
    ev.metrics.update({k: v for k, v in data.counts.items() if k not in ev.metrics})  # newer sources' counts last
    ev.write(run.out_dir, cfg.evaluation.plots)
    return finish(run, ev.metrics, info, final if cfg.evaluation.final_model else None)


def labelled(run: Run) -> tuple[Evaluation, TrainingData]:
    """The article's silver labels (scored as the rules' seen figures) and the training data every model of the run
    is fitted on."""
    cfg, units, scheme = run.cfg, run.units, run.scheme
    ev = Evaluation(run.corpora, units, scheme)
    ref = ev.reference
    dev = dev_votes(ref.corpus.split("dev"), scheme, cfg.rules) if ref and run.main else None
    silver = silver_labels(units, scheme, cfg.rules, ev.gold, run.out_dir if run.main else None, dev)
    ev.seen("rules", "rules_", {i: {"actor": s.actor, "stance": s.stance} for i, s in silver.items()})
    return ev, training_data(cfg, scheme, run.corpora, silver, ev.gold)


def teacher_outputs(cfg: Any) -> int:
    """Make the teacher's stored distributions (and, with ``trainer.hidden_weight``, its representations) cover the
    training set ``cfg`` gives (``data.teacher.model`` predicts what is missing) without training anything; return
    the number of training examples."""
    run = prepare(cfg)
    _, data = labelled(run)
    units, _ = data.build(run.units, [])
    return len(hidden_targets(run.cfg, run.scheme, teacher_targets(run.cfg, run.scheme, units, data.folds_of)))


def run_counts(run: Run, data: TrainingData) -> dict[str, Any]:
    """metrics.json's closing keys: the units the run labels, its training units by source, and the hashes of the
    gold its units are scored against and of the label scheme."""
    own_gold = next(c for c in run.corpora if not c.held_out)
    return {"n_units": len(run.units), **{k: data.counts.get(k, 0) for k in COUNT_KEYS},
            "gold_sha256": own_gold.sha256(), "labels_sha256": run.scheme.sha256}


def training_data(cfg: Any, scheme: LabelScheme, corpora: Sequence[GoldCorpus], silver: Mapping[str, Any],
                  gold: Mapping[str, dict]) -> TrainingData:
    """The article's units with their silver labels (or gold, ``evaluation.train_labels=gold``), the synthetic
    corpus, and the train split of every gold corpus, kept away from every corpus's dev and test; with
    ``data.swap_augment``, speaker-swapped copies of the synthetic and gold units."""

    def labels_of(u: Any) -> tuple[str, str]:
        g = gold[u.id] if cfg.evaluation.train_labels == "gold" else None
        return (g["actor"], g["stance"]) if g else (silver[u.id].actor, silver[u.id].stance)

    parts = [p for c in corpora if (p := c.train_part()) is not None]
    n_swap, n_alias, pairing = int(cfg.data.swap_augment), int(cfg.data.alias_augment), cfg.trainer.pair_weight > 0
    n_unlike = int(cfg.data.get("direction_unlike", 0) or 0)
    augment = None
    avoid = [t for c in corpora for t in c.scored_texts()]
    if n_swap or n_alias or pairing or n_unlike or wants_pool(cfg):
        from ..systems.context import speakers

        def augment(shared: Sequence[TrainPart]) -> list[TrainPart]:
            """Speaker-swapped copies of the synthetic and gold training units (``data.swap_augment``; one copy
            each, used only as a partner, for logit pairing alone), then alias-varied copies of those units, then
            direction-flipped copies for unlikelihood (``data.direction_unlike``)."""
            out = []
            if n_swap or pairing:
                out.append(swap_part(shared, scheme, max(n_swap, 1), int(cfg.seed), lambda us: speakers(us, scheme),
                                     pair_only=not n_swap))
            if n_alias:
                out.append(alias_part(shared, scheme, n_alias, int(cfg.seed)))
            if n_unlike:
                out.append(unlike_part(shared, scheme, n_unlike, int(cfg.seed), lambda us: speakers(us, scheme)))
            return out + teacher_pool(cfg, scheme, avoid, shared, lambda us: speakers(us, scheme))

    return TrainingData(cfg, scheme, avoid, labels_of,
                        [t for c in corpora for t in c.protected_texts()], parts,
                        set().union(*(c.held_out_reports() for c in corpora)), augment,
                        [st for c in corpora for st in c.held_out_statements()])


def finish(run: Run, metrics: dict, info: dict, final: Any) -> dict:
    """Save the model, write metrics, track the run, write run_info.json (the mark of a finished run), and only
    then move the ``latest`` links and drop the checkpoints: a run stopped before its end (a kill, a store that
    fails) leaves ``latest`` where it was and its checkpoints for ``resume=true``."""
    cfg = run.cfg
    name = run_name_for(run.out_dir, cfg.task_name)
    model_dir = None
    if final is not None:
        model_dir = save_model(final, cfg, run.scheme, metrics, Path(cfg.paths.models_dir), name, run.resolved)
        info["model_dir"] = str(model_dir)
    # metrics.json holds only what the config and seed determine; timings, paths and ids go to run_info.json
    write_json(run.out_dir / "metrics.json", metrics)
    info["git_commit"], info["git_dirty"] = run.git
    if cfg.logger.name != "none":
        from omegaconf import OmegaConf

        from ..track.store import log_run

        tags = {"experiment": cfg.task_name, "git_commit": info["git_commit"], "git_dirty": str(info["git_dirty"]),
                "gold_sha256": metrics["gold_sha256"], "labels_sha256": run.scheme.sha256,
                "system": str(cfg.system.name)}
        if info.get("train_precision"):  # what `auto` resolved to on this machine (scripts/rerun.py passes it)
            tags["train_precision"] = info["train_precision"]
        info["mlflow_run_id"] = log_run(cfg.logger, OmegaConf.to_container(cfg, resolve=True), metrics, tags,
                                        run.out_dir, name)
    info["wall_seconds"] = round(time.perf_counter() - run.t_start, 1)
    write_json(run.out_dir / "run_info.json", {**info, "run_name": name, "run_dir": str(run.out_dir)})
    if model_dir is not None:
        try:  # the run is finished: a link that cannot be made is said, not a failure of the run
            point_latest(Path(cfg.paths.models_dir), model_dir, str(cfg.task_name), bool(cfg.update_latest))
        except OSError as e:
            log.warning("the run finished, but the latest link was not moved (%s)", e)
    shutil.rmtree(run.ckpt, ignore_errors=True)
    print_summary(metrics, run.out_dir, model_dir)
    return {**metrics, **info}


def run_name_for(output_dir: Path, task_name: str) -> str:
    """The model folder's name: the run folder's name (unique), prefixed by the sweep for multirun jobs."""
    name = output_dir.name
    if name.startswith("job") and output_dir.parent.name:
        name = f"{output_dir.parent.name}_{name}"
    return name if name.startswith(task_name) else f"{task_name}_{name}"
