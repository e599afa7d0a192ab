"""A corpus through ``kpstance predict`` against the bare predictor, and the Ray engine against the local path.

    .venv/bin/python benchmarks/bench_table.py corpus [--sentences 200000] [--sample 20000] [--precision auto]
    .venv/bin/python benchmarks/bench_table.py ray [--sentences 20000] [--precision fp32]

``corpus``: synthetic articles (20 of the project's synthetic sentences each, a headline and a dateline) written
as one Parquet file; ``kpstance predict --resume`` turns it into a Parquet table in shards (a subprocess, timed
whole, its peak RSS read from the kernel), and the bare ``StancePredictor.predict_in_context`` labels a sample of
the same units (segmented and given their context beforehand, outside the clock), timed before and after the
corpus run because this machine's speed drifts. Prints the rates, their ratio and the peak RSS.

``ray``: the same kind of corpus through the local path and through ``--engine ray`` against a Ray head started
on 127.0.0.1 with as many CPUs as the machine has (one single-threaded replica per CPU); both timed whole, start-up
and model loading included; checks that the labels are equal.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))
BIN = Path(sys.executable).parent


def write_corpus(n: int, path: Path) -> int:
    import pandas as pd
    from bench_corpus import make_articles

    arts = make_articles(n)
    pd.DataFrame({"id": [a for a, _ in arts], "text": [t for _, t in arts],
                  "date": [f"2017-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(len(arts))],
                  "outlet": ["TASS"] * len(arts)}).to_parquet(path, index=False)
    return len(arts)


def run(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and the exit code of a subprocess."""
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return time.perf_counter() - t, r.returncode


def corpus(args: argparse.Namespace, tmp: Path) -> None:
    import pyarrow.parquet as pq

    from kpstance import StancePredictor
    from kpstance.systems.context import ContextReader
    from kpstance.text.corpus import Columns, estimate_units, iter_items

    src = tmp / "corpus.parquet"
    n_articles = write_corpus(args.sentences, src)
    p = StancePredictor.load(args.model, precision=args.precision, n_units=estimate_units([str(src)]))
    texts, ctx = [], []
    for it in iter_items([str(src)], Columns()):
        r = it.rows()
        texts += [rec["text"] for _, rec, _ in r]
        ctx += ContextReader(p.scheme())(r)
        if len(texts) >= args.sample:
            break
    p.predict_in_context(texts[:256], ctx[:256])  # int8 compiles here, outside the clock (the CLI's run pays it)

    def bare() -> float:
        t = time.perf_counter()
        for i in range(0, len(texts), 4096):
            p.predict_in_context(texts[i : i + 4096], ctx[i : i + 4096])
        return len(texts) / (time.perf_counter() - t)

    before = bare()  # the bare predictor before and after the corpus run: this machine's speed drifts
    out = tmp / "table.parquet"
    wall, _ = run([str(BIN / "kpstance"), "predict", args.model, "--input", str(src), "--output", str(out),
                   "--resume", "--quiet", "--precision", args.precision])
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB -> MiB, the largest child
    after = bare()
    rows = pq.ParquetFile(out).metadata.num_rows
    print(f"{n_articles} articles, {rows} units; precision {p.precision} ({p.choice.reason})")
    print(f"kpstance predict --resume -> Parquet: {wall:.0f} s whole (load and compile included), "
          f"{rows / wall:.1f} units/s; peak RSS {rss:.0f} MiB")
    print(f"bare predictor on {len(texts)} of the same units: {before:.1f} units/s before the corpus run, "
          f"{after:.1f} after")
    print(f"corpus path / bare predictor: {rows / wall / ((before + after) / 2):.2f} (against the mean of the two; "
          f"{rows / wall / before:.2f} and {rows / wall / after:.2f} against each)")


def ray_bench(args: argparse.Namespace, tmp: Path) -> None:
    import pandas as pd

    src = tmp / "corpus.parquet"
    write_corpus(args.sentences, src)
    local, ray_out = tmp / "local.parquet", tmp / "ray.parquet"
    base = [str(BIN / "kpstance"), "predict", args.model, "--input", str(src), "--quiet", "--precision",
            args.precision]
    t_local, _ = run([*base, "--output", str(local)])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_NODE_IP_ADDRESS": "127.0.0.1"}
    subprocess.run([str(BIN / "ray"), "start", "--head", "--num-cpus", str(os.cpu_count()), "--node-ip-address",
                    "127.0.0.1", "--port", str(port), "--include-dashboard=false", "--disable-usage-stats"],
                   check=True, capture_output=True, env=env)
    try:
        t_ray, _ = run([*base, "--engine", "ray", "--address", f"127.0.0.1:{port}", "--output", str(ray_out)])
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True)
    a, b = pd.read_parquet(local), pd.read_parquet(ray_out)
    same = bool((a[["unit_id", "actor", "stance"]].values == b[["unit_id", "actor", "stance"]].values).all())
    print(f"{len(a)} units, {os.cpu_count()} CPUs, precision {args.precision}")
    print(f"local: {t_local:.1f} s ({len(a) / t_local:.1f} units/s); ray: {t_ray:.1f} s ({len(b) / t_ray:.1f} units/s)")
    print(f"ray / local throughput, start-up included: {t_local / t_ray:.2f}; labels identical: {same}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["corpus", "ray"])
    ap.add_argument("--model", default=str(ROOT / "models" / "latest"))
    ap.add_argument("--sentences", type=int, default=None)
    ap.add_argument("--sample", type=int, default=20_000)
    ap.add_argument("--precision", default=None)
    args = ap.parse_args()
    from bench_precision import cpu_line

    print(cpu_line())
    with tempfile.TemporaryDirectory() as d:
        if args.what == "corpus":
            args.sentences = args.sentences or 200_000
            args.precision = args.precision or "auto"
            corpus(args, Path(d))
        else:
            args.sentences = args.sentences or 20_000
            args.precision = args.precision or "fp32"
            ray_bench(args, Path(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
