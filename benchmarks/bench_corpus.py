"""Segmentation + rule labelling throughput on generated corpora of 10k and 100k sentences.

    .venv/bin/python benchmarks/bench_corpus.py [--sizes 10000 100000] [--num-proc 2]

Articles are built from the project's synthetic sentences (20 a piece, with a headline and
a dateline). Prints sentences/s per size and the ratio of the per-sentence cost between the
largest and the smallest size: a ratio near 1 means the cost grows linearly.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))


def make_articles(n_sentences: int, per_article: int = 20, seed: int = 0) -> list[tuple[str, str]]:
    from kpstance.weak.scheme import load_scheme
    from kpstance.weak.synthetic import Generator

    scheme = load_scheme(ROOT / "configs" / "labels" / "korean_peninsula.yaml")
    gen = Generator(ROOT / "configs" / "synthetic" / "korean_peninsula.yaml", scheme)
    pool = [e.text for e in gen.generate(5000, seed) if not e.text.endswith(("Lavrov", "Trump"))]
    pool = [t for t in pool if t.endswith((".", '"'))]
    articles, i = [], 0
    while i < n_sentences:
        body = [pool[(i + k) % len(pool)] for k in range(per_article)]
        paragraphs = [" ".join(body[j : j + 2]) for j in range(0, len(body), 2)]
        text = f"Headline number {len(articles)}\nSEOUL, March 3. /TASS/. " + "\n".join(paragraphs) + "\n"
        articles.append((f"a{len(articles):06d}", text))
        i += per_article
    return articles


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--num-proc", type=int, default=2)
    args = ap.parse_args()

    from kpstance.weak.corpus import label_texts
    from kpstance.weak.scheme import load_scheme

    scheme = load_scheme(ROOT / "configs" / "labels" / "korean_peninsula.yaml")
    label_texts(make_articles(200), scheme, args.num_proc)  # warm-up: imports, worker start
    rates = {}
    for n in args.sizes:
        arts = make_articles(n)
        t = time.perf_counter()
        ds = label_texts(arts, scheme, args.num_proc)
        dt = time.perf_counter() - t
        rates[n] = len(ds) / dt
        print(f"{len(arts):7d} articles, {len(ds):8d} units: {dt:7.1f} s, {rates[n]:8.0f} units/s "
              f"(num_proc={args.num_proc})", flush=True)
    lo, hi = min(rates), max(rates)
    print(f"per-unit cost at {hi} / at {lo}: {rates[lo] / rates[hi]:.2f} (1.00 = linear)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
