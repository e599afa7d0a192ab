"""Fixtures: the label scheme, the article's units, one smoke training run and its predictor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import ARTICLE, ARTICLE_ID, EVERY_STAGE, LABELS, ROOT, compose

os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
# labels compared with fp32 (stock pipeline, training scores) must not depend on the machine auto picks for; the
# tests of auto, bf16 and int8 ask for them by name
os.environ["KPSTANCE_PRECISION"] = "fp32"
# Under pytest-xdist, every worker's torch would take all the cores: two workers on two cores then spin against each
# other, and a tiny model trains ten times slower (measured: 161 s against 13 s for one test). Each worker, and the
# CLI processes its tests start, gets its share of the cores instead; set before torch is imported.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_share))
    os.environ.setdefault("MKL_NUM_THREADS", str(_share))


@pytest.fixture(scope="session")
def scheme():
    from kpstance.weak.scheme import load_scheme

    return load_scheme(LABELS)


@pytest.fixture(scope="session")
def units():
    from kpstance.text.segment import segment_article

    return segment_article(ARTICLE.read_text(encoding="utf-8"), ARTICLE_ID)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One smoke training run shared by the tests that need a saved model, through every stage (folds and swap test)."""
    from kpstance.run.pipeline import train

    tmp = tmp_path_factory.mktemp("smoke")
    cfg = compose(["experiment=smoke", *EVERY_STAGE], tmp)
    metrics = train(cfg)
    return {"tmp": tmp, "cfg": cfg, "metrics": metrics, "model_dir": Path(metrics["model_dir"])}


@pytest.fixture(scope="session")
def smoke_predictor(smoke_run):
    from kpstance import StancePredictor

    return StancePredictor.load(smoke_run["model_dir"])
