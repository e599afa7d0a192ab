"""``kpstance summarize`` on a large predictions table: seconds and memory per format, against pandas.

    .venv/bin/python benchmarks/bench_summarize.py [--rows 200000] [--n-boot 1000] [--formats parquet,csv,jsonl]
                                                   [--by month] [--no-public]

A synthetic table like ``kpstance predict --probs`` writes (the same columns and types; about 10 units per article,
a title and sometimes a dateline among them, dates over 2017-2018, the project's synthetic sentences as text, about
150 characters a unit) is written once to Parquet, CSV and JSON Lines, at ``--rows`` and at a quarter of it. For
each format and size a fresh subprocess reads the table with ``iter_table`` into ``Counts(by="month")`` (``--by``)
and runs ``summarize_counts`` with cc, pcc and acc and ``--n-boot`` replicates (acc's dev confusion matrix is built
from 500 synthetic (report, gold, predicted) pairs over 100 reports). Each subprocess reports its wall seconds
(counting and estimating apart), its peak RSS growth over what it held after its imports (``ru_maxrss``, the peak
first lowered to the RSS after the imports through ``/proc/self/clear_refs``) and, from a second run of the
estimating step off the clock, its tracemalloc peak. The tables are written by a subprocess too, so that no
measured process inherits a large peak from its parent (Linux carries the parent's peak RSS into ``ru_maxrss``
across exec). The peer, in its own subprocess, is pandas reading the same file whole and counting stance per
actor x period with a groupby (no intervals): printed are its seconds and memory and the ratio kpstance / pandas.
Memory at both sizes shows what grows with the rows.

Then the public path once, as a user runs it: ``kpstance.eval.summary.summarize(model, [table.parquet],
by="month", estimators="all")``, which loads the model and predicts the dev gold for acc (the load and the dev
step timed apart), and the same through the CLI (``kpstance summarize MODEL --input table.parquet --by month
--estimator all``, a subprocess, start-up included). The issue's goal: 200,000 rows by month with intervals under
30 s on 2 cores, in constant memory. No pass or fail: the numbers are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))
BIN = Path(sys.executable).parent

ACTORS = ["russia", "united_states", "japan", "north_korea", "south_korea", "china", "united_nations", "none"]
STANCES = ["hardline", "conciliatory", "neutral"]
OUTLETS = ["TASS", "KCNA", "Yonhap", "Xinhua", "Reuters"]
SPEAKERS = ["Sergei Lavrov", "Rex Tillerson", "Shinzo Abe", "Kim Jong-un", "Moon Jae-in", "Geng Shuang",
            "Antonio Guterres", "Maria Zakharova"]
SUFFIX = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}
EXTS = ("cc", "pcc", "acc")


def rss_mib() -> float:
    """This process's peak RSS (``ru_maxrss``) in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB


def reset_peak() -> float:
    """Lower the peak RSS to the RSS now, where Linux allows it (``/proc/self/clear_refs``), so that what imports
    held for a moment is not taken for the baseline; returns the peak after the reset (the baseline)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return rss_mib()


# ---------------------------------------------------------------------------------------------------- the table
def text_pool(n: int = 3000, seed: int = 0) -> list[str]:
    """About 150 characters a unit: the project's synthetic sentences, two joined where one is short."""
    from kpstance.weak.scheme import load_scheme
    from kpstance.weak.synthetic import Generator

    scheme = load_scheme(ROOT / "configs" / "labels" / "korean_peninsula.yaml")
    gen = Generator(ROOT / "configs" / "synthetic" / "korean_peninsula.yaml", scheme)
    sents = [e.text for e in gen.generate(n, seed)]
    return [s if len(s) >= 120 else f"{s} {sents[(i + 1) % len(sents)]}" for i, s in enumerate(sents)]


def make_table(n_rows: int, pool: list[str], seed: int = 0, model: str = "synthetic") -> dict:
    """Columns of a ``kpstance predict --probs`` table (the flat form of CSV and Parquet)."""
    import numpy as np

    from kpstance.scale.table import COLUMNS

    rng = np.random.default_rng(seed)
    sizes = rng.integers(6, 15, size=n_rows // 6 + 1)  # ~10 units an article
    ends = np.cumsum(sizes)
    sizes = sizes[: int(np.searchsorted(ends, n_rows)) + 1]
    sizes[-1] -= int(sizes.sum()) - n_rows
    n_art = len(sizes)
    art = np.repeat(np.arange(n_art), sizes)
    pos = np.arange(n_rows) - np.repeat(np.cumsum(sizes) - sizes, sizes)  # index of the unit in its article
    day0 = np.datetime64("2017-01-01")
    days = (day0 + rng.integers(0, 730, size=n_art)).astype(str)  # 2017-01-01 .. 2018-12-31
    outlet = rng.integers(0, len(OUTLETS), size=n_art)
    has_dateline = rng.random(n_art) < 0.5
    kind = np.where(pos == 0, "title", np.where((pos == 1) & has_dateline[art], "dateline", "sentence"))
    a_p = rng.dirichlet([1.0] * 7 + [2.5], size=n_rows)  # none the most frequent actor
    s_p = rng.dirichlet([1.0, 0.8, 1.3], size=n_rows)
    actor, stance = a_p.argmax(1), s_p.argmax(1)
    ids = [f"{OUTLETS[outlet[a]].lower()}-{a:07d}" for a in range(n_art)]
    sp = rng.integers(0, len(SPEAKERS) * 3, size=n_rows)  # a named speaker for a third of the units
    text_i = rng.integers(0, len(pool), size=n_rows)
    titles = [t[:80].rsplit(" ", 1)[0].rstrip(".,") for t in pool[:500]]
    cols = {
        "article_id": [ids[a] for a in art],
        "date": days[art].tolist(),
        "outlet": [OUTLETS[outlet[a]] for a in art],
        "title": [titles[a % len(titles)] for a in art],
        "url": [f"https://news.example/{ids[a]}" for a in art],
        "unit_id": [f"{ids[a]}-{p}" for a, p in zip(art.tolist(), pos.tolist())],
        "kind": kind.tolist(),
        "speaker": [SPEAKERS[i] if i < len(SPEAKERS) else None for i in sp.tolist()],
        "text": [pool[i] for i in text_i.tolist()],
        "actor": [ACTORS[i] for i in actor.tolist()],
        "stance": [STANCES[i] for i in stance.tolist()],
        "actor_score": a_p.max(1),
        "stance_score": s_p.max(1),
        "uncertain": [None] * n_rows,
        "model": [model] * n_rows,  # the model summarize is given, so acc takes the table as its own
    }
    assert list(cols) == list(COLUMNS)
    for i, a in enumerate(ACTORS):
        cols[f"actor_p_{a}"] = a_p[:, i]
    for i, s in enumerate(STANCES):
        cols[f"stance_p_{s}"] = s_p[:, i]
    return cols


def write_tables(cols: dict, folder: Path, formats: list[str]) -> dict[str, Path]:
    """The table in each format as ``kpstance predict`` writes it: Parquet with its schema (zstd, row groups of 4096
    rows), CSV with empty cells for None, JSON Lines with the probabilities as two objects."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kpstance.scale.table import COLUMNS, arrow_schema, prob_columns

    folder.mkdir(parents=True, exist_ok=True)
    names = [*COLUMNS, *prob_columns(ACTORS, STANCES)]
    out = {}
    if "parquet" in formats:
        out["parquet"] = folder / "table.parquet"
        # a row group per chunk of ~4096 units, as predict's ParquetWriter writes them
        pq.write_table(pa.Table.from_pydict(cols, schema=arrow_schema(names)), out["parquet"], compression="zstd",
                       row_group_size=4096)
    df = pd.DataFrame(cols, columns=names)
    if "csv" in formats:
        out["csv"] = folder / "table.csv"
        df.to_csv(out["csv"], index=False, lineterminator="\n")
    if "jsonl" in formats:
        out["jsonl"] = folder / "table.jsonl"
        fixed = [cols[c] if isinstance(cols[c], list) else cols[c].tolist() for c in COLUMNS]
        probs = [(g, labels, np.stack([cols[f"{g}_p_{x}"] for x in labels], 1).tolist())
                 for g, labels in (("actor", ACTORS), ("stance", STANCES))]
        with open(out["jsonl"], "w", encoding="utf-8") as f:  # as Writer.write: json.dumps a row a line
            for i, values in enumerate(zip(*fixed)):
                row = dict(zip(COLUMNS, values))
                for g, labels, arr in probs:
                    row[f"{g}_probs"] = dict(zip(labels, arr[i]))
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return out


def dev_pairs(n_pairs: int = 500, n_reports: int = 100, seed: int = 1) -> list[tuple[str, str, str]]:
    """(report, gold, predicted): a classifier right about 80 % of the time, overcalling conciliatory a little."""
    import numpy as np

    rng = np.random.default_rng(seed)
    m = np.array([[0.78, 0.12, 0.10], [0.06, 0.84, 0.10], [0.10, 0.14, 0.76]])  # P(predicted | gold), rows gold
    gold = rng.choice(3, size=n_pairs, p=[0.35, 0.25, 0.40])
    return [(f"r{rng.integers(n_reports):03d}", STANCES[g], STANCES[rng.choice(3, p=m[g])]) for g in gold]


# ---------------------------------------------------------------------------------------------------- children
def child_kpstance(spec: dict) -> dict:
    import tracemalloc

    import pandas  # noqa: F401  (summarize_counts builds a DataFrame: imported before the baseline)
    import pyarrow.parquet  # noqa: F401

    from kpstance.eval.shares import DevConfusion
    from kpstance.eval.summary import Counts, Labels, iter_table, summarize_counts

    labels = Labels(ACTORS, STANCES, "none", {"coercive": "hardline", "deescalating": "conciliatory",
                                              "neutral": "neutral"})
    dev = DevConfusion.from_pairs(dev_pairs(), STANCES, "synthetic dev")
    warnings: list[str] = []
    base = reset_peak()
    t0 = time.perf_counter()
    counts = Counts(labels, by=spec["by"], n_boot=spec["n_boot"])
    for where, row in iter_table(spec["path"], STANCES):
        counts.add(row, where)
    t1 = time.perf_counter()
    rss_counted = rss_mib()
    df = summarize_counts(counts, list(EXTS), dev, warn=warnings.append)
    t2 = time.perf_counter()
    rss_end = rss_mib()
    # again under tracemalloc, off the clock (it slows every allocation): what estimating allocates at its peak
    tracemalloc.start()
    summarize_counts(counts, list(EXTS), dev, warn=lambda m: None)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"count_s": t1 - t0, "estimate_s": t2 - t1, "total_s": t2 - t0, "base_mib": base,
            "counted_grow_mib": rss_counted - base, "grow_mib": rss_end - base, "traced_mib": traced,
            "counted": counts.counted, "periods": len(counts.periods()),
            "rows_out": len(df), "left_out": dict(counts.left_out), "warnings": warnings}


def child_pandas(spec: dict) -> dict:
    import pandas as pd
    import pyarrow.parquet  # noqa: F401

    base = reset_peak()
    t0 = time.perf_counter()
    path, fmt = spec["path"], spec["format"]
    if fmt == "parquet":
        df = pd.read_parquet(path)
    elif fmt == "csv":
        df = pd.read_csv(path)
    else:
        df = pd.read_json(path, lines=True)
    t1 = time.perf_counter()
    news = df[(df["kind"] == "sentence") & (df["actor"] != "none")]
    counts = news.groupby([news["actor"], *peer_period(news["date"], spec["by"]), news["stance"]]).size()
    t2 = time.perf_counter()
    return {"read_s": t1 - t0, "groupby_s": t2 - t1, "total_s": t2 - t0, "base_mib": base,
            "grow_mib": rss_mib() - base, "counted": int(counts.sum())}


def peer_period(dates: Any, by: str) -> list:
    """pandas's key of the period of each date (none for ``all``)."""
    import pandas as pd

    text = dates.astype(str)
    if by in ("day", "month", "year"):
        return [text.str[: {"day": 10, "month": 7, "year": 4}[by]]]
    if by in ("week", "quarter"):
        return [pd.to_datetime(text.str[:10]).dt.to_period(by[0].upper())]
    if by == "half":
        return [text.str[:4], text.str[5:7] > "06"]
    return []


def child_public(spec: dict) -> dict:
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import kpstance.eval.summary as summary
    from kpstance.systems.predictor import StancePredictor

    spent = {"load_s": 0.0, "dev_s": 0.0}
    load, dev = StancePredictor.load.__func__, summary._dev

    def timed_load(cls, *a, **k):
        t = time.perf_counter()
        try:
            return load(cls, *a, **k)
        finally:
            spent["load_s"] += time.perf_counter() - t

    def timed_dev(*a, **k):
        t = time.perf_counter()
        try:
            return dev(*a, **k)
        finally:
            spent["dev_s"] += time.perf_counter() - t

    StancePredictor.load = classmethod(timed_load)
    summary._dev = timed_dev
    warnings: list[str] = []
    base = reset_peak()
    t0 = time.perf_counter()
    df = summary.summarize(spec["model"], [spec["path"]], by=spec["by"], estimators="all", n_boot=spec["n_boot"],
                           warn=warnings.append)
    total = time.perf_counter() - t0
    return {"total_s": total, **spent, "base_mib": base, "grow_mib": rss_mib() - base, "peak_mib": rss_mib(),
            "rows_out": len(df), "dev": df.attrs.get("dev"), "warnings": warnings}


def child_write(spec: dict) -> dict:
    """The tables of every size (here, so that the parent stays small: a child's ``ru_maxrss`` starts from the peak
    of the process that spawned it)."""
    t = time.perf_counter()
    pool = text_pool()
    sizes = {}
    for n in spec["sizes"]:
        paths = write_tables(make_table(n, pool, model=spec["model"]), Path(spec["folder"]) / str(n), spec["formats"])
        sizes[n] = {f: p.stat().st_size for f, p in paths.items()}
    return {"seconds": time.perf_counter() - t, "bytes": sizes}


def child_cli(spec: dict) -> dict:
    """The CLI as a user runs it, start-up included, with its peak RSS (a small parent: see ``child_write``)."""
    t = time.perf_counter()
    r = subprocess.run(spec["cmd"], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(spec['cmd'])} failed:\n{r.stderr[-3000:]}")
    return {"total_s": wall, "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "lines": len(r.stdout.splitlines())}


def model_name(folder: str) -> str:
    """The run name a model's kpstance.json records, which summarize checks a table's model column against (read
    here without importing kpstance: the parent stays small)."""
    meta = Path(folder) / "kpstance.json"
    return json.loads(meta.read_text(encoding="utf-8")).get("run_name") or Path(folder).resolve().name \
        if meta.is_file() else "synthetic"


def in_child(what: str, spec: dict) -> dict:
    """One measurement in a fresh interpreter, so that its peak RSS is its own."""
    r = subprocess.run([sys.executable, __file__, "--child", what, json.dumps(spec)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{what} child failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--formats", default="parquet,csv,jsonl")
    ap.add_argument("--by", default="month", choices=["all", "day", "week", "month", "quarter", "half", "year"])
    ap.add_argument("--model", default=str(ROOT / "models" / "latest"))
    ap.add_argument("--no-public", action="store_true", help="skip the public path (model load, dev gold, CLI)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, spec = args.child[0], json.loads(args.child[1])
        fn = {"kpstance": child_kpstance, "pandas": child_pandas, "public": child_public, "write": child_write,
              "cli": child_cli}[what]
        print(json.dumps(fn(spec)))
        return 0

    from bench_precision import cpu_line

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in SUFFIX]
    if bad:
        sys.exit(f"--formats: unknown {', '.join(bad)} (parquet, csv, jsonl)")
    print(cpu_line())
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    sizes = sorted({max(args.rows // 4, 1), args.rows})
    res: dict[tuple[int, str, str], dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_summarize_") as d:
        w = in_child("write", {"folder": d, "sizes": sizes, "formats": formats, "model": model_name(args.model)})
        paths = {n: {f: Path(d) / str(n) / f"table{SUFFIX[f]}" for f in formats} for n in sizes}
        print(f"tables written in {w['seconds']:.1f} s: " + "; ".join(
            f"{int(n):,} rows " + ", ".join(f"{f} {b / 2**20:.0f} MiB" for f, b in bs.items())
            for n, bs in w["bytes"].items()), flush=True)
        for n in sizes:
            for f in formats:
                spec = {"path": str(paths[n][f]), "format": f, "n_boot": args.n_boot, "by": args.by}
                res[(n, f, "kpstance")] = in_child("kpstance", spec)
                res[(n, f, "pandas")] = in_child("pandas", spec)
                k, p = res[(n, f, "kpstance")], res[(n, f, "pandas")]
                print(f"  {n:>7,} {f:7s} kpstance {k['total_s']:6.2f} s, pandas {p['total_s']:6.2f} s", flush=True)
        public = cli = None
        if not args.no_public and "parquet" in formats:
            big = str(paths[args.rows]["parquet"])
            public = in_child("public", {"path": big, "model": args.model, "n_boot": args.n_boot, "by": args.by})
            print(f"  public path {public['total_s']:.1f} s", flush=True)
            cli = in_child("cli", {"cmd": [str(BIN / "kpstance"), "summarize", args.model, "--input", big, "--by",
                                           args.by, "--estimator", "all", "--bootstrap", str(args.n_boot),
                                           "--format", "csv"]})

    big = res[(args.rows, formats[0], "kpstance")]
    print(f"\n{args.rows:,} rows, {big['periods']} periods (by {args.by}), "
          f"{big['counted']:,} news units with an actor counted (left out: "
          + ", ".join(f"{v:,} {k}" for k, v in sorted(big["left_out"].items(), key=lambda kv: -kv[1]))
          + f"); estimators {', '.join(EXTS)}, {args.n_boot} bootstrap replicates; dev 500 pairs over 100 reports")
    if big["warnings"]:
        print("warnings: " + " | ".join(big["warnings"]))
    print(f"\nkpstance: iter_table -> Counts(by='{args.by}') -> summarize_counts; memory is the peak RSS growth over the "
          "process after its imports\n(at counting's end / at the end), and the tracemalloc peak of summarize_counts")
    head = f"{'format':8s} {'rows':>8s} {'count s':>8s} {'estim. s':>8s} {'total s':>8s} {'RSS+ counted':>12s} " \
           f"{'RSS+ end':>9s} {'traced est.':>11s}"
    print(head)
    for f in formats:
        for n in sizes:
            k = res[(n, f, "kpstance")]
            print(f"{f:8s} {n:>8,} {k['count_s']:8.2f} {k['estimate_s']:8.2f} {k['total_s']:8.2f} "
                  f"{k['counted_grow_mib']:9.0f} MiB {k['grow_mib']:5.0f} MiB {k['traced_mib']:7.1f} MiB")
    print(f"\npeer: pandas reads the file whole, then a groupby count of stance per actor x {args.by} (news units, "
          "actors but none; no intervals)")
    print(f"{'format':8s} {'rows':>8s} {'read s':>8s} {'groupby s':>9s} {'total s':>8s} {'RSS+':>9s} "
          f"{'kpstance/pandas time':>21s} {'kpstance/pandas RSS+':>21s}")
    for f in formats:
        for n in sizes:
            k, p = res[(n, f, "kpstance")], res[(n, f, "pandas")]
            same = "" if k["counted"] == p["counted"] else f"  (counted {k['counted']:,} vs {p['counted']:,}!)"
            print(f"{f:8s} {n:>8,} {p['read_s']:8.2f} {p['groupby_s']:9.2f} {p['total_s']:8.2f} "
                  f"{p['grow_mib']:5.0f} MiB {k['total_s'] / p['total_s']:20.2f}x "
                  f"{k['grow_mib'] / max(p['grow_mib'], 1):20.2f}x{same}")
    small = sizes[0]
    if small != args.rows:
        print(f"\nmemory growth {small:,} -> {args.rows:,} rows ({args.rows / small:.0f}x the rows):")
        for f in formats:
            k0, k1 = res[(small, f, "kpstance")], res[(args.rows, f, "kpstance")]
            p0, p1 = res[(small, f, "pandas")], res[(args.rows, f, "pandas")]
            print(f"  {f:8s} kpstance {k0['grow_mib']:4.0f} -> {k1['grow_mib']:4.0f} MiB; "
                  f"pandas {p0['grow_mib']:5.0f} -> {p1['grow_mib']:5.0f} MiB")
    if public is not None:
        print(f"\npublic path, {args.rows:,} rows of Parquet, summarize(model, [table], by='{args.by}', "
              f"estimators='all', n_boot={args.n_boot}):")
        dev = public["dev"] or {}
        print(f"  {public['total_s']:.1f} s whole: model load {public['load_s']:.1f} s, dev gold predicted and "
              f"counted {public['dev_s']:.1f} s ({dev.get('units', '?')} units over {dev.get('reports', '?')} "
              f"reports), the rest {public['total_s'] - public['load_s'] - public['dev_s']:.1f} s; "
              f"peak RSS {public['peak_mib']:.0f} MiB (+{public['grow_mib']:.0f} MiB after imports)")
        if public["warnings"]:
            print("  warnings: " + " | ".join(public["warnings"]))
        print(f"  CLI `kpstance summarize MODEL --input table.parquet --by {args.by} --estimator all --format csv`: "
              f"{cli['total_s']:.1f} s, start-up included; peak RSS {cli['peak_mib']:.0f} MiB")
    goal = max(res[(args.rows, f, "kpstance")]["total_s"] for f in formats)
    print(f"\ngoal: 200,000 rows by month with intervals under 30 s on 2 cores; here {args.rows:,} rows by {args.by}, "
          f"slowest format "
          f"{goal:.1f} s" + (f", public path {public['total_s']:.1f} s, CLI {cli['total_s']:.1f} s" if public and cli else ""))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
