"""Precision on this machine: sentences/s of fp32, bf16 and int8 in one run, and the test scores of each.

    .venv/bin/python benchmarks/bench_precision.py [--model models/latest] [--n 2000] [--repeats 3]

Every precision loads the same saved folder (int8 quantises the loaded copy with torchao and compiles it; the
compile time is printed apart and left out of the rate). Rounds rotate the order of the precisions and the
median of the per-round ratios is reported, because this machine's speed drifts from minute to minute. Then each
precision labels the multi-source corpus's test split (sentences read with their kind and speaker, as in
training) and prints actor and stance macro-F1 and joint accuracy, and the share of labels identical to fp32's.
Prints the CPU model and the flags that decide ``auto``, and what ``auto`` picks for a large job here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))


def cpu_line() -> str:
    from kpstance.systems.precision import BF16_FLAGS, INT8_FLAGS, cpu_flags

    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    have = sorted(set(INT8_FLAGS + BF16_FLAGS) & cpu_flags())
    return f"CPU: {model}; flags that matter: {', '.join(have) or 'none'}; {os.cpu_count()} cores"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "latest"))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precisions", default="fp32,bf16,int8")
    args = ap.parse_args()

    from bench_inference import sentences

    from kpstance import StancePredictor
    from kpstance.corpora.base import sentence_units
    from kpstance.corpora.load import load_multisource
    from kpstance.eval.metrics import score
    from kpstance.systems.context import contexts
    from kpstance.systems.precision import choose

    print(cpu_line())
    print(f"auto for a job of 1,000,000 sentences here: {choose('auto', 'cpu', 1_000_000)}")
    texts = sentences(args.n)
    preds = {}
    for prec in args.precisions.split(","):
        t = time.perf_counter()
        p = StancePredictor.load(args.model, precision=prec)
        p.predict(texts[:64])  # int8: compiles here
        print(f"{prec}: load and first batch {time.perf_counter() - t:.1f} s", flush=True)
        preds[prec] = p
    rates: dict[str, list[float]] = {k: [] for k in preds}
    order = list(preds)
    for r in range(args.repeats):
        for prec in order[r % len(order):] + order[: r % len(order)]:
            t = time.perf_counter()
            preds[prec].predict(texts)
            rates[prec].append(len(texts) / (time.perf_counter() - t))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}/s" for k, v in rates.items()), flush=True)
    print(f"\n{len(texts)} sentences, {args.repeats} rounds (median, min-max):")
    for k, v in rates.items():
        ratios = [a / b for a, b in zip(v, rates["fp32"])] if "fp32" in rates else [float("nan")]
        print(f"  {k:5s} {statistics.median(v):7.1f} sentences/s ({min(v):.1f}-{max(v):.1f}); "
              f"{statistics.median(ratios):.2f}x fp32")
    first = next(iter(preds.values()))
    scheme = first.scheme()
    recs = load_multisource(ROOT / "data" / "multisource", scheme, train=False).split("test")
    units = sentence_units(recs)
    gold = [(r["actor"], r["stance"]) for r in recs]
    print(f"\nmulti-source test split, {len(recs)} sentences:")
    labels = {}
    for k, p in preds.items():
        ctx = contexts(units, scheme) if p.meta.get("context") else None
        out = p.predict([u.text for u in units], contexts=ctx)
        labels[k] = [(o["actor"], o["stance"]) for o in out]
        m = score(gold, labels[k], scheme)
        same = sum(a == b for a, b in zip(labels[k], labels.get("fp32", labels[k]))) / len(recs)
        print(f"  {k:5s} actor macro-F1 {m['actor_macro_f1']:.3f}, stance macro-F1 {m['stance_macro_f1']:.3f}, "
              f"joint accuracy {m['joint_accuracy']:.3f}; labels identical to fp32: {same:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
