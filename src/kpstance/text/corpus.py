"""A corpus as ``kpstance predict`` reads it: folders of ``.txt`` articles, JSON Lines, CSV and Parquet, streamed.

Each input yields *items* in a fixed order: an article (a ``.txt`` file, a CSV or Parquet row, a JSON Lines line
under ``--rows articles``) or a single unit (a JSON Lines line, by default). An item carries its metadata
(``date``, ``outlet``, ``title``, ``url``) and is segmented only when its rows are asked for, so a resumed run skips
the items it has done without segmenting them. An article's speakers never carry into the next item, so any item
boundary is a safe place to cut a corpus into shards.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import math
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import KpstanceError
from .segment import DATELINE_RE, dateline_agency

FIELDS = ("id", "text", "date", "outlet", "title", "url")  # the input columns, by their default names
META = ("date", "outlet", "title", "url")
SUFFIXES = (".txt", ".jsonl", ".csv", ".parquet")
ROWS = ("units", "articles")
BYTES_PER_SENTENCE = 150  # news prose: about 25 words a sentence; for the size estimate that ``auto`` reads

_MONTHS = {m: i for i, names in enumerate(
    (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")), start=1) for m in names}
_MONTH = r"(?P<{}>(?i:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r"))\.?"
# a dateline opens an article: a place in capitals, an optional weekday, then a date with a year. Only the month and
# weekday names ignore case: the place must be in capitals, so a sentence that opens the body ("North Korea fired a
# missile on Wednesday, Nov. 29, 2017") is not read as a dateline
_DATE_AFTER_PLACE = (
    r"(?:,\s*[A-Z][A-Za-z.]+)?,\s*(?:(?i:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day),?\s*)?"
    r"(?:" + _MONTH.format("m1") + r"\s+(?P<d1>\d{1,2}),?\s+(?P<y1>\d{4})"
    r"|(?P<d2>\d{1,2})\s+" + _MONTH.format("m2") + r",?\s+(?P<y2>\d{4})"
    r"|(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2}))\b")
_DATELINE = re.compile(r"^\s*[A-Z][A-Z.'\- ]{1,40}" + _DATE_AFTER_PLACE)
# a unit the segmenter has already taken for a dateline (it names an agency: "Pyongyang, September 22, 2017 (KCNA)
# --") may give its place in any case, as KCNA's and Xinhua's English do
_DATELINE_ANY_CASE = re.compile(r"^\s*[A-Z][A-Za-z.'\- ]{1,40}" + _DATE_AFTER_PLACE)


def dateline_date(text: str, where: str | None = None, dateline: bool = False) -> str | None:
    """The date of a dateline with a year ("SEOUL, Nov. 29, 2017 (Yonhap) --", "MOSCOW, 24 November 2017"), as
    YYYY-MM-DD; None where the text does not open with one (a date is never guessed from the body). Its place must
    be in capitals unless the segmenter already took the unit for a dateline (``dateline``). A dateline whose date
    does not exist ("Feb. 30, 2018") is a warning naming ``where``: the article goes undated."""
    m = (_DATELINE_ANY_CASE if dateline else _DATELINE).match(text)
    if not m:
        return None
    g = m.groupdict()
    try:
        if g["y1"]:
            return dt.date(int(g["y1"]), _MONTHS[g["m1"].lower()], int(g["d1"])).isoformat()
        if g["y2"]:
            return dt.date(int(g["y2"]), _MONTHS[g["m2"].lower()], int(g["d2"])).isoformat()
        return dt.date(int(g["y3"]), int(g["m3"]), int(g["d3"])).isoformat()
    except ValueError:  # "Feb. 30": not a date
        day = text[min(m.start(k) for k in ("m1", "d2", "y3") if g[k]) : m.end()]
        print(f"kpstance: warning: {where or 'an article'}: the dateline's date {day!r} does not exist; the article "
              "has no date", file=sys.stderr)
        return None


def parse_date(value: Any, column: str, where: object, line: int | None) -> str | None:
    """A date column's value as YYYY-MM-DD: ISO dates and timestamps (text or Parquet date/timestamp types);
    empty is None; anything else is refused in one line naming the file, the row and the column."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    s = str(value).strip()
    if not s:
        return None
    try:
        return dt.date.fromisoformat(s).isoformat() if len(s) == 10 else dt.datetime.fromisoformat(s).date().isoformat()
    except ValueError:
        raise KpstanceError(f'column "{column}": cannot read {s!r} as a date (expected YYYY-MM-DD or an ISO '
                            "timestamp)", where, line) from None


@dataclass
class Columns:
    """Which input column holds each field (``--columns text=body,id=doc_id``)."""

    names: dict[str, str] = field(default_factory=lambda: {f: f for f in FIELDS})
    mapped: tuple[str, ...] = ()  # the fields --columns names: a table must hold their columns

    @classmethod
    def parse(cls, spec: str | None) -> Columns:
        names = {f: f for f in FIELDS}
        mapped = []
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            key, sep, col = part.partition("=")
            if not sep or key.strip() not in FIELDS or not col.strip():
                raise KpstanceError(f"--columns: cannot read {part!r}; expected FIELD=COLUMN with FIELD one of "
                                    f"{', '.join(FIELDS)}")
            names[key.strip()] = col.strip()
            mapped.append(key.strip())
        return cls(names, tuple(mapped))

    def missing(self, have: Sequence[str], p: Path, line: int | None) -> None:
        """Refuse a table without the columns of id and text, or of any field --columns names (a mapping to a column
        the table lacks used to leave that field empty on every row, in silence)."""
        for need in ["id", "text", *(f for f in self.mapped if f not in ("id", "text"))]:
            if self[need] not in have:
                how = (f"you mapped {need}={self[need]}" if need in self.mapped
                       else f"map another with --columns {need}=NAME")
                raise KpstanceError(f'missing column "{self[need]}" (columns: {", ".join(have)}; {how})', p, line)

    def __getitem__(self, key: str) -> str:
        return self.names[key]


@dataclass
class Item:
    """One article or one unit of the corpus, in input order; ``rows()`` segments it."""

    source: str  # the file, for errors and for the context reader
    line: int | None  # its line (JSON Lines) or row (CSV, Parquet), for errors
    article_id: str
    meta: dict[str, str | None]
    text: str
    record: dict | None = None  # a JSON Lines unit: its record, carried through
    language: str = "en"
    prepared: list[tuple[str, dict, Any]] | None = None  # an article read from stdin, segmented on reading
    titled: bool = False  # its first line is the headline a title column gave, whatever its punctuation

    def rows(self) -> list[tuple[str, dict, Any]]:
        """The input rows ``StancePredictor.predict_rows`` reads: a unit as given, or the article segmented as a
        ``.txt`` file is; a date the input lacks is read from the article's dateline where it has a year."""
        from .read import unit_rows

        if self.prepared is not None:
            return self.prepared
        if self.record is not None:
            return [(self.source, self.record, self.line)]
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        rows = unit_rows(self.text, self.article_id, self.language, where, title_first=self.titled)
        fill_meta(self.meta, rows, where)
        return rows


def fill_meta(meta: dict, rows: Sequence[tuple[str, dict, Any]], where: str) -> None:
    """What an article's input lacks, read from its segmented rows: the date of a dateline that gives a year, the
    agency a dateline names ("(Reuters)", "/TASS/.", "June 22 Kyodo -") as its outlet, and its headline as title."""
    if not meta.get("date"):
        # the dateline opens the body: after the headline and any standfirst, up to the first sentence (which may
        # carry it glued on); a standfirst before it hid it, and the article went undated (a README audit). A unit the
        # segmenter's dateline pattern takes (it names an agency) may give its place in any case
        for _, rec, _ in rows:
            if rec["kind"] == "title":
                continue
            text = rec["text"]
            meta["date"] = dateline_date(text, where, dateline=bool(DATELINE_RE.match(text.strip())))
            if meta["date"] or rec["kind"] not in ("subtitle", "dateline"):
                break
    if not meta.get("outlet"):
        meta["outlet"] = next((dateline_agency(rec["text"]) for _, rec, _ in rows if rec["kind"] == "dateline"), None)
    if not meta.get("title"):  # a .txt article's headline, its first line, fills the title column
        meta["title"] = next((rec["text"] for _, rec, _ in rows if rec["kind"] == "title"), None)


def expand(inputs: Sequence[str]) -> list[str]:
    """Files as given; folders as the corpus files under them (recursive, sorted); "-" for stdin."""
    from .read import expand_inputs

    return expand_inputs(list(inputs), SUFFIXES)


def txt_item(path: str | Path, text: str, roots: dict[str, str], language: str = "en") -> Item:
    """A .txt file read as one article."""
    from .read import check_article, txt_article_id

    p = Path(path)
    return Item(str(p), None, txt_article_id(p, roots), {m: None for m in META}, check_article(text, p), None,
                language)


def iter_items(inputs: Sequence[str], columns: Columns | None = None, rows: str = "units",
               language: str = "en") -> Iterator[Item]:
    """Every item of every input, lazily, in a fixed order."""
    from .read import read_article, records, txt_article_id, txt_roots

    columns = columns or Columns()
    if rows not in ROWS:
        raise KpstanceError(f"--rows must be one of {', '.join(ROWS)}, got {rows!r}")
    roots = txt_roots(inputs)
    for path in expand(inputs):
        p = Path(path)
        suffix = p.suffix.lower()
        if path == "-":
            article: list[tuple[str, dict, Any]] = []
            told = False
            for rec, where in records("-", language, text_column=columns["text"]):
                if isinstance(where, int):
                    told = told or _several_lines(rec.get(columns["text"]), "<stdin>", where)
                    yield unit_item("<stdin>", where, rec, "stdin", columns)
                else:  # an article on stdin: one item of all its units
                    article.append(("<stdin>", rec, where))
            if article:
                meta = {m: None for m in META}
                fill_meta(meta, article, "<stdin>")
                yield Item("<stdin>", None, "stdin", meta, "", None, language, article)
        elif suffix == ".jsonl":
            yield from _jsonl_items(p, columns, rows, language)
        elif suffix == ".csv":
            yield from _table_items(p, _csv_rows(p, columns), columns, language)
        elif suffix == ".parquet":
            yield from _table_items(p, _parquet_rows(p, columns), columns, language)
        else:
            yield Item(str(p), None, txt_article_id(p, roots), {m: None for m in META}, read_article(p), None,
                       language)



def _meta(rec: dict, columns: Columns, where: object, line: int | None) -> dict[str, str | None]:
    meta: dict[str, str | None] = {}
    for m in META:
        v = rec.get(columns[m])
        if m == "date":
            meta[m] = parse_date(v, columns[m], where, line)
        else:
            meta[m] = None if v is None or (isinstance(v, float) and math.isnan(v)) or str(v) == "" else str(v)
    return meta


def _text(rec: dict, columns: Columns, where: object, line: int | None, what: str) -> str:
    col = columns["text"]
    noun, row = ("field", "line") if str(where).lower().endswith(".jsonl") else ("column", "row")
    if col not in rec:
        raise KpstanceError(f'missing {noun} "{col}" (the {what} text; map another with --columns text=NAME)',
                            where, line)
    v = rec[col]
    if not isinstance(v, str) or not v.strip():
        raise KpstanceError(f'{noun} "{col}" is empty or not text; every {row} must hold its {what} text', where, line)
    return v


def unit_item(source: str, line: int, rec: dict, stem: str, columns: Columns) -> Item:
    """A JSON Lines line read as one unit: its record travels through; its id, when it has none, is FILE-LINE."""
    rec = dict(rec)
    if columns["text"] != "text":
        rec["text"] = _text(rec, columns, source, line, "sentence")
    if rec.get(columns["id"]) is not None:
        rec["id"] = str(rec[columns["id"]])
    rec.setdefault("id", f"{stem}-{line}")
    article = str(rec.get("article_id") or stem)
    return Item(source, line, article, _meta(rec, columns, source, line), rec["text"], rec)


def _jsonl_items(p: Path, columns: Columns, rows: str, language: str) -> Iterator[Item]:
    from .read import check_record, iter_jsonl

    told = False
    for line, rec in iter_jsonl(p, None):
        if rows == "units":
            text = _text(rec, columns, p, line, "sentence")
            check_record({**rec, "text": text}, "text", p, line)
            told = told or _several_lines(text, p, line)
            yield unit_item(str(p), line, rec, p.stem, columns)
        else:
            yield article_item(p, line, rec, columns, language)


def _several_lines(text: Any, where: object, line: int) -> bool:
    """Warn, once per input, of a row read as one unit whose text runs over several lines: no sentence holds a line
    break, so it is most likely a whole article. True once warned."""
    if not isinstance(text, str) or "\n" not in text.strip():
        return False
    print(f"kpstance: warning: {where}:{line}: a row's text runs over several lines (a whole article?); each row is "
          "read as one unit: to segment each row as an article, run kpstance predict --rows articles (and summarize "
          "its output)", file=sys.stderr)
    return True


def article_item(p: Path, line: int, rec: dict, columns: Columns, language: str) -> Item:
    text = _text(rec, columns, p, line, "article")
    aid = rec.get(columns["id"])
    if aid is None or str(aid).strip() == "" or (isinstance(aid, float) and math.isnan(aid)):
        raise KpstanceError(f'missing or empty column "{columns["id"]}" (the article id; map another with '
                            "--columns id=NAME)", p, line)
    meta = _meta(rec, columns, p, line)
    title = (meta.get("title") or "").strip()
    if title and not text.lstrip().startswith(title):  # the headline, as a .txt file's first line holds it
        text = f"{title}\n{text}"
    titled = bool(title) and text.lstrip().split("\n", 1)[0].strip() == title
    return Item(str(p), line, str(aid), meta, text, None, language, titled=titled)


def _table_items(p: Path, rows: Iterator[tuple[int, dict]], columns: Columns, language: str) -> Iterator[Item]:
    for line, rec in rows:
        yield article_item(p, line, rec, columns, language)


_EXTRA = "\x00extra cells"  # DictReader's key for the cells past the header's


def csv_records(f: IO[str], p: Path) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """A CSV file's header and its rows with the line each starts on (a quoted text may span lines).

    A row with more cells than the header (an unquoted comma in a text), with fewer (an unquoted line break) or a
    quote that never closes is refused with its line: read on, each would silently cut a text short, make a row of
    its rest or swallow the rows after it."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # an article is one field, often over 128 KB
    reader = csv.DictReader(f, restkey=_EXTRA, strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as e:
        raise KpstanceError(f"not valid CSV ({e})", p, 1) from None
    except UnicodeDecodeError:
        raise _bad_utf8(p) from None

    def rows() -> Iterator[tuple[int, dict]]:
        start = 2
        try:
            for rec in reader:
                extra = rec.pop(_EXTRA, None)
                if extra and any(c.strip() for c in extra):  # empty trailing cells ("a,b,,") are a writer's habit
                    raise KpstanceError(f"{len(header) + len(extra)} cells but the header has {len(header)} "
                                        "(a comma in a text that is not quoted? quote the field)", p, start)
                short = sum(v is None for k, v in rec.items() if k)  # an unnamed column (a trailing comma) is none
                if short:  # a text broken by an unquoted line break: its rest would read as a row of its own
                    raise KpstanceError(f"{len(header) - short} cells but the header has {len(header)} (a line break "
                                        "in a text that is not quoted? quote the field; an empty cell is written "
                                        "as nothing between two commas)", p, start)
                yield start, rec
                start = reader.line_num + 1
        except UnicodeDecodeError:
            raise _bad_utf8(p) from None
        except csv.Error as e:
            if "unexpected end of data" in str(e):
                raise KpstanceError("a quoted field opened in this row is never closed", p, start) from None
            raise KpstanceError(f"not valid CSV ({e})", p, start) from None

    return header, rows()


def _bad_utf8(p: Path) -> KpstanceError:
    """The first line of ``p`` that is not UTF-8, and the byte in it, as the line reader names them: the text
    decoder that fails reads ahead in blocks, so its own position names neither (it named line 1 and an offset in
    the file)."""
    from .read import _lines

    try:
        collections.deque(_lines(p), maxlen=0)
    except KpstanceError as e:
        return e
    return KpstanceError("not valid UTF-8", p)


def _csv_rows(p: Path, columns: Columns | None = None) -> Iterator[tuple[int, dict]]:
    """CSV rows with their line numbers; the header must hold the columns."""
    try:
        f = p.open(encoding="utf-8-sig", newline="")
    except OSError as e:
        raise KpstanceError(f"cannot read: {e.strerror}", p) from None
    with f:
        header, rows = csv_records(f, p)
        _check_header(header, columns, p)
        yield from rows


def _check_header(header: Sequence[str], columns: Columns | None, p: Path) -> None:
    """A CSV corpus's header holds the id and text columns (any columns when ``columns`` is None)."""
    if not header:
        raise KpstanceError("the file is empty (a CSV corpus starts with a header line of column names)", p)
    if columns is not None:
        columns.missing(header, p, 1)


def _parquet_rows(p: Path, columns: Columns, batch: int = 256) -> Iterator[tuple[int, dict]]:
    """Parquet rows (numbered from 1) in batches, reading only the mapped columns: constant memory."""
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(p)
    except FileNotFoundError:
        raise KpstanceError("file not found", p) from None
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, … for a damaged or foreign file
        raise KpstanceError(f"not a readable Parquet file ({str(e).splitlines()[0]})", p) from None
    have = set(f.schema_arrow.names)
    columns.missing(sorted(have), p, None)
    wanted = [columns[c] for c in FIELDS if columns[c] in have]
    n = 0
    try:
        for b in f.iter_batches(batch_size=batch, columns=wanted):
            for rec in b.to_pylist():
                n += 1
                yield n, rec
    except OSError as e:
        raise KpstanceError(f"not a readable Parquet file ({str(e).splitlines()[0]})", p, n + 1) from None


def check_inputs(files: Sequence[str], columns: Columns, rows: str = "units", every_row: bool = False) -> None:
    """What can be checked without reading a corpus through: every file exists, a Parquet file's schema and a
    CSV file's header hold the id and text columns. (The local path checks each row as it reads it.) With
    ``every_row``, every row of the tables and JSON Lines files is read and checked as the local path would
    (cells, quotes, ids, texts, dates; no segmenting): the Ray engine's readers run in tasks whose errors come back
    as Ray tracebacks, not as the row's line."""
    for path in files:
        if not Path(path).is_file():
            raise KpstanceError("file not found", path)
    if every_row:  # the items the local path reads, not segmented; a .txt article is read whole by a replica
        collections.deque(iter_items([f for f in files if Path(f).suffix.lower() != ".txt"], columns, rows), maxlen=0)
        return
    for path in files:
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix == ".parquet":
            next(_parquet_rows(p, columns, batch=1), None)
        elif suffix == ".csv":
            with p.open(encoding="utf-8-sig", newline="") as f:
                _check_header(next(csv.reader(f), []), columns, p)


def estimate_units(inputs: Sequence[str]) -> int | None:
    """About how many sentences the inputs hold, from their sizes (stdin: unknown): what ``auto`` decides by."""
    total = 0
    for path in expand(inputs):
        if path == "-":
            return None
        p = Path(path)
        try:
            if p.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                md = pq.ParquetFile(p).metadata
                total += sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
            else:
                total += p.stat().st_size
        except Exception:  # the reader reports an unreadable file properly, in order
            continue
    return total // BYTES_PER_SENTENCE


def count_items(inputs: Sequence[str], rows: str = "units") -> int | None:
    """How many items the inputs hold, for the progress bar's ETA (cheap next to prediction); None for stdin."""
    n = 0
    for path in expand(inputs):
        p = Path(path)
        suffix = p.suffix.lower()
        if path == "-":
            return None
        try:
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                n += pq.ParquetFile(p).metadata.num_rows
            elif suffix == ".jsonl":
                with p.open("rb") as f:
                    n += sum(1 for line in f if line.strip())
            elif suffix == ".csv":
                n += sum(1 for _ in _csv_rows(p))
            else:
                n += 1
        except (OSError, KpstanceError):
            continue
        except Exception:  # a damaged Parquet file: the reader says so when it gets there
            continue
    return n
