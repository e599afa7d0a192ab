"""Shared fixtures: the project's configs composed with Hydra, the article, a tiny trained model."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
ARTICLE = ROOT / "data" / "raw" / "tass-2017-11-24-lavrov.txt"
GOLD = ROOT / "data" / "gold" / "tass-2017-11-24-lavrov.jsonl"
LABELS = ROOT / "configs" / "labels" / "korean_peninsula.yaml"
ARTICLE_ID = "tass-2017-11-24-lavrov"


def no_tracking(overrides) -> list[str]:
    """Tests never write to the project's own MLflow store: tracking is off unless a test turns it on."""
    return [] if any(o.startswith(("logger=", "+logger")) for o in overrides) else ["logger=none"]


def compose(overrides: list[str], tmp: Path):
    """The train config as Hydra composes it, with run and model folders under ``tmp``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from kpstance.config import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return hydra_compose(
            "train",
            overrides=[f"paths.output_dir={tmp / 'run'}", f"paths.models_dir={tmp / 'models'}", *no_tracking(overrides),
                       *overrides],
        )


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
    """One smoke training run shared by the tests that need a saved model."""
    from kpstance.run.pipeline import train

    tmp = tmp_path_factory.mktemp("smoke")
    cfg = compose(["experiment=smoke"], tmp)
    metrics = train(cfg)
    return {"tmp": tmp, "cfg": cfg, "metrics": metrics, "model_dir": Path(metrics["model_dir"])}


def run_cli(*args: str, cwd: Path | None = None, stdin: str | None = None):
    """Run ``python -m kpstance.cli`` in a subprocess, as a user would."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "kpstance.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, input=stdin, timeout=300)
