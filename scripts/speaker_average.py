"""Speaker averaging read on a saved model's held-out figures, without retraining: each copy count in turn.

    .venv/bin/python scripts/speaker_average.py models/latest [MODEL ...] [--copies 0,2]

For each model and each count N (``StancePredictor.speaker_average``; 0 = one pass), prints the dev and test stance
macro-F1, joint accuracy, speaker-swap flip, counter-prior stance macro-F1, contrast pairs (both right) and whole
articles' stance macro-F1, as ``metrics.json`` names them, and the seconds it took. The counter-prior slice here
takes its (actor, stance) shares from the multi-source and contrast train splits alone (a run's own slice also
counts its synthetic and silver units), so its figure differs from ``metrics.json``'s; compare it between counts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))
KEYS = ["stance_macro_f1", "joint_accuracy", "swap_stance_flip", "counter_stance_macro_f1", "contrast_pair_accuracy",
        "articles_stance_macro_f1"]


def main() -> int:
    from kpstance.cli import _UnitReader
    from kpstance.corpora.load import load_contrast, load_multisource
    from kpstance.eval.score import Scorer
    from kpstance.eval.swap import counter_prior, counter_scores, sentence_test
    from kpstance.systems.predictor import StancePredictor
    from kpstance.weak.swap import Swapper

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--copies", default="0,2", help="comma-separated copy counts")
    args = ap.parse_args()
    print("| model | copies | " + " | ".join(f"{s} {k}" for s in ("dev", "test") for k in KEYS) + " | seconds |")
    print("|---|---:|" + "---:|" * (2 * len(KEYS) + 1))
    for model in args.models:
        pred = StancePredictor.load(model, precision="fp32")
        scheme = pred.scheme()
        ms = load_multisource(ROOT / "data" / "multisource", scheme)
        ct = load_contrast(ROOT / "data" / "contrast" / "pairs.jsonl", scheme)
        rare = counter_prior([(r["actor"], r["stance"]) for c in (ms, ct) for r in c.split("train")], scheme)
        swapper = Swapper(scheme)  # the copies every run is tested on
        for n in (int(x) for x in args.copies.split(",")):
            t = time.perf_counter()
            pred.speaker_average = n
            system, m = _UnitReader(pred, scheme, 64), {}
            for corpus in (ms, ct):
                sc = Scorer(corpus, scheme)
                m.update(sc.score("model", corpus.prefix, system))
                for split in ("dev", "test"):
                    key = f"{split}_{corpus.infix}"
                    m.update(sentence_test(system, corpus.split(split), swapper, sc.predict(system, split))
                             .metrics(key, scheme))
                    m.update(counter_scores(corpus.split(split), sc.predict(system, split), rare, scheme, key))
            cells = []
            for split in ("dev", "test"):
                cells += [f"{m[f'{split}_{k}']:.3f}" if f"{split}_{k}" in m else "–" for k in KEYS]
            print(f"| {pred.meta.get('run_name', model)} | {n} | " + " | ".join(cells) +
                  f" | {time.perf_counter() - t:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
