"""Leave no run folder that looks like a start: a refused run leaves none, a crashed one is marked failed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

HYDRA_FILES = {".hydra", "train.log"}
FAILED = "failed.json"  # in a run folder: the run stopped on an error (type and message inside); resume can continue it


def discard_run_dir(cfg: Any) -> bool:
    """Remove the run folder Hydra created (and parents left empty) if it holds only Hydra's own files.

    Returns whether the folder is gone (or never was)."""
    try:
        out = Path(str(cfg.paths.output_dir))
        stop = Path(str(cfg.paths.log_dir)).resolve()
    except Exception:  # an unresolvable config: nothing we can safely remove
        return False
    if not out.is_dir():
        return True
    if {p.name for p in out.iterdir()} - HYDRA_FILES:
        return False
    shutil.rmtree(out, ignore_errors=True)
    parent = out.resolve().parent
    while parent != stop and stop in parent.parents and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
    if stop.is_dir() and not any(stop.iterdir()):
        stop.rmdir()
    return True


def mark_failed(cfg: Any, error: BaseException) -> Path | None:
    """After a run stopped on ``error``: discard its folder if it holds only Hydra's own files, else write
    ``failed.json`` there (error type and message), so that no reader takes it for a run in progress.
    ``run_info.json`` stays the only sign of a finished run. A resumed run that crashes marks the folder it
    resumed; a refused resume (a KpstanceError) leaves that folder as it was. Returns the marker, if written."""
    from ..errors import KpstanceError

    folder = None if discard_run_dir(cfg) else Path(str(cfg.paths.output_dir))
    if cfg.get("resume") and not isinstance(error, KpstanceError):
        folder = _resumed_folder(cfg)
    if folder is None or not folder.is_dir() or (folder / "run_info.json").is_file():
        return None  # a finished run (its run_info.json written last) stays finished whatever stops afterwards
    return write_failed(folder, error)


def write_failed(folder: Path, error: BaseException) -> Path | None:
    from ..files import write_json

    text = str(error).strip()
    marker = folder / FAILED
    try:
        write_json(marker, {"error": type(error).__name__, "message": text.splitlines()[0] if text else ""})
    except Exception:  # noqa: BLE001 (never hide the run's own error behind one about its marker)
        return None
    return marker


def _resumed_folder(cfg: Any) -> Path | None:
    try:
        from .resume import find_resume_dir

        return find_resume_dir(cfg)
    except Exception:  # noqa: BLE001 (no interrupted run to name: nothing to mark)
        return None
