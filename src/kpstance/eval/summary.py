"""Who stood where, and when: each actor's stance shares per period, corrected for the classifier's errors.

``kpstance summarize`` (and ``kpstance.summarize``) reads the table ``kpstance predict`` writes, or predicts
articles first through the same path, keeps the news units (titles, datelines and subheadings are left out,
and counted), and estimates per actor and period the share of each stance with a 95 % interval by the
estimators of ``eval.shares``. Units are counted as they stream by and the bootstrap is a streaming one, so
memory holds sums per period and replicate (and a hash per article, to count articles): it does not grow with the
sentences of a corpus.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..corpora import gold_units
from ..errors import KpstanceError
from ..text.segment import is_news
from .shares import (
    ESTIMATORS,
    NEAR_SINGULAR,
    DevConfusion,
    article_hash,
    dev_matrices,
    estimate_period,
    net_indices,
    poisson_weights,
)

BY = ("all", "day", "week", "month", "quarter", "half", "year")
# The default estimator, chosen by its error on the dated gold (docs/results.md, scripts/share_accuracy.py).
DEFAULT_ESTIMATOR = "cc"
DEV_GOLD_REL = "data/multisource/sentences.jsonl"
TABLE_COLUMNS = frozenset({"unit_id", "actor", "stance"})  # what marks an input as a predictions table
ALL = date(1, 1, 1)  # the one period of --by all
MIN_ARTICLES = 2  # an interval needs articles to vary: with fewer, its bounds are left empty
FEW_REPLICATES = 200  # fewer bootstrap replicates give rough 95 % bounds: said in a warning
FEW_DEV_UNITS = 30  # dev units of a stance under which its row of the confusion matrix is said to be rough


@dataclass
class Labels:
    """What a summary needs of the label scheme: its labels in order, its no-actor label and stance roles."""

    actors: list[str]
    stances: list[str]
    none_actor: str
    roles: dict[str, str]

    @classmethod
    def of(cls, scheme: Any) -> Labels:
        return cls(list(scheme.actor_labels), list(scheme.stances), scheme.none_actor, dict(scheme.roles))


# ---------------------------------------------------------------------------------------------------- periods
def period_start(d: date, by: str) -> date:
    """The first day of the period holding ``d`` (weeks start on Monday, ISO 8601)."""
    if by == "all":
        return ALL
    if by == "day":
        return d
    if by == "week":
        return d - timedelta(days=d.weekday())
    if by == "month":
        return d.replace(day=1)
    if by == "quarter":
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    if by == "half":
        return date(d.year, 1 if d.month <= 6 else 7, 1)
    return date(d.year, 1, 1)


def next_period(start: date, by: str) -> date:
    if by == "day":
        return start + timedelta(days=1)
    if by == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "half": 6, "year": 12}[by]
    m = start.month - 1 + months
    return date(start.year + m // 12, m % 12 + 1, 1)


def span(by: str) -> str:
    """What a table's periods are, in words: "by month", or "over the whole input" for ``--by all``."""
    return "over the whole input" if by == "all" else f"by {by}"


def period_label(start: date, by: str) -> str:
    if by == "all":
        return "all"
    if by == "week":
        y, w, _ = start.isocalendar()
        return f"{y}-W{w:02d}"
    if by == "month":
        return f"{start.year}-{start.month:02d}"
    if by == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if by == "half":
        return f"{start.year}-H{1 if start.month <= 6 else 2}"
    if by == "year":
        return str(start.year)
    return start.isoformat()


def period_range(starts: Iterable[date], by: str) -> list[date]:
    """Every period from the first to the last that holds units, the empty ones between included."""
    starts = sorted(set(starts))
    if by == "all" or not starts:
        return starts
    out = [starts[0]]
    while out[-1] < starts[-1]:
        out.append(next_period(out[-1], by))
    return out


def read_date(value: Any) -> date | None:
    """A row's date: an ISO date (or date-time) string, a date, or a timestamp; None when it cannot be read."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------- counting
@dataclass
class Counts:
    """Units counted as they stream by: per period and actor, the units labelled each stance, the sums of their
    stance probabilities and of the probabilities' outer products (what the intervals need of the classifier's
    error), their articles, and the same counts and sums in each bootstrap replicate, each article weighted by
    its Poisson draws (``shares.poisson_weights``). Memory grows with periods × replicates, never with the units;
    per article only a hash is kept, to count articles."""

    labels: Labels
    by: str = "all"
    actors: Sequence[str] | None = None  # the actors to keep (default: every actor but the no-actor label)
    outlets: Sequence[str] | None = None
    n_boot: int = 1000
    seed: int = 0
    # the dates counted, both ends included (--start, --end): the table's periods run over them whatever the units,
    # so tables of different outlets or actors share their rows
    first: date | None = None
    last: date | None = None
    left_out: Counter = field(default_factory=Counter)
    counted: int = 0
    has_probs: bool = True
    undated_example: str | None = None
    # runs of rows of an article counted before, after other articles' rows (an input given twice, two inputs that
    # share article ids): told from the article hashes the bootstrap keeps anyway, so no memory per unit
    apart: int = 0
    apart_example: str | None = None
    # the models that predicted the rows (the table's model column; a table written before it has none): rows per
    # model, and where each first appears
    models: Counter = field(default_factory=Counter)
    model_example: dict[str, str] = field(default_factory=dict)
    unrecorded: int = 0  # rows with no model recorded: taken as the named model's

    def __post_init__(self) -> None:
        keep = list(self.actors) if self.actors else [a for a in self.labels.actors if a != self.labels.none_actor]
        unknown = [a for a in keep if a not in self.labels.actors]
        if unknown:
            raise KpstanceError(f"--actors: unknown actor {', '.join(unknown)}; the model's actors are "
                                f"{', '.join(self.labels.actors)}")
        if self.labels.none_actor in keep:
            raise KpstanceError(f"--actors: '{self.labels.none_actor}' is the label of units no actor speaks or acts "
                                "in (quotes of analysts, background): their stance is nobody's, so it has no shares")
        if self.first and self.last and self.first > self.last:
            raise KpstanceError(f"--start {self.first} is after --end {self.last}")
        self._known = set(self.labels.actors)
        self.keep = keep
        self._actor = {a: i for i, a in enumerate(keep)}
        self._stance = {s: i for i, s in enumerate(self.labels.stances)}
        # outlets are matched ignoring case ('TASS', 'Tass'); which ones matched is kept, to name those that did not
        self._outlets = {o.casefold() for o in self.outlets} if self.outlets else None
        self.outlets_seen: set[str] = set()
        self._dates: dict[Any, date | None] = {}
        self._prob_keys = [f"stance_p_{s}" for s in self.labels.stances]
        shape = (len(keep), len(self.labels.stances))
        self.point: dict[date, list[np.ndarray]] = {}  # period -> counts, probs, articles per actor
        self.boot: dict[date, list[np.ndarray]] = {}  # period -> counts, probs per replicate
        self._key: tuple[date, str] | None = None  # the article being counted, and its sums
        self._seen: dict[tuple[date, int], int] = {}  # (period, article hash) -> bitmask of its actors counted
        self._counts, self._probs = np.zeros(shape), np.zeros(shape)
        self._outer = np.zeros((*shape, shape[1]))

    def add(self, row: Mapping[str, Any], where: str = "") -> None:
        outlet = str(row.get("outlet") or "").casefold() if self._outlets is not None else ""
        if outlet in (self._outlets or ()):  # the name matched, whether or not this unit is counted
            self.outlets_seen.add(outlet)
        model = row.get("model")
        if isinstance(model, str) and model:
            self.models[model] += 1
            if model not in self.model_example:
                self.model_example[model] = where or "a row"
        else:
            self.unrecorded += 1
        kind = row.get("kind") or "sentence"
        if not is_news(kind):
            self.left_out[kind] += 1
            return
        actor, stance = row.get("actor"), row.get("stance")
        if not isinstance(actor, str) or not isinstance(stance, str) or not actor or not stance:
            raise KpstanceError(f"{where or 'a row'}: no actor or stance: not a row of a predictions table")
        # checked on every row, whatever the filters keep: a table of another model or label file is refused, not
        # counted as "other actors"
        s = self._stance.get(stance)
        if s is None:
            raise KpstanceError(f"{where or 'a row'}: stance '{stance}' is not one of the model's "
                                f"({', '.join(self.labels.stances)})")
        if actor not in self._known:
            raise KpstanceError(f"{where or 'a row'}: actor '{actor}' is not one of the model's "
                                f"({', '.join(self.labels.actors)}): a table another model or label file wrote?")
        k = self._actor.get(actor)
        if k is None:
            self.left_out["no actor" if actor == self.labels.none_actor else "other actors"] += 1
            return
        if self._outlets is not None and outlet not in self._outlets:
            self.left_out["other outlets"] += 1
            return
        start = ALL
        if self.by != "all" or self.first or self.last:
            raw = row.get("date")
            if isinstance(raw, (date, datetime)):
                d = read_date(raw)
            else:  # cached by the day it names: the cache holds days, not rows
                key = None if raw is None else str(raw).strip()[:10]
                d = self._dates[key] if key in self._dates else self._dates.setdefault(key, read_date(key))
            if d is None:
                self.left_out["no readable date"] += 1
                if self.undated_example is None:
                    shown = "no date" if raw is None or raw == "" else repr(raw)
                    self.undated_example = f"{where}: {shown}" if where else shown
                return
            if (self.first and d < self.first) or (self.last and d > self.last):
                self.left_out["outside --start/--end"] += 1
                return
            start = period_start(d, self.by) if self.by != "all" else ALL
        article = row.get("article_id")
        if article is None or (isinstance(article, float) and math.isnan(article)) or str(article).strip() == "":
            raise KpstanceError(f"{where or 'a row'}: no article_id: intervals draw whole articles, so every unit "
                                "needs its article")
        key2 = (start, str(article))
        if key2 != self._key:
            self.flush()
            self._key = key2
            if (start, article_hash(str(article))) in self._seen:
                self.apart += 1
                self.apart_example = self.apart_example or f"{article} at {where or 'a row'}"
        self._counts[k, s] += 1
        probs = _stance_probs(row, self.labels.stances, self._prob_keys, where)
        if probs is None:
            self.has_probs = False
        else:
            self._probs[k] += probs
            self._outer[k] += np.outer(probs, probs)
        self.counted += 1

    def flush(self) -> None:
        """Add the article being counted to its period's sums, weighted in each replicate by its Poisson draws. An
        article whose rows come apart is added once per run of rows, with the same weights, so the sums are those of
        one article; a small table of article hashes (about 100 bytes an article) counts it once."""
        if self._key is None:
            return
        start, article = self._key
        self._key = None
        c, p = self._counts, self._probs
        shape = c.shape
        if start not in self.point:
            self.point[start] = [np.zeros(shape), np.zeros(shape), np.zeros(shape[0]), np.zeros((*shape, shape[1]))]
            self.boot[start] = [np.zeros((self.n_boot, *shape)), np.zeros((self.n_boot, *shape))]
        point, boot = self.point[start], self.boot[start]
        w = poisson_weights(article, self.seed, self.n_boot)
        ka, sa = np.nonzero(c)
        point[0] += c
        boot[0][:, ka, sa] += w[:, None] * c[ka, sa][None, :]
        present = np.unique(ka)
        seen = (start, article_hash(article))  # an article whose rows come apart is one article
        mask = self._seen.get(seen, 0)
        new = [k for k in present if not mask >> int(k) & 1]
        point[2][new] += 1
        self._seen[seen] = mask | sum(1 << int(k) for k in present)
        if self.has_probs:
            point[1] += p
            point[3] += self._outer
            boot[1][:, present, :] += w[:, None, None] * p[present][None]
        self._counts, self._probs = np.zeros(shape), np.zeros(shape)
        self._outer = np.zeros((*shape, shape[1]))

    def periods(self) -> list[date]:
        """The periods of the table; a whole-input summary (``--by all``) always has its one period, so every actor
        asked for gets its rows (empty where nothing was counted) instead of an empty table."""
        self.flush()
        if self.by == "all":
            return [ALL]
        ends = [period_start(d, self.by) for d in (self.first, self.last) if d is not None]
        return period_range([*self.point, *ends], self.by)


def _stance_probs(row: Mapping[str, Any], stances: Sequence[str], keys: Sequence[str], where: str
                  ) -> np.ndarray | None:
    """The row's stance probabilities in the scheme's order, or None when the table has none."""
    probs = row.get("stance_probs")
    try:
        if isinstance(probs, Mapping):
            return np.array([float(probs[s]) for s in stances])
        if keys[0] in row and row[keys[0]] not in (None, ""):
            return np.array([float(row[k]) for k in keys])
    except KeyError as e:
        raise KpstanceError(f"{where}: no probability for stance {e}") from None
    except (TypeError, ValueError):
        raise KpstanceError(f"{where}: a stance probability is not a number") from None
    return None


# ---------------------------------------------------------------------------------------------------- reading
def table_kind(path: str | os.PathLike) -> str | None:
    """'jsonl', 'csv' or 'parquet' when the file is a predictions table (it has unit_id, actor and stance
    columns), else None (articles to predict)."""
    if str(path) == "-":
        return _stdin_table_kind()
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.is_file() or suffix not in (".jsonl", ".csv", ".parquet"):
        return None
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            names = set(pq.ParquetFile(p).schema_arrow.names)
        elif suffix == ".csv":
            with open(p, encoding="utf-8-sig", newline="") as f:
                header = next(csv.reader(f), [])
            names = set(header)
            _check_separator(header, p)
        else:
            with open(p, encoding="utf-8") as f:
                first = next((line for line in f if line.strip()), "")
            rec = json.loads(first) if first else {}
            names = set(rec) if isinstance(rec, dict) else set()
    except KpstanceError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, csv.Error):
        return None
    except Exception as e:  # pyarrow's own errors: a damaged Parquet file
        raise KpstanceError(f"{p}: cannot be read as Parquet ({type(e).__name__})") from None
    return suffix[1:] if TABLE_COLUMNS <= names else None


@contextlib.contextmanager
def _spooled_stdin() -> Iterator[None]:
    """stdin copied to a temporary file (on disk: constant memory) and put back as ``sys.stdin`` while a summary
    reads it, so its first line can be read whole to tell a predictions table from an article, and then read again
    by whichever path takes it."""
    import shutil
    import tempfile

    source = getattr(sys.stdin, "buffer", None)
    with tempfile.TemporaryDirectory(prefix="kpstance-stdin-") as folder:
        path = Path(folder) / "stdin"
        with open(path, "wb") as f:
            if source is not None:
                shutil.copyfileobj(source, f)
            else:  # a text-only stdin (a notebook's)
                f.write(sys.stdin.read().encode("utf-8"))
        old = sys.stdin
        sys.stdin = io.TextIOWrapper(open(path, "rb"), encoding="utf-8")
        try:
            yield
        finally:
            sys.stdin.close()
            sys.stdin = old


def _stdin_table_kind() -> str | None:
    """'jsonl' or 'csv' when stdin holds a predictions table (``kpstance predict … | kpstance summarize … --input
    -``): its first non-blank line names unit_id, actor and stance; else None (an article or units to predict, as
    ``kpstance predict`` reads stdin). Reads stdin's file without consuming it (``_spooled_stdin``)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None or not stream.seekable():
        return None
    pos = stream.tell()
    try:
        first = next((line for line in stream if line.strip()), b"").decode("utf-8-sig", "replace").strip()
    finally:
        stream.seek(pos)
    if first.startswith("{"):
        try:
            rec = json.loads(first)
        except ValueError:
            return None
        return "jsonl" if isinstance(rec, dict) and TABLE_COLUMNS <= set(rec) else None
    header = next(csv.reader([first]), [])
    _check_separator(header, "<stdin>")
    return "csv" if TABLE_COLUMNS <= set(header) else None


def _check_separator(header: Sequence[str], source: str | os.PathLike) -> None:
    """A predictions table a spreadsheet saved with another separator (``unit_id;actor;stance``, quoted or spaced)
    is one line, not read as articles to predict."""
    if TABLE_COLUMNS <= set(header) or len(header) != 1:
        return
    for sep in (";", "\t", "|"):
        if TABLE_COLUMNS <= {name.strip().strip('"').strip() for name in header[0].split(sep)}:
            raise KpstanceError(f"a predictions table separated by {sep!r}, not by commas: save it as a "
                                "comma-separated CSV (as kpstance predict writes it)", source, 1)


def _open_table(path: str | os.PathLike, **text: Any) -> Any:
    """A predictions table's text, from its file or from stdin ("-"; left open for the process)."""
    if str(path) == "-":
        return contextlib.nullcontext(io.TextIOWrapper(sys.stdin.buffer, **text))
    return open(path, **text)


def iter_table(path: str | os.PathLike, stances: Sequence[str], kind: str | None = None) -> Iterator[tuple[str, dict]]:
    """(where, row) for each row of a predictions table (a file, or stdin for "-"), with only the columns a summary
    reads."""
    p = Path("<stdin>") if str(path) == "-" else Path(path)
    kind = kind or table_kind(path)
    wanted = ["article_id", "date", "outlet", "kind", "actor", "stance", "model", *(f"stance_p_{s}" for s in stances)]
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(p)
            cols = [c for c in wanted if c in pf.schema_arrow.names]
            n = 0
            for batch in pf.iter_batches(batch_size=8192, columns=cols):
                for row in batch.to_pylist():
                    n += 1
                    yield f"{p} row {n}", row
        elif kind == "csv":
            from ..text.corpus import csv_records

            with _open_table(path, encoding="utf-8-sig", newline="") as f:
                for n, row in csv_records(f, p)[1]:
                    yield f"{p}:{n}", row
        else:
            with _open_table(path, encoding="utf-8-sig") as f:
                for n, line in enumerate(f, start=1):
                    if line.strip():
                        try:
                            rec = json.loads(line)
                        except json.JSONDecodeError as e:
                            raise KpstanceError(f"{p}:{n}: not a JSON line ({e.msg})") from None
                        if not isinstance(rec, dict):
                            raise KpstanceError(f"{p}:{n}: a row must be a JSON object")
                        yield f"{p}:{n}", rec
    except KpstanceError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise KpstanceError(f"{p}: cannot be read ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") \
            from None
    except KeyError as e:
        raise KpstanceError(f"{p}: no {e} column") from None


def predicted_units(model: Any, inputs: Sequence[str], batch_size: int = 64, labels: str | os.PathLike | None = None,
                    probs: bool = False) -> Iterator[dict]:
    """The rows ``kpstance predict`` writes for these inputs (the same items, context and ``predict_group``),
    one dict per unit; ``probs`` adds the probability distributions."""
    from ..scale.local import Options, labelled
    from ..systems.predictor import StancePredictor
    from ..text.corpus import Columns, iter_items

    predictor = model if isinstance(model, StancePredictor) else StancePredictor.load(model)
    opts = Options(Columns.parse(None), probs=probs, labels=str(labels) if labels else None)
    items = iter_items(list(inputs), opts.columns, opts.rows)
    for _, out in labelled(predictor, items, opts, predictor.scheme(labels), batch_size, chunk_size=1024):
        yield from out


# ---------------------------------------------------------------------------------------------------- dev gold
def default_dev_gold() -> str | None:
    """The multi-source corpus's gold (its dev split is used), where the project's data is at hand."""
    from ..weak.scheme import project_file

    return project_file(DEV_GOLD_REL)


def predict_gold(predictor: Any, records: Sequence[dict], batch_size: int = 64, probs: bool = True,
                 labels: str | os.PathLike | None = None, explain: bool = False) -> list[dict]:
    """The model's rows for gold units, each read as a JSON Lines unit is (its kind and named speaker, nothing carried
    over), as the evaluation reads the multi-source corpus; each row keeps the gold labels as gold_actor and
    gold_stance, and the unit's report as article_id (with ``explain``, the rules' labels and what fired too)."""
    from ..scale.local import Options, labelled
    from ..text.corpus import Columns, unit_item

    cols = Columns.parse(None)
    items = []
    for r in records:
        rec = {k: v for k, v in r.items() if k not in ("actor", "stance", "_line")}
        rec["gold_actor"], rec["gold_stance"] = r["actor"], r["stance"]
        rec["article_id"] = str(r.get("report_id") or r.get("article_id") or r["id"])
        items.append(unit_item("gold", r.get("_line", 0), rec, "gold", cols))
    opts = Options(cols, probs=probs, explain=explain)
    return [r for _, out in labelled(predictor, items, opts, predictor.scheme(labels), batch_size, chunk_size=1024)
            for r in out]


def dev_confusion(rows: Iterable[Mapping[str, Any]], labels: Labels, source: str) -> DevConfusion:
    """The stance confusion of the units a summary counts (news units given a real actor), per report."""
    pairs = [(str(r["article_id"]), r["gold_stance"], r["stance"]) for r in rows
             if is_news(r.get("kind")) and r["actor"] != labels.none_actor]
    if not pairs:
        raise KpstanceError(f"{source}: no dev news unit is given an actor by the model: no confusion matrix")
    return DevConfusion.from_pairs(pairs, labels.stances, source)


# ---------------------------------------------------------------------------------------------------- estimates
def estimate(counts: Counts, estimators: Sequence[str], dev: DevConfusion | None = None, level: float = 0.95) -> Any:
    """The table: one row per actor × period × estimator, with units, articles, each stance's share and its
    interval (columns in the label scheme's order), and the net index. A period without units is an empty row
    (NaN shares, 0 units), never zeros; a cell of one article has a share but no interval."""
    import pandas as pd

    lab = counts.labels
    inverse = boot_inverse = None
    if dev is not None and "acc" in estimators:  # the matrices are inverted once, not per actor and period
        inverse = np.linalg.pinv(dev.matrix())
        boot_inverse = np.linalg.pinv(dev_matrices(dev, counts.n_boot, np.random.default_rng(counts.seed)))
    net = net_indices(lab.stances, lab.roles)
    by_period: dict[date, list] = {}
    for start in counts.periods():
        if start not in counts.point:
            by_period[start] = [None] * len(counts.keep)
            continue
        (c, p, arts, outer), (bc, bp) = counts.point[start], counts.boot[start]
        probs = counts.has_probs
        by_period[start] = estimate_period(c, p if probs else None, bc, bp if probs else None, arts, estimators,
                                           inverse, boot_inverse, net, level, outer if probs else None)
    rows = []
    for k, actor in enumerate(counts.keep):
        for start, cells in by_period.items():
            cell = cells[k]
            for est in estimators:
                row: dict[str, Any] = {"actor": actor, "period": period_label(start, counts.by),
                                       "start": None if counts.by == "all" else pd.Timestamp(start),
                                       "estimator": est, "units": cell.units if cell else 0,
                                       "articles": cell.articles if cell else 0}
                # one article shows nothing of how articles vary: no interval rather than a zero-width one
                spread = cell is not None and cell.articles >= MIN_ARTICLES
                for i, s in enumerate(lab.stances):
                    ok = cell is not None and est in cell.shares
                    row[s] = float(cell.shares[est][i]) if ok else math.nan
                    row[f"{s}_low"] = float(cell.low[est][i]) if ok and spread else math.nan
                    row[f"{s}_high"] = float(cell.high[est][i]) if ok and spread else math.nan
                n = cell.net.get(est) if cell is not None else None
                row["net"], row["net_low"], row["net_high"] = (n[0], *(n[1:] if spread else (math.nan,) * 2)) if n \
                    else (math.nan,) * 3
                row["clipped"] = bool(cell.clipped) if cell is not None and est == "acc" else False
                rows.append(row)
    columns = ["actor", "period", "start", "estimator", "units", "articles",
               *(c for s in lab.stances for c in (s, f"{s}_low", f"{s}_high")), "net", "net_low", "net_high", "clipped"]
    return pd.DataFrame(rows, columns=columns)


def summarize(model: str | os.PathLike | Any, inputs: Sequence[str | Any] | str | Any, by: str = "all",
              actors: Sequence[str] | None = None, outlets: Sequence[str] | None = None,
              estimators: Sequence[str] | str | None = None, dev_gold: str | os.PathLike | None = None,
              n_boot: int = 1000, seed: int = 0, labels: str | os.PathLike | None = None, batch_size: int = 64,
              level: float = 0.95, warn: Callable[[str], None] | None = None, start: str | date | None = None,
              end: str | date | None = None) -> Any:
    """Each actor's stance shares per period with intervals, as a pandas DataFrame.

    ``inputs``: predictions tables written by ``kpstance predict`` (.jsonl, .csv, .parquet with unit_id, actor and
    stance columns, or such a table already read into a pandas DataFrame), or articles and folders, predicted first
    as ``kpstance predict`` predicts them. ``model``: the
    saved model (a folder or a loaded ``StancePredictor``); adjusted classify and count measures its errors on
    ``dev_gold`` (default: the multi-source corpus's dev split). ``estimators``: any of cc, pcc, acc, or "all"
    (default: the measured best). ``start``, ``end``: the dates counted (YYYY-MM-DD, both included); the periods
    run from the one holding ``start`` to the one holding ``end``, so tables of different outlets share their rows.
    ``df.attrs`` holds what was left out and how the dev matrix was measured; the ``model`` column names the model
    whose labels were counted. Rows a table records as another model's are refused with acc (it would correct them
    by this model's dev errors) and are one warning otherwise.
    """
    if by not in BY:
        raise KpstanceError(f"--by must be one of {', '.join(BY)}, got '{by}'")
    ests = _estimators(estimators)
    if n_boot < 10:
        raise KpstanceError(f"--bootstrap needs at least 10 replicates, got {n_boot}")
    dates = (_bound(start, "--start"), _bound(end, "--end"))
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) or _is_frame(inputs) else list(inputs)
    with _spooled_stdin() if "-" in map(str, inputs) else contextlib.nullcontext():
        return _summarize(model, inputs, by, actors, outlets, ests, dev_gold, n_boot, seed, labels, batch_size, level,
                          warn, dates)


def _bound(value: str | date | None, option: str) -> date | None:
    """A --start or --end date, or None; one line when it cannot be read."""
    if value is None or value == "":
        return None
    d = read_date(value)
    if d is None:
        raise KpstanceError(f"{option}: cannot read {value!r} as a date (YYYY-MM-DD)")
    return d


def _summarize(model: Any, inputs: list, by: str, actors: Sequence[str] | None, outlets: Sequence[str] | None,
               ests: list[str], dev_gold: str | os.PathLike | None, n_boot: int, seed: int,
               labels: str | os.PathLike | None, batch_size: int, level: float,
               warn: Callable[[str], None] | None, dates: tuple[date | None, date | None] = (None, None)) -> Any:
    from ..systems.predictor import StancePredictor, model_id, model_scheme, task_hint

    frames = [i for i in inputs if _is_frame(i)]
    inputs = [i for i in inputs if not _is_frame(i)]
    kinds = {i: table_kind(i) for i in inputs}  # each file's header read once
    tables = [i for i in inputs if kinds[i]]
    articles = [i for i in inputs if not kinds[i]]
    predictor = model if isinstance(model, StancePredictor) else None
    if predictor is None and (articles or "acc" in ests):
        predictor = StancePredictor.load(model)
    elif predictor is None and not (Path(model) / "kpstance.json").is_file():  # tables only: the labels suffice
        raise KpstanceError(f"not a model folder saved by train.py (no kpstance.json){task_hint(model)}", model)
    lab = Labels.of(predictor.scheme(labels) if predictor is not None else model_scheme(model, labels))
    counts = Counts(lab, by, actors, outlets, n_boot, seed, *dates)
    empty = []
    for t in tables:
        rows_read = 0
        for where, row in iter_table(t, lab.stances, kinds[t]):
            counts.add(row, where)
            rows_read += 1
        if not rows_read:
            empty.append("<stdin>" if str(t) == "-" else str(t))
    for k, frame in enumerate(frames, start=1):
        missing = [c for c in ("actor", "stance") if c not in frame.columns]
        if missing:
            raise KpstanceError(f"the DataFrame given as input {k} lacks the column(s) {', '.join(missing)} of a "
                                "predictions table (kpstance predict's columns: unit_id, article_id, date, kind, actor, "
                                "stance, ...)")
        for start in range(0, len(frame), 10_000):  # in slices: the rows as dicts never all at once
            part = frame.iloc[start : start + 10_000]
            for label, row in zip(part.index, part.to_dict("records")):
                # a missing cell is None, as in the files (pandas gives NaN or NaT); a row named by its index label
                counts.add({c: (None if _missing(v) else v) for c, v in row.items()}, f"DataFrame {k}, row {label}")
        if frame.empty:
            empty.append(f"DataFrame {k}")
    warn = warn or _warn_stderr
    if empty:
        warn(f"{', '.join(empty)}: no rows (a header alone?)")
    own = predictor.model_id if predictor is not None else model_id(model)
    given = str(model.folder or "the given model") if isinstance(model, StancePredictor) else str(model)
    _check_models(counts, own, given, ests, warn, bool(articles))
    if articles:
        for row in predicted_units(predictor, articles, batch_size, labels, probs=True):
            counts.add(row, str(row.get("article_id")))
    dev, problem = _dev(predictor, dev_gold, lab, batch_size, labels) if "acc" in ests else (None, "")
    df = summarize_counts(counts, ests, dev, level, warn, problem)
    # the model whose labels were counted, on every row, so the tables of several models can be stacked and told
    # apart: those the rows record, and the one named for rows that record none (a table written before the column)
    names = set(counts.models) | ({own} if own and counts.unrecorded else set())
    df["model"] = "+".join(sorted(names)) or None
    df.attrs.update({"model": own, "models": dict(sorted(counts.models.items())), "unrecorded": counts.unrecorded})
    return df


def _check_models(counts: Counts, own: str | None, given: str, ests: Sequence[str], warn: Callable[[str], None],
                  predicting: bool = False) -> None:
    """Rows another model predicted (the table's model column) are refused where acc would correct them by the
    given model's dev errors, and said in one warning otherwise: their labels are that model's, not the one named.
    ``predicting``: articles are still to be predicted by the given model, so its labels will be among them."""
    if own is None:
        if counts.models:  # nothing to check against: said, not assumed
            warn(f"{given} records no run name, so whether it predicted these rows (first recorded model: "
                 f"'{next(iter(counts.models))}') cannot be checked" + ("; acc corrects them by its dev errors"
                                                                        if "acc" in ests else ""))
        return
    other = {m: n for m, n in counts.models.items() if m != own}
    if not other:
        return
    first = next(iter(other))
    if "acc" in ests:
        raise KpstanceError(f"{counts.model_example[first]}: predicted by model '{first}', not by {given} ('{own}'): "
                            "acc would correct its counts by another model's errors; summarise it with the model that "
                            "predicted it, or leave acc out (--estimator cc,pcc)")
    listed = ", ".join(f"'{m}' ({n:,} rows, first {counts.model_example[m]})" for m, n in other.items())
    mixed = own in counts.models or len(other) > 1 or counts.unrecorded or predicting
    warn(f"rows predicted by another model than {given} ('{own}'): {listed}; "
         + ("the shares mix the labels of different models" if mixed else
            "the shares are that model's labels: name it when summarising"))


def _warn_stderr(message: str) -> None:
    print(f"kpstance: warning: {message}", file=sys.stderr)


def _is_frame(x: Any) -> bool:
    """A pandas DataFrame (a predictions table already read), told without importing pandas."""
    return hasattr(x, "to_dict") and hasattr(x, "columns") and not isinstance(x, (str, os.PathLike))


def _missing(v: Any) -> bool:
    """An empty cell of a DataFrame (None, NaN, NaT), which a file would have left empty."""
    try:
        return v is None or bool(v != v)  # NaN and NaT are not equal to themselves
    except (TypeError, ValueError):
        return False


def summarize_counts(counts: Counts, estimators: Sequence[str], dev: DevConfusion | None, level: float = 0.95,
                     warn: Callable[[str], None] | None = None, no_dev: str = "no dev gold") -> Any:
    """``summarize`` from counted units: says in one warning line each what a researcher must know (units
    without a readable date, an estimator left out and why, a near-singular confusion matrix, clipped estimates)
    and estimates."""
    warn = warn or _warn_stderr
    ests = list(estimators)
    unseen = [o for o in counts.outlets or () if o.casefold() not in counts.outlets_seen]
    if unseen:  # each outlet asked for that no counted unit came from, even where the others matched
        warn(f"no unit is from {', '.join(unseen)}: check the outlet names against the table's outlet column "
             "(matched ignoring case)")
    if counts.left_out.get("no readable date"):
        if not counts.counted:  # every unit undated (no date column?): a table of empty periods would answer nothing
            if counts.by == "all":
                raise KpstanceError(f"no unit has a readable date (first: {counts.undated_example}), so none can be "
                                    "placed within --start/--end; give the table a date column")
            raise KpstanceError(f"no unit has a readable date (first: {counts.undated_example}), so none can be "
                                f"counted by {counts.by}; give the table a date column, or summarise with --by all")
        warn(f"{counts.left_out['no readable date']} units have no readable date (first: {counts.undated_example}); "
             "they are left out of the periods")
    if counts.apart:
        warn(f"{counts.apart} run(s) of rows belong to an article counted before, after other articles' rows (first: "
             f"{counts.apart_example}); each article is drawn as one in the intervals, but if an input was given twice "
             "its units count twice, and two inputs that share article ids merge their articles")
    why = {}
    if "pcc" in ests and not counts.has_probs:
        why["pcc"] = "it needs the stance probabilities (kpstance predict --probs)"
    if "acc" in ests and dev is None:
        why["acc"] = no_dev
    if why and all(e in why for e in ests):  # nothing asked for can be estimated: another estimator is not an answer
        raise KpstanceError("; ".join(f"--estimator {e}: {reason}" for e, reason in why.items()))
    for e, reason in why.items():
        warn(f"{e} left out: {reason}")
    ests = [e for e in ests if e not in why]
    if "cc" in ests and not counts.has_probs and counts.counted:
        warn("the table has no stance probabilities, in some rows or all (kpstance predict --probs): cc's intervals "
             "carry the sampling of articles alone, not the classifier's errors, so they are too narrow (a cell "
             "whose articles all agree gets a zero-width interval)")
    if counts.n_boot < FEW_REPLICATES:
        warn(f"--bootstrap {counts.n_boot}: intervals from fewer than {FEW_REPLICATES} replicates are rough")
    if "acc" in ests and dev is not None:
        sigma = dev.smallest_singular_value()
        if dev.missing():
            warn(f"no dev gold unit has stance {', '.join(dev.missing())}: its errors are not measured")
        per_stance = dev.counts.sum((0, 2))
        thin = [f"{st} {int(n)}" for st, n in zip(dev.stances, per_stance) if 0 < n < FEW_DEV_UNITS]
        if thin:
            warn(f"{dev.source}: the dev confusion matrix rests on few units of a stance ({', '.join(thin)}; under "
                 f"{FEW_DEV_UNITS} each): acc's correction and its intervals are rough")
        if sigma < NEAR_SINGULAR:
            warn(f"the dev confusion matrix is near singular (smallest singular value {sigma:.3f}): adjusted "
                 "shares are unstable and are clipped into [0, 1]")
    counts.flush()
    df = estimate(counts, ests, dev, level)
    if "acc" in ests and df["clipped"].any():
        acc = df[(df.estimator == "acc") & (df.units > 0)]
        warn(f"acc clipped {int(acc['clipped'].sum())} of {len(acc)} actor-period estimates into [0, 1] (their counted "
             "shares lie outside what the dev confusion matrix can produce; a clipped estimate's interval is "
             "clipped with it and can shrink to a point: do not read it as certainty; --output and the DataFrame mark them in 'clipped')")
    lab = counts.labels
    # what the intervals carry: the classifier's errors only where the table holds the stance probabilities
    carried = [e for e in ests if e in ("cc", "pcc")]
    widened = bool(carried) and counts.has_probs
    interval = "bootstrap over articles"
    if widened:
        interval += f", {' and '.join(carried)} widened by the classifier's errors"
    elif carried:
        interval += f", {' and '.join(carried)} without the classifier's errors (no stance probabilities: --probs)"
    if "acc" in ests and dev is not None:
        interval += f", acc with the dev matrix of {Path(dev.source).name} ({dev.n_units:,} units) redrawn"
    df.attrs.update({"by": counts.by, "estimators": ests, "interval": interval, "classifier_errors": widened,
                     "stances": lab.stances, "roles": lab.roles,
                     "counted": counts.counted, "left_out": dict(counts.left_out), "level": level, "n_boot": counts.n_boot,
                     "dev": None if dev is None else {"source": dev.source, "units": dev.n_units,
                                                       "reports": dev.n_reports,
                                                       "smallest_singular_value": dev.smallest_singular_value()}})
    return df


def _estimators(estimators: Sequence[str] | str | None) -> list[str]:
    if estimators is None:
        return [DEFAULT_ESTIMATOR]
    if isinstance(estimators, str):
        estimators = list(ESTIMATORS) if estimators == "all" else [e.strip() for e in estimators.split(",")]
    bad = [e for e in estimators if e not in ESTIMATORS]
    if bad or not estimators:
        raise KpstanceError(f"--estimator must be among {', '.join(ESTIMATORS)} or all, got {', '.join(bad) or 'none'}")
    return list(dict.fromkeys(estimators))


def _dev(predictor: Any, dev_gold: str | os.PathLike | None, lab: Labels, batch_size: int,
         labels: str | os.PathLike | None = None) -> tuple[DevConfusion | None, str]:
    """The dev confusion matrix acc corrects by, or None and why not."""
    path = dev_gold or default_dev_gold()
    if path is None:
        return None, f"no dev gold found ({DEV_GOLD_REL}); pass --dev-gold with your own"
    recs = gold_units(path)
    unknown = {r["stance"] for r in recs} - set(lab.stances)
    if unknown:
        raise KpstanceError(f"{path}: stance {', '.join(sorted(unknown))} is not one of the model's")
    rows = predict_gold(predictor, recs, batch_size, probs=False, labels=labels)
    return dev_confusion(rows, lab, str(path)), ""


# ---------------------------------------------------------------------------------------------------- printing
def render(df: Any) -> str:
    """A rich table: actor, period, units and articles, each stance's share with its interval, the net index."""
    import io

    from rich.console import Console
    from rich.table import Table

    stances = df.attrs.get("stances") or []
    buf = io.StringIO()
    console = Console(file=buf, width=200, force_terminal=False)
    many = df.estimator.nunique() > 1
    level = int(round(100 * df.attrs.get("level", 0.95)))
    estimators = ", ".join(df.attrs.get("estimators", []))
    table = Table(title=f"stance shares {span(df.attrs.get('by', 'all'))} ({estimators}; "
                        f"{level} % intervals: {df.attrs.get('interval', 'bootstrap over articles')})")
    for col in ("actor", "period", *(["estimator"] if many else []), "units", "articles"):
        table.add_column(col, justify="right" if col in ("units", "articles") else "left", no_wrap=True)
    for s in stances:
        table.add_column(s, justify="right", no_wrap=True)
    table.add_column("net", justify="right", no_wrap=True)
    for _, r in df.iterrows():
        cells = [r.actor, r.period, *([r.estimator] if many else []), str(r.units), str(r.articles)]
        if r.units == 0:
            cells += ["–"] * (len(stances) + 1)
        else:
            cells += [_with_bounds(r[s], r[f"{s}_low"], r[f"{s}_high"], "") for s in stances]
            cells.append(_with_bounds(r.net, r.net_low, r.net_high, "+"))
        table.add_row(*cells)
    console.print(table)
    console.print(left_out_line(df))
    return buf.getvalue()


def _with_bounds(value: float, low: float, high: float, sign: str) -> str:
    bounds = "(one article)" if math.isnan(low) else f"[{low:{sign}.2f}, {high:{sign}.2f}]"
    return f"{value:{sign}.2f} {bounds}"


def left_out_line(df: Any) -> str:
    """What was counted, by which model's labels (where the rows record it), and what was left out."""
    left = df.attrs.get("left_out") or {}
    parts = ", ".join(f"{n:,} {k}" for k, n in sorted(left.items(), key=lambda kv: -kv[1]))
    models = sorted(df.attrs.get("models") or {})
    unrecorded, own = df.attrs.get("unrecorded") or 0, df.attrs.get("model")
    taken = ""
    if models and unrecorded:  # rows of an older table among recorded ones: taken as the named model's
        models = sorted({*models, own or "the given model"})
        taken = f"; {unrecorded:,} rows record no model and are taken as the given one's"
    by = f" (labels of model{'s' if len(models) > 1 else ''} {', '.join(models)}{taken})" if models else ""
    return f"{df.attrs.get('counted', 0):,} news units counted{by}" + (f"; left out: {parts}" if parts else "")
