"""Score the rules on a probe of single sentences labelled by the guideline (a TSV: id, actor, stance, kind, text).

    .venv/bin/python scripts/probe_rules.py data/probes/opposition_futility.tsv [--labels YAML] [--errors]

Each sentence is read alone, as a one-sentence article under a headline (the way ``kpstance label`` reads a line);
the stance right is counted per ``kind`` and in all. To compare with the rules of another commit, run the same
command with that commit's code and label YAML: ``git clone -q . /tmp/before && git -C /tmp/before checkout -q
2cf0398``, then ``PYTHONPATH=/tmp/before/src .venv/bin/python scripts/probe_rules.py PROBE --labels
/tmp/before/configs/labels/korean_peninsula.yaml``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read_probe(path: str | Path) -> list[dict[str, str]]:
    """The probe's rows; a row without one of the five fields is one line naming the file and row."""
    from kpstance.errors import KpstanceError

    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for i, r in enumerate(rows, start=2):
        if any(not (r.get(k) or "").strip() for k in ("id", "actor", "stance", "kind", "text")):
            raise KpstanceError("a row needs id, actor, stance, kind and text (tab-separated)", path, i)
    return rows


def score(rows: list[dict[str, str]], labels: str | Path) -> tuple[Counter, Counter, list[tuple[dict, str, str]]]:
    """(right per kind, rows per kind, the rows read wrong with the rules' stance and reading)."""
    from kpstance.text.segment import segment_article
    from kpstance.weak.label import label_units
    from kpstance.weak.scheme import load_scheme

    scheme = load_scheme(str(labels))
    right, n, wrong = Counter(), Counter(), []
    for r in rows:
        u = label_units(segment_article(f"Headline\n{r['text']}\n", r["id"]), scheme)[1]
        n[r["kind"]] += 1
        if u.stance == r["stance"]:
            right[r["kind"]] += 1
        else:
            wrong.append((r, u.stance, ",".join(x for x in u.rules_fired if x.startswith("stance:"))))
    return right, n, wrong


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("probe")
    ap.add_argument("--labels", default=str(ROOT / "configs" / "labels" / "korean_peninsula.yaml"))
    ap.add_argument("--errors", action="store_true", help="list the sentences whose stance the rules read wrong")
    args = ap.parse_args(argv)
    right, n, wrong = score(read_probe(args.probe), args.labels)
    print("stance right: " + ", ".join(f"{k} {right[k]}/{n[k]}" for k in n) + f"; all {sum(right.values())}/"
          f"{sum(n.values())}")
    for r, stance, reading in wrong if args.errors else ():
        print(f"{r['id']}\t{r['kind']}\tgold {r['stance']}\trules {stance} ({reading})\t{r['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
