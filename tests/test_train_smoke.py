"""train(cfg) with the smoke experiment: run folder, metrics, saved model, reload, stock pipeline, predict CLI."""

from __future__ import annotations

import json
import os

from helpers import ARTICLE, compose, run_here

from kpstance.eval.metrics import HEADLINE_KEYS


def test_run_folder_holds_everything(smoke_run):
    run = smoke_run["tmp"] / "run"
    for f in ("config.yaml", "metrics.json", "predictions.jsonl", "silver.jsonl", "lf_analysis.csv", "report.json"):
        assert (run / f).is_file(), f
    metrics = json.loads((run / "metrics.json").read_text())
    for k in HEADLINE_KEYS:
        assert 0.0 <= metrics[k] <= 1.0 and 0.0 <= metrics["rules_" + k] <= 1.0 and "seen_" + k in metrics
    preds = [json.loads(l) for l in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == metrics["n_units"] == 41
    # every gold unit predicted exactly once, by the fold that held out its section
    assert all(p["cv_fold"] == sorted({q["section"] for q in preds}).index(p["section"]) for p in preds)
    assert "task_name: smoke" in (run / "config.yaml").read_text()


def test_saved_model_folder(smoke_run):
    d = smoke_run["model_dir"]
    for f in ("model.safetensors", "config.json", "tokenizer.json", "README.md", "config.yaml", "metrics.json", "kpstance.json"):
        assert (d / f).is_file(), f
    assert not list(d.glob("*.bin"))
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["id2label"]["0"] == "actor=russia" and cfg["id2label"]["10"] == "stance=neutral"
    meta = json.loads((d / "kpstance.json").read_text())
    assert meta["run_dir"] == str(smoke_run["cfg"].paths.output_dir)  # `report` names it for a model folder
    latest = d.parent / "smoke" / "latest"  # the smoke run's own link; models/latest is for real models
    assert latest.is_symlink() and latest.resolve() == d.resolve()
    assert not (d.parent / "latest").exists()
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".tmp")]


def test_reload_with_project_api(smoke_run):
    from kpstance import StancePredictor

    p = StancePredictor.load(smoke_run["model_dir"].parent / "smoke" / "latest")
    out = p.predict(["Lavrov said the drills were unacceptable.", "Pyongyang fired a missile."])
    assert len(out) == 2
    for o in out:
        assert o["actor"] in p.actors and o["stance"] in p.stances
        assert abs(sum(o["actor_probs"].values()) - 1) < 1e-4 and abs(sum(o["stance_probs"].values()) - 1) < 1e-4
        assert o["actor_score"] == max(o["actor_probs"].values())


def test_stock_transformers_pipeline_loads_it(smoke_run):
    from transformers import pipeline

    clf = pipeline("text-classification", model=str(smoke_run["model_dir"]), top_k=None)
    (scores,) = clf(["Seoul urged calm."])
    labels = {s["label"] for s in scores}
    assert "actor=russia" in labels and "stance=hardline" in labels and len(labels) == 11


def test_predict_cli_txt_and_jsonl(capsys, smoke_run, tmp_path):
    model = str(smoke_run["model_dir"])
    out = tmp_path / "pred.jsonl"
    r = run_here(capsys, "predict", model, "--input", str(ARTICLE), "--output", str(out))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 41 and rows[2]["kind"] == "dateline"
    for row in rows:
        assert {"actor", "stance", "actor_score", "stance_score", "unit_id", "article_id", "date", "outlet", "text"} <= set(row)
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "Tokyo urged calm. Seoul agreed.", "doc_id": "a1"}\n\n{"text": "Beijing spoke.", "n": 2}\n',
                   encoding="utf-8")
    r = run_here(capsys, "predict", model, "--input", str(src))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["Tokyo urged calm. Seoul agreed.", "Beijing spoke."]  # not re-segmented
    assert rows[0]["doc_id"] == "a1" and rows[1]["n"] == 2


def test_two_runs_never_share_a_model_folder(smoke_run, tmp_path):
    from kpstance.run.pipeline import run_name_for

    a = run_name_for(tmp_path / "2026-01-01_00-00-00_abc123", "smoke")
    b = run_name_for(tmp_path / "2026-01-01_00-00-00_def456", "smoke")
    assert a != b and a.startswith("smoke_")
    assert run_name_for(tmp_path / "smoke_sweep" / "job3", "smoke") == "smoke_sweep_job3"


def test_gold_cv_trains_on_gold(tmp_path):
    from kpstance.run.pipeline import train

    cfg = compose(["experiment=smoke", "evaluation.cv=true", "evaluation.train_labels=gold",
                   "evaluation.final_model=false"], tmp_path)
    m = train(cfg)
    assert "joint_accuracy" in m and "model_dir" not in m
    assert not (tmp_path / "models").exists()
    assert os.path.exists(tmp_path / "run" / "metrics.json")
