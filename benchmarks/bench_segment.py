"""The segmenter against stock pysbd, on the same articles, in the same run.

    .venv/bin/python benchmarks/bench_segment.py [--sentences 20000] [--repeats 3]

Two corpora: the synthetic articles of ``bench_table.py corpus`` (20 of the project's synthetic sentences each, a
headline and a dateline) and the project's real-news articles (``data/multisource/articles/*.txt`` and the seed
article, segmented ``--repeats`` times over). Each is segmented by ``segment_article`` as it ships (plain paragraphs
split directly, the rest through pysbd with a larger regex cache) and by the same function with every paragraph
sent to a stock ``pysbd.Segmenter`` (the peer, built before kpstance touches pysbd), best of ``--repeats`` rounds.
Prints ms per unit for both, the ratio, the share of paragraphs the shortcut took, and whether the units are the
same.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))


def timed(articles: list[tuple[str, str]], repeats: int) -> tuple[float, list]:
    """Best seconds of ``repeats`` rounds, and the units of the last."""
    from kpstance.text.segment import segment_article

    best, units = float("inf"), []
    for _ in range(repeats):
        t = time.perf_counter()
        units = [segment_article(text, aid) for aid, text in articles]
        best = min(best, time.perf_counter() - t)
    return best, units


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import pysbd
    from bench_corpus import make_articles
    from bench_precision import cpu_line

    import kpstance.text.segment as seg

    stock = pysbd.Segmenter(language="en", clean=False, char_span=False)  # before kpstance widens pysbd's cache
    real = [(f.stem, f.read_text(encoding="utf-8"))
            for f in [*sorted((ROOT / "data" / "multisource" / "articles").glob("*.txt")),
                      ROOT / "data" / "raw" / "tass-2017-11-24-lavrov.txt"]]
    corpora = {"synthetic articles": make_articles(args.sentences), "real-news articles (x20)": real * 20}
    print(cpu_line())
    shipped_plain, shipped_segmenter = seg._plain_split, seg._segmenter
    for name, articles in corpora.items():
        seg._plain_split, seg._segmenter = (lambda text: None), (lambda language="en": stock)
        t_stock, u_stock = timed(articles, args.repeats)
        seg._plain_split, seg._segmenter = shipped_plain, shipped_segmenter
        t_ours, u_ours = timed(articles, args.repeats)
        n = sum(len(u) for u in u_ours)
        calls: list[bool] = []

        def counting(text: str, calls: list[bool] = calls) -> list[str] | None:
            got = shipped_plain(text)
            calls.append(got is not None)
            return got

        seg._plain_split = counting
        timed(articles, 1)  # once more, counting the paragraphs the shortcut takes
        seg._plain_split = shipped_plain
        took = sum(calls) / len(calls)
        same = [[u.to_dict() for u in a] for a in u_stock] == [[u.to_dict() for u in a] for a in u_ours]
        print(f"{name}: {len(articles):,} articles, {n:,} units; stock pysbd {t_stock * 1e3 / n:.3f} ms a unit, "
              f"kpstance {t_ours * 1e3 / n:.3f} ms a unit: {t_stock / t_ours:.2f}x; shortcut took {took:.0%} of "
              f"the paragraphs; units identical: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
