"""Reading user files: articles (.txt) and sentence lists (.jsonl), with one-line errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..files import open_binary, read_utf8
from .segment import KINDS

# The unit kinds the segmenter produces (``segment.Unit.kind``); a .jsonl line's optional "kind" must be one.


def read_article(path: str | os.PathLike) -> str:
    """Read an article and refuse one with no text."""
    return check_article(read_utf8(path), path)


def check_article(text: str, path: object) -> str:
    """An article's text with one kind of line ending; an empty one is refused."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise KpstanceError("the article is empty", path)
    return text


def _lines(path: str | os.PathLike) -> Iterator[str]:
    """Decoded lines of a file (or stdin for "-"), one at a time: constant memory for any size."""
    p = Path(path)
    if str(path) == "-":
        f = sys.stdin.buffer
        p = Path("<stdin>")
    else:
        f = open_binary(p)
    try:
        for lineno, raw in enumerate(f, start=1):
            if b"\x00" in raw:
                raise KpstanceError("looks like a binary file (NUL bytes), expected UTF-8 text", p, lineno)
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise KpstanceError(f"not valid UTF-8 (byte {e.start} of the line)", p, lineno) from None
            yield line.rstrip("\r\n")
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def iter_jsonl(path: str | os.PathLike, text_field: str | None = "text") -> Iterator[tuple[int, dict]]:
    """Yield (line number, record) for each non-blank line; each record must hold a string text."""
    for lineno, line in enumerate(_lines(path), start=1):
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
            check_record(rec, text_field, path, lineno)
        yield lineno, rec


def check_record(rec: dict, text_field: str, path: object, lineno: int) -> None:
    """Refuse what would be labelled anyway but wrongly: an empty text, or a ``kind`` / ``speaker`` the model
    would read as something else (a non-string, or a kind the segmenter never produces)."""
    if not rec[text_field].strip():
        raise KpstanceError(f'field "{text_field}" is empty; every line must hold a sentence', path, lineno)
    for key in ("kind", "speaker"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            raise KpstanceError(f'field "{key}" must be a string, got {json.dumps(rec[key])}', path, lineno)
    if rec.get("kind") and rec["kind"] not in KINDS:
        raise KpstanceError(f'field "kind" is {rec["kind"]!r}, expected one of {", ".join(KINDS)}', path, lineno)


def expand_inputs(inputs: list[str], suffixes: tuple[str, ...] = (".txt", ".jsonl")) -> list[str]:
    """Files as given, folders as the files under them with one of ``suffixes`` (recursive, sorted; hidden files and
    folders, such as ``.git`` or ``.ipynb_checkpoints``, left out), "-" for stdin."""
    out: list[str] = []
    for item in inputs:
        p = Path(item)
        if item != "-" and p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not files:
                kinds = " or ".join([", ".join(suffixes[:-1]), suffixes[-1]] if len(suffixes) > 1 else suffixes)
                raise KpstanceError(f"folder holds no {kinds} files", p)
            out += [str(f) for f in files]
        else:
            out.append(item)
    return out


def _stdin_records(language: str, text_column: str = "text") -> Iterator[tuple[dict, Any]]:
    """stdin is JSON Lines (streamed) when it starts with '{', otherwise one article."""
    stream = sys.stdin.buffer
    head = stream.peek(64)[:64].lstrip() if hasattr(stream, "peek") else b""
    if head.lstrip(b"\xef\xbb\xbf")[:1] == b"{":
        for line, rec in iter_jsonl("-"):
            yield rec, line
        return
    data = stream.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KpstanceError("not valid UTF-8", "<stdin>") from None
    header = [c.strip().strip('"').strip().lower() for c in text.lstrip("\n").split("\n", 1)[0].split(",")]
    if len(header) > 1 and text_column.lower() in header and all(c and " " not in c for c in header):
        # a CSV table piped in ('head articles.csv | kpstance predict ...') would be segmented as one article whose
        # title is its header: refused, since its columns (dates, outlets, ids) would be lost unsaid
        raise KpstanceError(f"looks like a CSV table (header {','.join(header)}); stdin is read as JSON Lines or as "
                            "one article: give the table as a .csv file (--input FILE.csv)", "<stdin>")
    for _, rec, u in unit_rows(text, "stdin", language, "<stdin>"):
        yield rec, u


def unit_rows(text: str, article_id: str, language: str = "en", source: object = None,
              title_first: bool = False) -> list[tuple[str, dict, Any]]:
    """An article's text as input rows (source, record, unit), segmented as a ``.txt`` file is (``title_first``:
    its first line is a title a table's column gave); empty is refused."""
    from .segment import segment_article

    where = source if source is not None else article_id
    if not text.strip():
        raise KpstanceError("the article is empty", where)
    return [(str(where), {"id": u.id, "article_id": u.article_id, "section": u.section, "kind": u.kind,
                          "text": u.text}, u) for u in segment_article(text, article_id, language,
                                                                        title_first=title_first)]


def txt_roots(inputs: Sequence[str]) -> dict[str, str]:
    """Each .txt file under an input folder → that folder (its article id is its path under it)."""
    roots: dict[str, str] = {}
    for item in inputs:
        p = Path(item)
        if item != "-" and p.is_dir():
            roots.update({str(f): str(p) for f in p.rglob("*") if f.suffix.lower() == ".txt"})
    return roots


def txt_article_id(path: str | Path, roots: dict[str, str]) -> str:
    """A .txt article's id: its path under the folder it was found in, without the suffix ("2017/11/a"), so that
    files of one name in different folders stay apart; the file's stem when it was named directly. Every command
    (label, predict, annotate) gives the same ids, so their outputs join."""
    p = Path(path)
    root = roots.get(str(p))
    return p.stem if root is None else p.relative_to(Path(root)).with_suffix("").as_posix()


def records(path: str, language: str = "en", roots: dict[str, str] | None = None,
            text_column: str = "text") -> Iterator[tuple[dict, Any]]:
    """(record to carry through, unit or line number) for each sentence of a .txt article or a .jsonl file.

    A .txt file is an article and is segmented (its id from ``txt_article_id`` and ``roots``, the inputs'
    ``txt_roots``); a .jsonl file holds one sentence per line in "text" and is not re-segmented: all its fields are
    carried through.
    """
    if path == "-":
        yield from _stdin_records(language, text_column)  # a CSV header naming it: a table, refused
        return
    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        for line, rec in iter_jsonl(p):
            yield rec, line
    else:
        for _, rec, u in unit_rows(read_article(p), txt_article_id(p, roots or {}), language, p):
            yield rec, u


def file_units(path: str, recs: list[tuple[dict, Any]]) -> list[Any]:
    """The units of one input file's ``records``: a .txt article's segmented units, or a .jsonl file's lines, one
    unit per line as given, read in order by the rules. A line's ``article_id`` keeps its article's speakers from
    the next article's lines (lines without one are one article, the file's); its ``kind`` is read as the model
    reads it; its ``speaker`` is who its "he" is and whose words a quote that opens it are; and its id is the one
    ``kpstance predict`` gives it (``id``, else FILE-LINE)."""
    from .segment import OPEN_QUOTES, Unit

    if not any(isinstance(w, int) for _, w in recs):
        return [w for _, w in recs]
    stem = "stdin" if path == "-" else Path(path).stem  # as kpstance predict names them
    units = []
    for r, line in recs:
        u = Unit.of_text(r["text"], str(r["id"]) if r.get("id") is not None else f"{stem}-{line}",
                         str(r.get("article_id") or stem), r.get("kind") or "sentence")
        if r.get("speaker"):
            u.extra["speaker"] = r["speaker"]
            if u.text[:1] in OPEN_QUOTES:  # a quote given with its speaker: the speaker's words, as in an article
                u.in_quote, u.quote_attribution = True, r["speaker"]
        units.append(u)
    return units


def iter_inputs(inputs: list[str]) -> Iterator[tuple[str, dict, Any]]:
    """(path, record, unit or line number) over all inputs, lazily."""
    roots = txt_roots(inputs)
    for path in expand_inputs(inputs):
        for rec, where in records(path, roots=roots):
            yield path, rec, where


def chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Lists of at most ``size`` items: bounded memory over an unbounded stream."""
    buf: list[Any] = []
    for it in items:
        buf.append(it)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf
