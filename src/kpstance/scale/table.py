"""The predictions table: one row per unit, the same columns in JSON Lines, CSV and Parquet, written so that a
reader never sees half of it, and in shards with a manifest so that a killed run can be resumed.

Columns: ``article_id, date, outlet, title, url, unit_id, kind, speaker, text, actor, stance, actor_score,
stance_score, uncertain, model`` (``uncertain`` is empty without ``--min-score``; ``model`` is the run name of the
model that labelled the row, empty for a model saved without one); with ``--probs`` one probability column
per label (``actor_p_<label>``, ``stance_p_<label>``; JSON Lines keeps them as two objects). With ``--explain``,
before those: ``context`` (what the model read besides the text; empty when it reads none) and the rules' labels,
``rules_actor, rules_stance, rules_fired`` (a list in JSON Lines, joined with ";" in CSV and Parquet). JSON Lines
also keeps the other fields of a JSON Lines input line.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from ..errors import KpstanceError
from ..files import fault, settle_temp, temp_name

COLUMNS = ("article_id", "date", "outlet", "title", "url", "unit_id", "kind", "speaker", "text", "actor", "stance",
           "actor_score", "stance_score", "uncertain", "model")
EXPLAIN_COLUMNS = ("context", "rules_actor", "rules_stance", "rules_fired")
FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
MANIFEST = "manifest.json"


def output_format(path: str | None) -> str:
    """The output's format from its extension; stdout is JSON Lines."""
    if path is None or path == "-":
        return "jsonl"
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise KpstanceError(f"cannot tell the output format from the extension; use one of {', '.join(FORMATS)}",
                            path)
    return fmt


def prob_columns(actors: Sequence[str], stances: Sequence[str]) -> list[str]:
    return [f"actor_p_{a}" for a in actors] + [f"stance_p_{s}" for s in stances]


def flat_columns(rows: list[dict], columns: Sequence[str]) -> dict[str, list]:
    """Rows for CSV and Parquet, one list per column: the fixed columns only, probabilities spread over one column
    per label, a list (the rules that fired) joined with ";" so that every cell is a scalar."""
    out: dict[str, list] = {}
    for c in columns:
        group = "actor" if c.startswith("actor_p_") else "stance" if c.startswith("stance_p_") else None
        if group is None:
            out[c] = [";".join(v) if isinstance(v, list) else v for v in (r.get(c) for r in rows)]
        else:
            label = c[len(group) + 3:]
            out[c] = [(r.get(f"{group}_probs") or {}).get(label) for r in rows]
    return out


def arrow_table(rows: list[dict], columns: Sequence[str]) -> Any:
    """The rows as a pyarrow table of the flat columns (Parquet output, and the Ray engine's batches)."""
    import pyarrow as pa

    return pa.Table.from_pydict(flat_columns(rows, columns), schema=arrow_schema(columns))


class Writer:
    """Rows to one file of one format; ``close`` finishes it (Parquet writes its footer)."""

    def __init__(self, f: IO, fmt: str, columns: Sequence[str]) -> None:
        self.fmt, self.columns, self.f = fmt, list(columns), f
        self._csv: Any = None
        self._pq: Any = None
        if fmt == "csv":
            import csv

            self._csv = csv.writer(f, lineterminator="\n")
            self._csv.writerow(self.columns)

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        if self.fmt == "jsonl":
            self.f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            self.f.flush()
        elif self.fmt == "csv":
            self._csv.writerows(zip(*flat_columns(rows, self.columns).values()))
            self.f.flush()
        else:
            self.write_arrow(arrow_table(rows, self.columns))

    def write_arrow(self, table: Any) -> None:
        """A pyarrow table of the flat columns (the Ray engine's rows), into a Parquet output."""
        import pyarrow.parquet as pq

        table = table.select(self.columns).cast(arrow_schema(self.columns))
        if self._pq is None:
            self._pq = pq.ParquetWriter(self.f, table.schema, compression="zstd")
        self._pq.write_table(table)

    def close(self) -> None:
        if self.fmt == "parquet":
            if self._pq is None:  # no rows: still a valid, empty table with the columns
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.Table.from_pylist([], schema=arrow_schema(self.columns)), self.f)
            else:
                self._pq.close()


def arrow_schema(columns: Sequence[str]) -> Any:
    import pyarrow as pa

    def kind(c: str) -> Any:
        if c.endswith("_score") or c.startswith(("actor_p_", "stance_p_")):
            return pa.float64()
        return pa.bool_() if c == "uncertain" else pa.string()

    return pa.schema([(c, kind(c)) for c in columns])


def open_file(path: Path, fmt: str, shown: Path | None = None) -> IO:
    """A text file for JSON Lines and CSV, a binary one for Parquet's writer, opened here so that a place that cannot
    be written is one line naming ``shown`` (the output the user gave, not its temporary name)."""
    try:
        if fmt == "parquet":
            return path.open("wb")
        return path.open("w", encoding="utf-8", newline="")
    except OSError as e:
        raise KpstanceError(f"cannot write: {e.strerror}", shown or path) from None


class AtomicTable:
    """The whole table under a temporary name beside ``path``, renamed into place by ``commit``."""

    def __init__(self, path: str | os.PathLike, columns: Sequence[str]) -> None:
        self.target = Path(path)
        self.fmt = output_format(str(path))
        self.tmp = temp_name(self.target)
        self._file = open_file(self.tmp, self.fmt, self.target)
        try:
            self.writer = Writer(self._file, self.fmt, columns)
        except BaseException:  # SIGTERM or Ctrl-C while the writer starts, too: no temporary file left behind
            self.abort()
            raise

    def write(self, rows: list[dict]) -> None:
        self.writer.write(rows)

    def commit(self) -> None:
        self.writer.close()
        self._file.close()
        os.replace(self.tmp, self.target)
        settle_temp(self.tmp)

    def abort(self) -> None:
        writer = getattr(self, "writer", None)
        if writer is not None and writer._pq is not None:  # else its finaliser writes to the closed file later
            try:
                writer._pq.close()
            except Exception:  # noqa: BLE001 - the table is discarded either way
                pass
        self._file.close()
        settle_temp(self.tmp)


class ShardedTable:
    """The table as numbered shards in ``<output>.parts/`` with a manifest of the items each covers; ``commit``
    joins them into the output and removes the folder.

    A shard is written under a temporary name and renamed, then the manifest is replaced: a run killed at any
    point leaves only whole shards the manifest lists (a shard it does not list is deleted on resume and done
    again), so a resumed run writes every unit exactly once. The manifest's fingerprint (model, inputs, options,
    columns) must match for a run to resume.
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str], fingerprint: dict) -> None:
        self.target = Path(path)
        self.fmt = output_format(str(path))
        self.columns = list(columns)
        self.parts = self.target.with_name(self.target.name + ".parts")
        # the columns too: shards of a kpstance that wrote other columns cannot be joined to new ones
        self.fingerprint = {**fingerprint, "columns": self.columns}
        self.shards: list[dict] = []
        self.items_done = 0

    def start(self, resume: bool) -> int:
        """Items already written (0 for a fresh start); a stale or foreign parts folder is refused or cleared."""
        manifest = self.parts / MANIFEST
        if resume and manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                raise KpstanceError("damaged manifest; delete the folder to start again", manifest) from None
            if data.get("fingerprint") != self.fingerprint:
                raise KpstanceError("these shards were written for other inputs, another model, other options or "
                                    "columns; run again without --resume to start over", self.parts)
            self.shards, self.items_done = list(data["shards"]), int(data["items_done"])
            listed = {s["file"] for s in self.shards} | {MANIFEST}
            for f in self.parts.iterdir():  # a shard the manifest never listed, a temporary file: done again
                if f.name not in listed:
                    f.unlink()
            missing = [s["file"] for s in self.shards if not (self.parts / s["file"]).is_file()]
            if missing:
                raise KpstanceError(f"shard {missing[0]} is listed but missing; run again without --resume",
                                    self.parts)
            return self.items_done
        if self.parts.exists():
            shutil.rmtree(self.parts)
        try:
            self.parts.mkdir(parents=False)
        except OSError as e:
            raise KpstanceError(f"cannot write: {e.strerror}", self.parts) from None
        self._save()
        return 0

    def write(self, rows: list[dict], items: int) -> None:
        """One shard: ``rows`` of the next ``items`` items."""
        name = f"part-{len(self.shards):06d}.{self.fmt}"
        tmp = self.parts / f".{name}.tmp"
        with open_file(tmp, self.fmt, self.parts) as f:
            w = Writer(f, self.fmt, self.columns)
            w.write(rows)
            w.close()
        os.replace(tmp, self.parts / name)
        fault(f"shard-{len(self.shards)}-written")  # crash tests: a whole shard the manifest does not list yet
        self.shards.append({"file": name, "rows": len(rows), "items": items})
        self.items_done += items
        self._save()
        fault(f"shard-{len(self.shards) - 1}-listed")

    def _save(self) -> None:
        tmp = self.parts / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint, "items_done": self.items_done,
                                   "shards": self.shards}, indent=1), encoding="utf-8")
        os.replace(tmp, self.parts / MANIFEST)

    @property
    def rows(self) -> int:
        return sum(s["rows"] for s in self.shards)

    def discard(self) -> None:
        """Remove the parts folder: the run stopped on an error that resuming would meet again."""
        shutil.rmtree(self.parts, ignore_errors=True)

    def discard_stale(self, before: float) -> str | None:
        """After the whole table was written without ``--resume``: remove shards an earlier resumable run left
        beside it (a folder holding this module's manifest, last written before ``before``, this run's start; a
        manifest written since belongs to a run still going), which could only refuse the next ``--resume``."""
        manifest = self.parts / MANIFEST
        if not manifest.is_file() or manifest.stat().st_mtime >= before:
            return None
        self.discard()
        return str(self.parts)

    def commit(self) -> None:
        """Join the shards in order into the output (atomically), then remove the parts folder."""
        out = AtomicTable(self.target, self.columns)
        try:
            for s in self.shards:
                shard = self.parts / s["file"]
                if self.fmt == "parquet":
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    for b in pq.ParquetFile(shard).iter_batches(batch_size=4096):
                        out.writer.write_arrow(pa.Table.from_batches([b]))
                else:
                    with shard.open(encoding="utf-8", newline="") as f:
                        if self.fmt == "csv":
                            f.readline()  # each shard has the header; the output has it once
                        shutil.copyfileobj(f, out._file)
                fault("joining")
            out.commit()
            fault("joined")
        except BaseException:
            out.abort()
            raise
        shutil.rmtree(self.parts, ignore_errors=True)

