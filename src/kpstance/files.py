"""Writing files so that a reader never sees half of one, reading a user's text file with one-line errors, and
fault injection for crash tests.

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
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from .errors import KpstanceError

IS_A_FOLDER = "is a folder; the output must be a file name"


def open_binary(p: Path) -> IO[bytes]:
    """Open a file for binary reading, with the one-line errors users see."""
    try:
        return p.open("rb")
    except FileNotFoundError:
        raise KpstanceError("file not found", p) from None
    except IsADirectoryError:
        raise KpstanceError("is a folder, expected a file", p) from None
    except OSError as e:
        raise KpstanceError(f"cannot read: {e.strerror}", p) from None


def read_utf8(path: str | os.PathLike) -> str:
    """A UTF-8 text file's text; a BOM and Windows line endings are accepted, binary is refused, and a byte that is
    not UTF-8 is one line naming the file, its line and the byte of the line."""
    p = Path(path)
    with open_binary(p) as f:
        raw = f.read()
    if b"\x00" in raw[:8192]:
        raise KpstanceError("looks like a binary file (NUL bytes), expected UTF-8 text", p)
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw  # a BOM is accepted, and not counted in a line
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        line = body[: e.start].count(b"\n") + 1
        col = e.start - (body.rfind(b"\n", 0, e.start) + 1)  # as the line-by-line readers count: within the line
        raise KpstanceError(f"not valid UTF-8 (byte {col} of the line)", p, line) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


_PENDING: set[Path] = set()  # temporary files named and not yet renamed into place or removed


def temp_name(target: Path) -> Path:
    """A hidden temporary name beside ``target``, recorded before the file exists: a signal can land between the
    file's creation and the ``try`` that would remove it, and ``remove_temporaries`` still finds it."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    _PENDING.add(tmp)
    return tmp


def settle_temp(tmp: Path) -> None:
    """A temporary file renamed into place or abandoned: removed if it is still there, and no longer recorded."""
    tmp.unlink(missing_ok=True)
    _PENDING.discard(tmp)


def remove_temporaries() -> None:
    """Remove every temporary output file this process named (``temp_name``: tables, JSON, CSV, charts) and has not
    settled: called where a Ctrl-C or SIGTERM ends a command, so that none is left, whichever instruction the signal
    interrupted."""
    for tmp in list(_PENDING):
        try:
            settle_temp(tmp)
        except OSError:  # on the way out of an interrupted command: what cannot be removed stays, said by no traceback
            _PENDING.discard(tmp)


def _identity(p: Path) -> tuple[int, int] | None:
    """(device, inode): one file whatever path, symbolic or hard link leads to it; None if it does not exist."""
    try:
        st = p.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_outputs(outputs: Iterable[str | os.PathLike | None], inputs: Iterable[str | os.PathLike | None]) -> None:
    """Refuse, before anything is read or written, an output that is a folder, that cannot be written where it is
    (no such folder, no right to create a file there) or that is one of the inputs.

    An input folder stands for every file under it. Files are compared by device and inode, so a symbolic
    or hard link to an input is caught too: writing over it would silently replace the user's data.
    """
    outs = [Path(o) for o in outputs if o is not None and str(o) != "-"]
    for o in outs:
        if o.is_dir():
            raise KpstanceError(IS_A_FOLDER, o)
        if not o.parent.is_dir():  # before the work, not after it
            raise KpstanceError(f"cannot write: no folder {o.parent}", o)
        _check_writable(o)
    existing = {i: o for o in outs if (i := _identity(o)) is not None}
    if not existing:  # a new file cannot be an input: no need to walk the inputs
        return
    for item in inputs:
        if item is None or str(item) == "-":
            continue
        p = Path(item)
        for f in (x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]:
            out = existing.get(_identity(f))
            if out is not None:
                same = "" if str(f) == str(out) else f" ({f})"
                raise KpstanceError(f"the output is also an input{same}: writing it would destroy the input; "
                                    "choose another output file", out)


def _check_writable(out: Path) -> None:
    """Create and remove a file beside ``out``: a read-only file system or a folder the user may not write into is
    refused before any model is loaded, not after the first chunk is predicted."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".check", dir=out.parent)
    except OSError as e:
        raise KpstanceError(f"cannot write: {e.strerror}", out) from None
    os.close(fd)
    os.unlink(name)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[IO[str]]:
    """A text file opened under a temporary name, renamed to ``path`` only when the block succeeds."""
    target = Path(path)
    if target.is_dir():
        raise KpstanceError(IS_A_FOLDER, target)
    tmp = temp_name(target)
    try:
        f = tmp.open("w", encoding="utf-8", newline="")
    except OSError as e:
        raise KpstanceError(f"cannot write: {e.strerror}", target) from None
    try:
        with f:
            yield f
        os.replace(tmp, target)
    finally:
        settle_temp(tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` for a library that writes files itself (pandas' Parquet), renamed to
    ``path`` only when the block succeeds."""
    target = Path(path)
    if target.is_dir():
        raise KpstanceError(IS_A_FOLDER, target)
    tmp = temp_name(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as e:
        raise KpstanceError(f"cannot write: {e.strerror}", target) from None
    finally:
        settle_temp(tmp)


def save_figure(fig: Any, path: str | os.PathLike, dpi: int) -> None:
    """A matplotlib figure written atomically, its format from the extension (PNG without one); a format matplotlib
    cannot write or a folder that does not exist is a one-line error naming the file."""
    target = Path(path)
    fmt = target.suffix[1:].lower() or "png"
    if fmt not in fig.canvas.get_supported_filetypes():
        raise KpstanceError(f"cannot write a chart as .{fmt}; use .png, .svg or .pdf", target)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt)


def json_text(obj: object) -> str:
    """JSON with two-space indent and real UTF-8, as every JSON file of the project is written."""
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike, obj: object) -> None:
    """``json_text``, written atomically."""
    with atomic_open(path) as f:
        f.write(json_text(obj))


def write_together(files: dict[Path, str]) -> None:
    """Several text files that belong together, written all or none: each goes to a temporary name first, and
    the renames start only when every one is complete (a full disk or a folder in the way leaves none)."""
    tmps: dict[Path, Path] = {}
    try:
        for target, text in files.items():
            if target.is_dir():
                raise KpstanceError(IS_A_FOLDER, target)
            tmps[target] = tmp = temp_name(target)
            try:
                with tmp.open("w", encoding="utf-8", newline="") as f:
                    f.write(text)
            except OSError as e:
                raise KpstanceError(f"cannot write: {e.strerror}", target) from None
        for target, tmp in tmps.items():
            os.replace(tmp, target)
    finally:
        for tmp in tmps.values():
            settle_temp(tmp)


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
