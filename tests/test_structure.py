"""The project's shape: one System interface, the registry, the schema as the one home of defaults,
one-line user errors, and models/latest only for real models."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from helpers import ROOT, compose, run_here, train_py

from kpstance.errors import KpstanceError


def test_typo_in_labeling_function_names_is_one_line_exit_2_and_no_run_folder(tmp_path):
    r = train_py(tmp_path, "rules.actor_lfs=[typo]")
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [lines[0]] and "rules.actor_lfs" in lines[0] and "'typo'" in lines[0]
    assert "known: headline_dash, dateline" in lines[0]
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "models").exists()


@pytest.mark.parametrize("override, new", [("model=tiny_bert", "system (transformer"),
                                           ("model.name_or_path=/x", "encoder.name_or_path")])
def test_old_model_override_names_the_new_spelling(tmp_path, override, new):
    r = train_py(tmp_path, override)
    assert r.returncode == 2 and new in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unknown_system_is_refused_with_the_known_names(tmp_path):
    from kpstance.config import validate

    cfg = compose(["experiment=smoke", "system.name=svm"], tmp_path)
    with pytest.raises(KpstanceError, match=r"unknown system 'svm' \(known: transformer, rules, majority, tfidf"):
        validate(cfg)


def test_schema_fills_every_default_the_yaml_does_not_state(tmp_path):
    from kpstance.config import validate

    cfg = validate(compose([], tmp_path))
    assert cfg.data.article_repeat == 4 and cfg.trainer.checkpoint_every == 50
    assert cfg.encoder.kind == "pretrained" and cfg.encoder.max_length == 128 and "vocab_size" not in cfg.encoder
    tiny = validate(compose(["experiment=smoke"], tmp_path))
    assert tiny.encoder.vocab_size == 8000 and tiny.encoder.max_length == 96 and "name_or_path" not in tiny.encoder
    tfidf = validate(compose(["system=tfidf", "evaluation.final_model=false"], tmp_path))
    assert (tfidf.system.ngram_max, tfidf.system.c) == (2, 4.0) and "iterations" not in tfidf.system


def test_the_label_file_passes_validation_whole_and_in_the_schemas_place(tmp_path):
    """The label YAML stays out of the structured merge (it has a schema of its own): it comes back unchanged, in
    the place the schema gives it, and a ``labels`` that is no mapping is one line."""
    from omegaconf import OmegaConf

    from kpstance.config import TrainConfig, validate

    cfg = compose([], tmp_path)
    plain = validate(cfg)
    assert OmegaConf.to_container(plain.labels) == OmegaConf.to_container(cfg.labels, resolve=True)
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    assert "labels" in plain and list(plain) == sorted(plain, key=fields.index)  # the saved config.yaml's order
    data = OmegaConf.to_container(cfg, resolve=True)
    with pytest.raises(KpstanceError, match=r"^config key 'labels': a mapping \(a label file\), got list$"):
        validate({**data, "labels": ["russia"]})


def test_trainer_yaml_states_no_defaults():
    """Defaults live once, in the schema: the trainer group file holds comments only."""
    import yaml

    assert yaml.safe_load((ROOT / "configs" / "trainer" / "default.yaml").read_text()) is None


@pytest.mark.parametrize("name", ["majority", "rules", "tfidf", "transformer"])
def test_every_system_fits_and_predicts_units(tmp_path, scheme, units, name):
    from kpstance.config import validate
    from kpstance.systems.base import System, fit_fresh

    cfg = validate(compose(["experiment=smoke", f"system={name}", "evaluation.final_model=false"], tmp_path))
    labels = [("russia", "conciliatory") if i % 2 else ("united_states", "hardline") for i in range(len(units))]
    system = fit_fresh(cfg, scheme, units, labels, "test")
    assert isinstance(system, System)
    preds = system.predict(units[:5])
    assert len(preds) == 5
    for p in preds:
        assert p["actor"] in scheme.actor_labels and p["stance"] in scheme.stance_labels
        assert 0 <= p["actor_score"] <= 1 and set(p) >= {"actor_probs", "stance_probs"}


def test_head_layout_round_trip(scheme):
    from kpstance.systems.heads import HeadLayout

    layout = HeadLayout.from_scheme(scheme)
    again = HeadLayout.from_id2label(layout.id2label())
    assert again == layout and layout.actor_index == slice(0, 8) and layout.stance_index == slice(8, 11)
    with pytest.raises(KpstanceError, match="not of the form actor="):
        HeadLayout.from_id2label({0: "actor=russia", 1: "mood=calm"})


def test_the_stock_pipelines_one_softmax_decodes_to_the_best_label_of_each_group():
    from kpstance.systems.heads import best_per_group

    scores = [{"label": "stance=hardline", "score": 0.05}, {"label": "actor=japan", "score": 0.30},
              {"label": "actor=china", "score": 0.50}, {"label": "stance=neutral", "score": 0.15}]
    assert best_per_group(scores) == {"actor": "china", "stance": "neutral"}


def test_bad_values_inside_the_stages_are_kpstance_errors(scheme, units):
    from kpstance.systems.finetune import fine_tune
    from kpstance.weak.aggregate import aggregate
    from kpstance.weak.label import label_units

    with pytest.raises(KpstanceError, match="unknown labeling function"):
        label_units(units, scheme, ["nope"])
    with pytest.raises(KpstanceError, match="unknown aggregator 'vote'"):
        aggregate({"a": "x"}, ["a"], "vote")
    with pytest.raises(KpstanceError, match="no training examples"):
        fine_tune(None, None, [], [], [], None, None, 0)


def test_smoke_run_leaves_models_latest_alone_and_a_real_run_moves_it(tmp_path):
    assert train_py(tmp_path, "evaluation.cv=false", "evaluation.swap=false").returncode == 0
    models = tmp_path / "models"
    assert (models / "smoke" / "latest").is_symlink() and not (models / "latest").exists()
    r = train_py(tmp_path, "evaluation.cv=false", "evaluation.swap=false", "update_latest=true", "task_name=tiny")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (models / "latest").resolve() == (models / "tiny" / "latest").resolve()


def test_predict_says_which_run_and_experiment_the_model_came_from(smoke_run, tmp_path):
    """On a terminal (stderr a pty), predict names the model's run and experiment before its output."""
    import os
    import pty
    import subprocess
    import sys

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "Seoul urged calm."}\n', encoding="utf-8")
    parent, child = pty.openpty()
    r = subprocess.run([sys.executable, "-m", "kpstance.cli", "predict", str(smoke_run["model_dir"]), "--input",
                        str(src)], stdout=subprocess.PIPE, stderr=child, cwd=ROOT, timeout=300)
    os.close(child)
    err = os.read(parent, 65536).decode(errors="replace")
    os.close(parent)
    assert r.returncode == 0, err
    assert f"model {smoke_run['model_dir'].name} (experiment smoke" in err
    card = (smoke_run["model_dir"] / "README.md").read_text()
    assert "experiment `smoke`" in card


def test_no_module_outside_the_registry_compares_the_system_name():
    import re

    hits = []
    for p in (ROOT / "src" / "kpstance").rglob("*.py"):
        if p.name == "registry.py":
            continue
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if re.search(r"(model\.kind|system\.name\)?\s*==|==\s*['\"](transformer|tfidf|setfit|majority)['\"])", line):
                hits.append(f"{p.name}:{i}")
    assert hits == []


def test_temperature_scaling_lowers_ece_on_an_overconfident_model():
    """A synthetic head whose scores are far too sure: the fitted temperature is above 1 and ECE falls."""
    import numpy as np

    from kpstance.eval.calibration import ece, fit_temperature, scale

    rng = np.random.default_rng(0)
    n, k = 2000, 3
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.0  # right about 60 % of the time ...
    sure = np.exp(logits * 4.0)  # ... but sharpened four times: overconfident
    probs = sure / sure.sum(axis=1, keepdims=True)
    t = fit_temperature(probs[:1000], y[:1000])
    assert 3.0 < t < 5.5
    assert ece(scale(probs[1000:], t), y[1000:]) < ece(probs[1000:], y[1000:]) / 3
    assert (scale(probs, t).argmax(1) == probs.argmax(1)).all()  # no prediction changes


def test_min_score_marks_exactly_the_units_below_the_threshold(capsys, smoke_run, tmp_path):

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in
                           ["Seoul urged calm.", "Pyongyang fired a missile.", "Beijing spoke.", "The talks went on."]))
    plain = [json.loads(l) for l in run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src)).stdout.splitlines()]
    low = [min(q["actor_score"], q["stance_score"]) for q in plain]
    # below every score, above every score, and in each gap between distinct scores (a tiny random model whose
    # calibration flattened it may tie them all: then the first two thresholds still test both sides)
    ranked = sorted(set(low))
    for p in [ranked[0] - 1e-3, ranked[-1] + 1e-3, *((a + b) / 2 for a, b in zip(ranked, ranked[1:]))]:
        r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src), "--min-score", str(p))
        assert r.returncode == 0, r.stderr
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        assert [row["uncertain"] for row in rows] == [v < p for v in low], p
        assert [(row["actor"], row["stance"]) for row in rows] == [(q["actor"], q["stance"]) for q in plain]
    bad = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src), "--min-score", "1.5")
    assert bad.returncode == 2 and "--min-score must be a probability" in bad.stderr


def test_the_confident_threshold_is_chosen_on_dev_and_rounded_down_to_what_a_user_types():
    from kpstance.eval.calibration import keep_threshold

    scores = [0.95, 0.9, 0.85, 0.80049, 0.7]
    assert keep_threshold(scores, 0.8) == 0.8  # the 4th of 5, rounded down: a unit at 0.80049 stays above it
    assert keep_threshold(scores, 0.9) == 0.7  # 90 % of 5 is 4.5: five are kept, never fewer than asked
    assert keep_threshold([0.3], 0.8) == 0.3


def test_saved_model_carries_the_dev_fitted_temperatures(smoke_run):
    from kpstance import StancePredictor

    meta = json.loads((smoke_run["model_dir"] / "kpstance.json").read_text())
    m = smoke_run["metrics"]
    assert meta["temperature"] == {"actor": m["actor_temperature"], "stance": m["stance_temperature"]}
    assert StancePredictor.load(smoke_run["model_dir"]).temperature == meta["temperature"]
    for k in ("test_actor_ece", "test_stance_ece", "test_actor_ece_raw", "test_stance_ece_raw",
              "test_confident80_coverage", "test_confident90_coverage"):
        assert 0 <= m[k] <= 1
    # the threshold is dev's, so test keeps about, not exactly, 80 %; it is one a user can type
    assert m["test_confident80_min_score"] == round(m["test_confident80_min_score"], 3)
    assert m["test_confident90_min_score"] <= m["test_confident80_min_score"]  # keeping more asks less


def test_context_gives_he_said_the_speaker_named_before(scheme, units):
    from kpstance.systems.context import contexts

    ctx = dict(zip((u.text for u in units), contexts(units, scheme)))
    he_said = next(t for t in ctx if t.endswith('he said.') and t.startswith('"We hope that we will'))
    assert ctx[he_said] == "sentence; speaker: Lavrov"
    assert ctx["MOSCOW, November 24. /TASS/."] == "dateline; speaker: -"


def test_context_reaches_the_model_in_training_and_in_prediction(tmp_path, scheme, units, monkeypatch):
    """Training sees (text, context) pairs with the carried speaker, and prediction feeds the context to the
    forward pass: the same sentence with another speaker gets other probabilities. Fails if the speaker is dropped."""
    import kpstance.systems.finetune as finetune
    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh

    seen = {}
    real = finetune.fine_tune

    def spy(*args, **kwargs):
        seen["pairs"] = kwargs.get("pairs")
        return real(*args, **kwargs)

    monkeypatch.setattr(finetune, "fine_tune", spy)
    cfg = validate(compose(["experiment=smoke"], tmp_path))
    labels = [("russia", "conciliatory")] * len(units)
    system = fit_fresh(cfg, scheme, units, labels, "test")
    assert seen["pairs"] is not None and "sentence; speaker: Lavrov" in seen["pairs"]
    p = system.predict(units[:1])[0]["actor_probs"]
    from kpstance.systems.predictor import StancePredictor

    pred = StancePredictor(system.model, system.tokenizer, cfg.encoder.max_length)
    a = pred.predict(["The drills must stop."], contexts=["sentence; speaker: Lavrov"])[0]["actor_probs"]
    b = pred.predict(["The drills must stop."], contexts=["sentence; speaker: Geng Shuang"])[0]["actor_probs"]
    assert a != b and set(p) == set(a)
    off = validate(compose(["experiment=smoke", "system.context=false"], tmp_path))
    fit_fresh(off, scheme, units, labels, "test")
    assert seen["pairs"] is None


def test_predict_cli_supplies_context_from_the_article_and_from_jsonl_fields(scheme, units):
    from kpstance.systems.context import chunk_contexts

    chunk = [("a.txt", {"text": u.text}, u) for u in units[:6]] + [
        ("b.jsonl", {"text": "He said so.", "kind": "title", "speaker": "Suga"}, 1), ("b.jsonl", {"text": "Bare."}, 2)]
    ctx = chunk_contexts(chunk, scheme)
    assert ctx[2] == "dateline; speaker: -" and ctx[-2:] == ["title; speaker: Suga", "sentence; speaker: -"]


def test_imports_flow_one_way():
    """text → weak → corpora → systems → scale → eval; nothing below imports from a stage above it (lazy imports
    included)."""
    import ast

    order = ["text", "weak", "corpora", "systems", "scale", "eval"]
    above = {"run", "track", "annotate", "cli"}
    pkg = ROOT / "src" / "kpstance"
    bad = []
    for level, stage in enumerate(order):
        forbidden = set(order[level + 1 :]) | above
        for path in (pkg / stage).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module:
                    target = node.module.split(".")[0] if node.level == 2 else stage
                    if target in forbidden:
                        bad.append(f"{stage}/{path.name} imports {node.module}")
                elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kpstance."):
                    if node.module.split(".")[1] in forbidden:
                        bad.append(f"{stage}/{path.name} imports {node.module}")
    assert not bad, bad


def test_only_the_corpora_stage_reads_gold_and_train_names_no_corpus():
    """Gold files are read in kpstance/corpora/load.py alone: eval scores the corpora it is given, and train(cfg)
    is the list of stages, short, with no corpus named in it."""
    import ast
    import inspect

    from kpstance.run.pipeline import train

    pkg = ROOT / "src" / "kpstance"
    loaders = {"load_gold", "load_multisource", "load_extra_gold", "load_corpora", "seed_corpus", "iter_jsonl",
               "read_article", "read_text"}
    bad = []
    for path in pkg.rglob("*.py"):
        rel = path.relative_to(pkg).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and rel.startswith("eval/") and rel != "eval/tables.py":
                bad += [f"{rel} imports {a.name}" for a in node.names if a.name in loaders]
            if isinstance(node, ast.FunctionDef) and node.name in loaders - {"iter_jsonl", "read_article", "read_text"}:
                if not rel.startswith("corpora/"):
                    bad.append(f"{rel} defines {node.name}")
    assert not bad, bad
    source = inspect.getsource(train)
    assert len(source.splitlines()) <= 50
    for name in ("multisource", "extra_gold", "contrast", "ms", "gold_path", "seed_gold"):
        assert not re.search(rf"\b{name}\b", source), name


def test_group_batches_below_one_is_refused(tmp_path):
    from kpstance.config import validate

    with pytest.raises(KpstanceError, match="'trainer.group_batches': must be at least 1"):
        validate(compose(["trainer.group_batches=0"], tmp_path))


def test_masked_pairing_on_no_step_is_refused(tmp_path):
    from kpstance.config import validate

    with pytest.raises(KpstanceError, match="'trainer.mask_pair_every': must be at least 1"):
        validate(compose(["trainer.mask_pair_weight=1.0", "trainer.mask_pair_every=0"], tmp_path))


def test_masked_pairing_with_a_blind_stance_head_is_refused(tmp_path):
    from kpstance.config import validate

    with pytest.raises(KpstanceError, match="'system.blind_stance' and 'trainer.mask_pair_weight'"):
        validate(compose(["system.blind_stance=true", "trainer.mask_pair_weight=1.0"], tmp_path))


def test_every_experiment_file_composes_and_validates(tmp_path):
    """An experiment states its differences from the defaults; each must still make a valid config."""
    from kpstance.config import validate

    folder = ROOT / "configs" / "experiment"
    names = sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))
    assert "ablation/distill_direction" in names
    for name in names:
        cfg = validate(compose([f"experiment={name}"], tmp_path))
        assert cfg.task_name, name
        if name == "ablation/distill_direction":
            assert cfg.data.teacher.pool_direction == 1 and cfg.trainer.distill_weight == 0.5
        if name.startswith("ablation/distill_crossfit_pool"):  # the written pool and its teacher's store ship
            assert [Path(f).is_file() for f in cfg.data.teacher.pool_files] == [True]
            assert Path(cfg.data.teacher.pool_outputs).is_file()
        if name == "ablation/distill_crossfit_pool_written":  # its own store, not the held-out teacher's
            assert Path(cfg.data.teacher.pool_outputs).name == "pool_written.safetensors"
        if name == "ablation/accurate_written":
            assert cfg.encoder.name_or_path.endswith("all-mpnet-base-v2") and cfg.data.extra_gold_test == 0
        if name == "ablation/stance_balance":
            assert cfg.trainer.stance_balance == 1.0 and cfg.trainer.mask_pair_weight == 1.0
        if name == "ablation/remedy_mask_pairing":
            assert cfg.trainer.mask_pair_weight == 1.0 and not cfg.system.blind_stance and cfg.data.swap_augment == 1
        # the recipes measured before masked pairing became the default keep their recipe
        if name.startswith(("ablation/remedy_", "ablation/distill", "distill", "accurate")):
            assert (cfg.trainer.epochs, cfg.trainer.actor_weight) == (3, 1.0), name
        if name in ("accurate", "distill", "teacher") or name.startswith("ablation/distill"):
            assert cfg.trainer.mask_pair_weight == 0.0, name
    default = validate(compose([], tmp_path))  # masked pairing, one swapped copy, two epochs (docs/results.md)
    assert (default.trainer.mask_pair_weight, default.data.swap_augment, default.trainer.epochs) == (1.0, 1, 2)
    assert default.trainer.stance_balance == 0.0  # balanced stance classes: an ablation, not the default


def test_the_dev_install_carries_every_extra_whose_tests_would_skip_without_it():
    """The int8, Ray, submitit, MLflow and Optuna tests skip where their extra is missing, and CI installs
    `.[dev]`: so dev must hold those extras' requirements, and they must import here, or a broken install would
    turn those tests into silent skips."""
    import importlib

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for extra in ("int8", "ray", "cluster", "track", "sweep"):
        assert set(extras[extra]) <= set(extras["dev"]), f"the dev extra lacks [{extra}]: {extras[extra]}"
    for module in ("torchao", "ray.data", "hydra_plugins.hydra_submitit_launcher", "mlflow",
                   "hydra_plugins.hydra_optuna_sweeper"):
        importlib.import_module(module)
