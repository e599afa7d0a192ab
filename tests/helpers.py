"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "data" / "raw" / "tass-2017-11-24-lavrov.txt"
GOLD = ROOT / "data" / "gold" / "tass-2017-11-24-lavrov.jsonl"
LABELS = ROOT / "configs" / "labels" / "korean_peninsula.yaml"
ARTICLE_ID = "tass-2017-11-24-lavrov"


def no_tracking(overrides) -> list[str]:
    """Tests never write to the project's own MLflow store: tracking is off unless a test turns it on."""
    return [] if any(o.startswith(("logger=", "+logger")) for o in overrides) else ["logger=none"]


def compose(overrides: list[str], tmp: Path):
    """The train config as Hydra composes it, with run and model folders under ``tmp``."""
    from kpstance.config import compose as compose_config

    return compose_config([f"paths.output_dir={tmp / 'run'}", f"paths.models_dir={tmp / 'models'}",
                           *no_tracking(overrides), *overrides])


# the smoke experiment skips the folds and the speaker-swap test (two thirds of its time); tests of them ask for them
EVERY_STAGE = ("evaluation.cv=true", "evaluation.swap=true")


def run_cli(*args: str, cwd: Path | None = None, stdin: str | None = None):
    """Run ``python -m kpstance.cli`` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "kpstance.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, input=stdin, timeout=300)


def cli(capsys, *args) -> tuple[int, str, str]:
    """``kpstance`` in this process (no interpreter start-up per call): exit code, stdout, stderr. As in a process
    of its own, a warning logged goes to stderr (pytest's log capture would keep it out of ``err``)."""
    import logging

    from kpstance.cli import main

    root = logging.getLogger()
    stderr = logging.StreamHandler(sys.stderr)  # what Python's last-resort handler prints in a process
    stderr.setLevel(logging.WARNING)
    capsys.readouterr()
    root.addHandler(stderr)
    try:
        code = main([str(a) for a in args])
    finally:
        root.removeHandler(stderr)
    out = capsys.readouterr()
    return code, out.out, out.err


def run_here(capsys, *args) -> subprocess.CompletedProcess:
    """``run_cli``'s answer from ``kpstance`` run in this process: the same exit code and output, without the
    seconds an interpreter and torch take to start (tests of stdin, signals and terminals keep ``run_cli``)."""
    code, out, err = cli(capsys, *args)
    return subprocess.CompletedProcess(["kpstance", *map(str, args)], code, out, err)


def train_py(tmp: Path, *overrides: str, env: dict | None = None, wait: bool = True, smoke: bool = True):
    """Run ``train.py`` in a subprocess (the smoke experiment unless ``smoke=False``), folders under ``tmp``."""
    flags = [o for o in overrides if o.startswith("-")]  # --multirun and friends go before the overrides
    overrides = tuple(o for o in overrides if not o.startswith("-"))
    cmd = [sys.executable, str(ROOT / "train.py"), *flags, *(["experiment=smoke"] if smoke else []),
           f"paths.log_dir={tmp / 'outputs'}", f"paths.models_dir={tmp / 'models'}", *no_tracking(overrides),
           *overrides]
    e = {**os.environ, **(env or {})}
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=tmp)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=tmp, timeout=600)


def run_dirs(tmp: Path) -> list[Path]:
    return sorted((tmp / "outputs" / "smoke" / "runs").glob("*"))


def load_script(path: Path, name: str | None = None):
    """A script of the project (``scripts/*.py``, ``train.py``) as a module, to call its functions in this process."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

