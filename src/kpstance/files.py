"""Writing files so that a reader never sees half of one, and fault injection for crash tests.

Every output of the project (JSON, JSON Lines, CSV, model folders, the ``latest`` link) is
written under a hidden temporary name in the target's folder and renamed into place.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from .errors import KpstanceError


def _tmp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[IO[str]]:
    """A text file opened under a temporary name, renamed to ``path`` only when the block succeeds."""
    target = Path(path)
    tmp = _tmp_name(target)
    try:
        f = tmp.open("w", encoding="utf-8", newline="")
    except OSError as e:
        raise KpstanceError(f"cannot write: {e.strerror}", target) from None
    try:
        with f:
            yield f
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, obj: object) -> None:
    """JSON with two-space indent and real UTF-8, written atomically."""
    with atomic_open(path) as f:
        f.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    with atomic_open(path) as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_csv(path: str | os.PathLike, rows: Sequence[dict]) -> None:
    """A CSV whose columns are every key seen, in first-seen order; nothing is written for no rows."""
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_open(path) as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def atomic_folder(final: Path, fill: Callable[[Path], None], *, before_rename: Callable[[], None] | None = None) -> Path:
    """Fill a hidden temporary folder beside ``final``, then rename it into place (replacing an old one)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        fill(tmp)
        if before_rename is not None:
            before_rename()
        if final.exists():  # e.g. a resumed run that had already saved its model
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def atomic_symlink(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` (relative) by swapping a new symlink into place."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.parent / f".{link.name}-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)


def fault(point: str) -> None:
    """Fault injection for crash tests: KPSTANCE_FAULT=<point> kills the process there with SIGKILL."""
    if os.environ.get("KPSTANCE_FAULT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
