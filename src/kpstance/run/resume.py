"""Resuming an interrupted run: find its folder, and refuse a config other than the one it started with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import RUN_LOCAL_KEYS
from ..errors import KpstanceError
from ..systems.precision import env_training_precision
from .cleanup import FAILED


def without_run_keys(cfg: Any) -> Any:
    """The config minus what only says where and how this process runs (for saving and comparing)."""
    from omegaconf import OmegaConf

    c = OmegaConf.to_container(cfg, resolve=True)
    for key in RUN_LOCAL_KEYS:
        *parents, last = key.split(".")
        node = c
        for p in parents:
            node = node.get(p, {})
        node.pop(last, None)
    return OmegaConf.create(c)


def find_resume_dir(cfg: Any) -> Path:
    """``resume=<folder>``, or ``resume=true``: the newest unfinished run folder of this task (one without
    ``run_info.json``, the marker a run writes last; a crashed run marked ``failed.json`` is one of them)."""
    if isinstance(cfg.resume, str) and cfg.resume.lower() not in ("true", "1", "yes"):
        p = Path(cfg.resume)
        if not (p / "config.yaml").is_file():
            raise KpstanceError("not a run folder (no config.yaml)", p)
        return p
    runs = Path(cfg.paths.log_dir) / cfg.task_name / "runs"
    current = Path(cfg.paths.output_dir).resolve()
    candidates = sorted(
        (p for p in runs.glob("*") if (p / "config.yaml").is_file() and not (p / "run_info.json").is_file()
         and p.resolve() != current),
        key=lambda p: p.stat().st_mtime,
    )
    if not candidates:
        raise KpstanceError(f"no interrupted run of task '{cfg.task_name}' to resume", runs)
    return candidates[-1]


def check_same_config(run_dir: Path, resolved: str) -> None:
    """Refuse to resume with a config other than the interrupted run's; once it matches, the run is taken up
    again, so a ``failed.json`` left by an earlier crash no longer holds and is removed."""
    import yaml

    old = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    new = yaml.safe_load(resolved)
    env = env_training_precision()
    trainer = old.get("trainer") if isinstance(old, dict) else None
    # a run saved as `auto` under $KPSTANCE_PRECISION (before prepare wrote the precision it chose) is that precision
    if env and isinstance(trainer, dict) and trainer.get("precision") == "auto":
        trainer["precision"] = env

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
    (run_dir / FAILED).unlink(missing_ok=True)
