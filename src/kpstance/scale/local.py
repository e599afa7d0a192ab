"""A corpus through one process: items read in order, predicted a chunk of whole items at a time, written as a
table (atomically, or in resumable shards). Memory is bounded by the chunk size, whatever the corpus size."""

from __future__ import annotations

import ctypes
import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..text.corpus import FIELDS, Columns, Item, expand, iter_items
from ..text.segment import is_news
from .table import COLUMNS, EXPLAIN_COLUMNS, AtomicTable, ShardedTable, output_format, prob_columns


@dataclass
class Options:
    """What changes the rows of the table (and so must match for a run to resume)."""

    columns: Columns
    rows: str = "units"
    min_score: float | None = None
    probs: bool = False
    labels: str | None = None
    explain: bool = False

    def as_dict(self) -> dict:
        return {"columns": self.columns.names, "rows": self.rows, "min_score": self.min_score, "probs": self.probs,
                "labels": str(Path(self.labels).resolve()) if self.labels else None, "explain": self.explain}


def table_columns(actors: Sequence[str], stances: Sequence[str], opts: Options) -> list[str]:
    """The table's columns for a model's labels: the fixed ones, then the ``--explain`` and ``--probs`` ones."""
    return [*COLUMNS, *(EXPLAIN_COLUMNS if opts.explain else ()), *(prob_columns(actors, stances) if opts.probs else [])]


def table_row(item: Item, rec: dict, p: dict, opts: Options, why: dict | None = None, model: str | None = None
              ) -> dict:
    """One unit's row: the item's metadata, the unit's id, kind, speaker and text, the labels and the model that gave
    them (then ``why``, the ``--explain`` columns). A JSON Lines unit's other fields travel with it (JSON Lines output
    only)."""
    row = {k: v for k, v in rec.items() if k not in COLUMNS and k not in ("id", "actor_probs", "stance_probs")} \
        if item.record is not None else {}
    row.update({"article_id": item.article_id, **item.meta, "unit_id": str(rec.get("id")), "kind": p["kind"],
                "speaker": p["speaker"], "text": rec["text"], "actor": p["actor"], "stance": p["stance"],
                "actor_score": p["actor_score"], "stance_score": p["stance_score"],
                "uncertain": None if opts.min_score is None else
                bool(p["actor_score"] < opts.min_score or p["stance_score"] < opts.min_score), "model": model})
    if why is not None:
        row.update(why)
    if opts.probs:
        row.update(actor_probs=p["actor_probs"], stance_probs=p["stance_probs"])
    return row


def groups(items: Iterable[Item], chunk_size: int) -> Iterator[list[tuple[Item, list]]]:
    """Whole items, each with its input rows, in groups of at least ``chunk_size`` units (the last may be
    smaller): a group ends on an item boundary, where nothing carries over, so a shard can end there."""
    group: list[tuple[Item, list]] = []
    n = 0
    for it in items:
        rows = it.rows()
        group.append((it, rows))
        n += len(rows)
        if n >= chunk_size:
            yield group
            group, n = [], 0
    if group:
        yield group


def prepared(items: Iterable[Item], chunk_size: int, scheme: Any, ahead: int = 2) -> Iterator[tuple[list, list, list]]:
    """Groups of whole items with their input rows and each row's (kind, speaker), made ``ahead`` groups in advance
    on a second thread: segmenting and reading speakers (Python, under the GIL) overlaps the model's batches (torch,
    which releases it). The thread runs at the lowest priority, so that where the model's threads keep every core
    busy it takes the gaps between their parallel regions instead of preempting one of them (an operator waits for
    its slowest thread). A group's speakers are read afresh: a group ends where nothing carries over. An error in
    the input is raised here, in order, when its group is reached."""
    import queue
    import threading

    from ..systems.context import ContextReader

    q: queue.Queue = queue.Queue(maxsize=max(1, ahead))
    stop = threading.Event()
    end = object()

    def produce() -> None:
        lowest_priority()
        try:
            for group in groups(items, chunk_size):
                rows = [r for _, rs in group for r in rs]
                item = (group, rows, ContextReader(scheme)(rows))
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as e:  # handed to the consumer, raised where the input is read in order
            q.put(e)

    worker = threading.Thread(target=produce, name="kpstance-segment", daemon=True)
    worker.start()
    try:
        while True:
            got = q.get()
            if got is end:
                return
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()


def lowest_priority() -> None:
    """Give the calling thread the lowest scheduling priority (nice 19), where the OS can set it per thread (Linux);
    elsewhere leave it as it is."""
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


def predict_group(predictor: Any, group: list[tuple[Item, list]], rows: list, ctx: list, opts: Options,
                  batch_size: int, workers: int | None,
                  on_truncated: Callable[[tuple], None] | None = None, scheme: Any = None) -> list[dict]:
    """The table rows of a group of items, through ``StancePredictor.predict_in_context`` (the step
    ``predict_rows`` takes for every path that predicts); with ``opts.explain``, each row's ``explain`` columns
    (``scheme`` is the label scheme the rules read). The heap is trimmed after each group, locally and in Ray's
    replicas alike."""
    owner = [it for it, rs in group for _ in rs]
    preds = predictor.predict_in_context([r["text"] for _, r, _ in rows], ctx, batch_size, workers)
    trim_heap()
    for i in predictor.truncated if on_truncated else ():
        on_truncated(rows[i])
    whys = explain(group, ctx, scheme, bool(predictor.meta.get("context"))) if opts.explain else [None] * len(rows)
    model = predictor.model_id
    return [table_row(it, rec, p, opts, why, model) for it, (_, rec, _), p, why in zip(owner, rows, preds, whys)]


def labelled(predictor: Any, items: Iterable[Item], opts: Options, scheme: Any, batch_size: int = 64,
             workers: int | None = None, chunk_size: int = 4096,
             on_truncated: Callable[[tuple], None] | None = None) -> Iterator[tuple[list, list[dict]]]:
    """Each group of whole items with its table rows: ``prepared`` then ``predict_group``, the one loop every path
    that writes or summarises a table runs."""
    for group, rows, ctx in prepared(items, chunk_size, scheme):
        yield group, predict_group(predictor, group, rows, ctx, opts, batch_size, workers, on_truncated, scheme)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows)
        return None


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``) once a group is predicted. Its
    tensors and token buffers are freed by then, but glibc keeps freed pages for reuse, and over many groups of
    varying shapes the pages it keeps grow: with speaker averaging the resident memory crept by about 100 MiB over
    60,000 units and passed 1 GB at 200,000; with one call per chunk the speed measured the same
    (docs/benchmarks.md). Where the C library is not glibc it does nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def explain(group: list[tuple[Item, list]], ctx: list, scheme: Any, reads_context: bool) -> list[dict]:
    """Why each row of a group got its labels: the context string the model read with the text (None when it
    reads none) and the rules' labels, as ``kpstance label`` gives them."""
    from ..systems.context import format_context
    from ..text.read import file_units
    from ..weak.label import label_units

    labels = [s for run in rule_runs(group)
              for s in label_units(file_units(run[0][0], [(rec, w) for _, rec, w in run]), scheme)]
    return [{"context": format_context(k, s) if reads_context else None, "rules_actor": lab.actor,
             "rules_stance": lab.stance, "rules_fired": lab.rules_fired} for (k, s), lab in zip(ctx, labels)]


def rule_runs(group: list[tuple[Item, list]]) -> Iterator[list]:
    """The rows the rules read together, in order, as ``kpstance label`` reads a file: an article's segmented
    units; the consecutive JSON Lines units of one file, as the lines of one article. (A group holds whole items,
    so a JSON Lines file longer than a chunk is read a chunk at a time: the rules' memory of the earlier lines,
    which ``kpstance label`` keeps, restarts where a chunk starts.)"""
    run: list = []
    for it, rs in group:
        if run and not (it.record is not None and run[0][0] == it.source and isinstance(run[0][2], int)):
            yield run
            run = []
        run += rs
    if run:
        yield run


def fingerprint(model_dir: str | os.PathLike, inputs: Sequence[str], opts: Options, precision: str,
                speaker_average: int = 0) -> dict:
    """What a resumed run must share with the run it resumes: the model's files, the inputs' sizes and times,
    the options, the precision and the speaker averaging (a label may differ between them)."""
    def stamp(p: Path) -> list:
        st = p.stat()
        return [str(p.resolve()), st.st_size, st.st_mtime_ns]

    model = Path(model_dir)
    return {"model": [stamp(f) for f in sorted(model.glob("*.safetensors"))] + [stamp(model / "config.json")],
            "inputs": [stamp(Path(f)) for f in expand(inputs)], "options": opts.as_dict(), "precision": precision,
            "speaker_average": speaker_average}


def predict_table(predictor: Any, inputs: Sequence[str], output: str | None, sink: Any, opts: Options,
                  scheme: Any, batch_size: int = 64, workers: int | None = None, chunk_size: int = 4096,
                  resume: bool = False, shards: bool = False, model_dir: str | None = None,
                  on_progress: Callable[[int, int], None] | None = None,
                  on_truncated: Callable[[tuple], None] | None = None,
                  on_resume: Callable[[int, int], None] | None = None) -> dict:
    """Predict a corpus into a table; returns counts. ``output`` None writes JSON Lines to ``sink`` (stdout).
    ``shards`` (always with ``resume``) writes resumable shards; otherwise one file renamed into place at the end.
    ``on_progress(items, units)`` is called after each chunk with the counts of that chunk."""
    started = time.time()
    columns = table_columns(predictor.actors, predictor.stances, opts)
    stats: dict[str, Any] = {"items": 0, "units": 0, "news_units": 0, "undated_units": 0, "first_undated": None,
                             "resumed_items": 0, "repeated_ids": 0, "first_repeat": None,
                             "repeated_unit_ids": 0, "first_unit_repeat": None, "empty_files": [],
                             "replaced_fields": set(), "dropped_fields": set()}
    flat = output is not None and output_format(output) != "jsonl"
    items = _note_fields(_note_repeated_ids(iter_items(inputs, opts.columns, opts.rows), stats, inputs), stats,
                         set(columns), flat, opts.columns)
    if output is None:
        from .table import Writer

        w = Writer(sink, "jsonl", columns)
        for group, out in labelled(predictor, items, opts, scheme, batch_size, workers, chunk_size, on_truncated):
            w.write(out)
            _count(stats, group, out, on_progress)
        return stats
    output_format(output)
    if shards or resume:
        table = ShardedTable(output, columns, fingerprint(model_dir or predictor.folder, inputs, opts,
                                                          predictor.precision, predictor.speaker_average))
        done = table.start(resume)
        stats["resumed_items"], stats["resumed_units"] = done, table.rows
        if done and on_resume:
            on_resume(done, table.rows)
        if on_progress and done:
            on_progress(done, table.rows)
        try:
            for _ in range(done):  # the items written before: read, not segmented, not predicted
                next(items)
            for group, out in labelled(predictor, items, opts, scheme, batch_size, workers, chunk_size,
                                       on_truncated):
                table.write(out, len(group))
                _count(stats, group, out, on_progress)
        except KpstanceError:
            # bad input: once it is mended its fingerprint differs, so the shards could never be resumed; a kill or
            # Ctrl-C (not caught here) keeps them for --resume
            table.discard()
            raise
        table.commit()
        return stats
    atomic = AtomicTable(output, columns)
    try:
        for group, out in labelled(predictor, items, opts, scheme, batch_size, workers, chunk_size, on_truncated):
            atomic.write(out)
            _count(stats, group, out, on_progress)
        atomic.commit()
    except BaseException:
        atomic.abort()
        raise
    # shards an earlier --resume run left, which this run (started over, as their refusal advised) replaces
    stats["stale_parts"] = ShardedTable(output, columns, {}).discard_stale(started)
    return stats


def _note_fields(items: Iterator[Item], stats: dict, columns: set[str], flat: bool, names: Columns) -> Iterator[Item]:
    """Collect the JSON Lines fields an output cannot keep as they were: ones named like an output column (a gold
    ``actor``, say), which the table does not keep, and, in a CSV or Parquet table, every other field. The fields
    read into the table (``--columns`` names them) are neither."""
    read = {names[f] for f in FIELDS} | {"id", "text", "article_id", "kind", "speaker"}
    output = columns | {"actor_probs", "stance_probs"}
    for it in items:
        if it.record is not None:
            keys = set(it.record) - read
            stats["replaced_fields"] |= keys & output
            if flat:
                stats["dropped_fields"] |= keys - output
        yield it


def _note_repeated_ids(items: Iterator[Item], stats: dict, inputs: Sequence[str] = ()) -> Iterator[Item]:
    """Count the articles (table rows, JSON Lines articles) whose id an earlier article had, and the JSON Lines units
    whose id an earlier unit had: their unit ids repeat in the table, which a researcher joining on them must know.
    The ids are kept (sets of strings: a few MB for a year of wire copy); ``.txt`` articles, whose ids are their
    paths under the input folder, repeat when two inputs hold one path ("2017/a.txt" in two folders). At the end,
    ``stats["empty_files"]`` lists the input files that gave nothing."""
    seen: set[str] = set()
    seen_units: set[str] = set()
    sources: set[str] = set()
    for it in items:
        sources.add(it.source)
        if it.record is None:  # an article: a table row, a JSON Lines article, a .txt file
            if it.article_id in seen:
                stats["repeated_ids"] += 1
                where = f"{it.source}:{it.line}" if it.line is not None else it.source
                stats["first_repeat"] = stats["first_repeat"] or (it.article_id, where)
            else:
                seen.add(it.article_id)
        elif it.record is not None:
            uid = str(it.record["id"])
            if uid in seen_units:
                stats["repeated_unit_ids"] += 1
                stats["first_unit_repeat"] = stats["first_unit_repeat"] or (uid, f"{it.source}:{it.line}")
            else:
                seen_units.add(uid)
        yield it
    stats["empty_files"] = [f for f in expand(inputs) if f != "-" and str(Path(f)) not in sources]


def _count(stats: dict, group: list, rows: list, on_progress: Callable[[int, int], None] | None) -> None:
    stats["items"] += len(group)
    stats["units"] += len(rows)
    # news units (what a summary counts) with no date: no date field, and no dateline that gives the year
    news = [r for r in rows if is_news(r.get("kind"))]
    undated = [r for r in news if not r.get("date")]
    stats["news_units"] += len(news)
    stats["undated_units"] += len(undated)
    if undated and stats["first_undated"] is None:
        stats["first_undated"] = undated[0].get("article_id") or undated[0].get("unit_id")
    if on_progress:
        on_progress(len(group), len(rows))
