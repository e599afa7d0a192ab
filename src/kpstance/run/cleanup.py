"""Leave no run folder behind for a run that was refused before it wrote anything of its own."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

HYDRA_FILES = {".hydra", "train.log"}


def discard_run_dir(cfg: Any) -> None:
    """Remove the run folder Hydra created (and parents left empty) if it holds only Hydra's own files."""
    try:
        out = Path(str(cfg.paths.output_dir))
        stop = Path(str(cfg.paths.log_dir)).resolve()
    except Exception:  # an unresolvable config: nothing we can safely remove
        return
    if not out.is_dir() or {p.name for p in out.iterdir()} - HYDRA_FILES:
        return
    shutil.rmtree(out, ignore_errors=True)
    parent = out.resolve().parent
    while parent != stop and stop in parent.parents and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
    if stop.is_dir() and not any(stop.iterdir()):
        stop.rmdir()
