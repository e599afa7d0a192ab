"""Reading user files: articles (.txt) and sentence lists (.jsonl), with one-line errors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import KpstanceError


def read_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file; a BOM and Windows line endings are accepted, binary is refused."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise KpstanceError("file not found", p) from None
    except IsADirectoryError:
        raise KpstanceError("is a folder, expected a file", p) from None
    except OSError as e:
        raise KpstanceError(f"cannot read: {e.strerror}", p) from None
    if b"\x00" in raw[:8192]:
        raise KpstanceError("looks like a binary file (NUL bytes), expected UTF-8 text", p)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise KpstanceError(f"not valid UTF-8 (byte {e.start})", p, line) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_article(path: str | os.PathLike) -> str:
    """Read an article and refuse one with no text."""
    text = read_text(path)
    if not text.strip():
        raise KpstanceError("the article is empty", path)
    return text


def iter_jsonl(path: str | os.PathLike, text_field: str | None = "text") -> Iterator[tuple[int, dict]]:
    """Yield (line number, record) for each non-blank line; each record must hold a string text."""
    for lineno, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise KpstanceError(f"not valid JSON ({e.msg})", path, lineno) from None
        if not isinstance(rec, dict):
            raise KpstanceError("expected a JSON object", path, lineno)
        if text_field is not None:
            if text_field not in rec:
                raise KpstanceError(f'missing field "{text_field}"', path, lineno)
            if not isinstance(rec[text_field], str):
                raise KpstanceError(f'field "{text_field}" must be a string', path, lineno)
        yield lineno, rec
