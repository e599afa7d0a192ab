"""The project's shape: one System interface, the registry, the schema as the one home of defaults,
one-line user errors, and models/latest only for real models."""

from __future__ import annotations

import pytest
from helpers import ROOT, compose, train_py

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
    assert tiny.encoder.vocab_size == 1000 and tiny.encoder.max_length == 64 and "name_or_path" not in tiny.encoder
    tfidf = validate(compose(["system=tfidf"], tmp_path))
    assert (tfidf.system.ngram_max, tfidf.system.c) == (2, 4.0) and "iterations" not in tfidf.system


def test_trainer_yaml_states_no_defaults():
    """Defaults live once, in the schema: the trainer group file holds comments only."""
    import yaml

    assert yaml.safe_load((ROOT / "configs" / "trainer" / "default.yaml").read_text()) is None


@pytest.mark.parametrize("name", ["majority", "rules", "tfidf", "transformer"])
def test_every_system_fits_and_predicts_units(tmp_path, scheme, units, name):
    from kpstance.config import validate
    from kpstance.systems.base import System, fit_fresh

    cfg = validate(compose(["experiment=smoke", f"system={name}"], tmp_path))
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
    assert train_py(tmp_path, "evaluation.cv=false").returncode == 0
    models = tmp_path / "models"
    assert (models / "smoke" / "latest").is_symlink() and not (models / "latest").exists()
    r = train_py(tmp_path, "evaluation.cv=false", "update_latest=true", "task_name=tiny")
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
