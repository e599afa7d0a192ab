"""End to end with the real packaged MiniLM: a short fine-tune, save, reload, stock pipeline, offline."""

from __future__ import annotations

import json
import socket

import pytest
from helpers import compose


@pytest.fixture()
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.slow
def test_minilm_fine_tune_save_reload_offline(tmp_path, no_network):
    from transformers import pipeline

    from kpstance import StancePredictor
    from kpstance.run.pipeline import train

    cfg = compose(["data.synthetic.n=64", "trainer.max_steps=6", "trainer.batch_size=16", "evaluation.cv=false",
                   "evaluation.plots=false", "evaluation.swap=false", "task_name=e2e"], tmp_path)
    metrics = train(cfg)
    d = tmp_path / "models" / metrics["model_dir"].split("/")[-1]
    assert (d / "model.safetensors").stat().st_size > 20_000_000  # the real 22M-parameter encoder
    card = (d / "README.md").read_text()
    assert "all-MiniLM-L6-v2" in card
    p = StancePredictor.load(d)
    out = p.predict(["The Kremlin called for talks.", "Pyongyang fired another missile."])
    assert [o["actor"] in p.actors for o in out] == [True, True]
    clf = pipeline("text-classification", model=str(d), top_k=None)
    (scores,) = clf(["The Kremlin called for talks."])
    assert {s["label"] for s in scores} >= {"actor=russia", "stance=conciliatory"}
    assert json.loads((d / "kpstance.json").read_text())["labels"]["actor"][0] == "russia"
