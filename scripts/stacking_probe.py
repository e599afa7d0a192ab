"""Would the rules help the model where it reads direction wrong? A stacker fitted on dev, scored on test.

    .venv/bin/python scripts/stacking_probe.py models/latest

Reads the multi-source corpus's dev and test units and the contrast set's dev and test pairs through the same path
as ``kpstance predict --probs --explain`` (the model's stance distribution, the rules' stance and the rules that
fired), fits a multinomial logistic regression on dev over three feature sets (the model's log-probabilities
alone; with the rules' stance; with every stance rule that fired) at four strengths, and prints test stance
macro-F1 and the test contrast pairs with both members right, beside the model's and the rules' own. Nothing is
fitted on test. A probe: the project keeps no stacker (docs/results.md, "A user's check of direction").
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))


def rows(predictor, path: Path) -> list[dict]:
    """The dev and test units of a gold file as ``kpstance predict --probs --explain`` reads them."""
    from kpstance.eval.summary import predict_gold

    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return predict_gold(predictor, [r for r in records if r["split"] in ("dev", "test")], explain=True)


def main() -> int:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from kpstance.systems.predictor import StancePredictor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    args = ap.parse_args()
    predictor = StancePredictor.load(args.model_dir, precision="fp32")
    stances = list(predictor.stances)
    ms = rows(predictor, ROOT / "data" / "multisource" / "sentences.jsonl")
    cp = rows(predictor, ROOT / "data" / "contrast" / "pairs.jsonl")
    fired = sorted({f for r in ms + cp for f in r["rules_fired"] if f.startswith("stance:")})

    def features(r: dict, level: int) -> list[float]:
        x = [float(np.log(r["stance_probs"][s] + 1e-6)) for s in stances]
        if level >= 1:
            x += [float(r["rules_stance"] == s) for s in stances]
        if level >= 2:
            x += [float(f in r["rules_fired"]) for f in fired]
        return x

    def pairs(rs: list[dict], said: list[str]) -> float:
        by = collections.defaultdict(list)
        for r, s in zip(rs, said):
            by[r["pair_id"]].append(r["gold_stance"] == s)
        return float(np.mean([all(v) for v in by.values()]))

    dev = [r for r in ms + cp if r["split"] == "dev"]
    test, test_pairs = [r for r in ms if r["split"] == "test"], [r for r in cp if r["split"] == "test"]
    gold = [r["gold_stance"] for r in test]
    n_pairs = len({r["pair_id"] for r in test_pairs})
    print(f"model {predictor.meta.get('run_name', args.model_dir)}; fitted on {len(dev)} dev units; test "
          f"{len(test)} units and {n_pairs} contrast pairs\n")
    print("| reader | test stance macro-F1 | test contrast pairs, both right |\n|---|---:|---:|")
    for who in ("stance", "rules_stance"):
        print(f"| {'the model' if who == 'stance' else 'the rules'} | "
              f"{f1_score(gold, [r[who] for r in test], average='macro'):.3f} | "
              f"{pairs(test_pairs, [r[who] for r in test_pairs]):.3f} |")
    names = ("model log-probabilities", "+ the rules' stance", "+ every stance rule that fired")
    for level, name in enumerate(names):
        for c in (0.1, 0.3, 1.0, 3.0):
            lr = LogisticRegression(C=c, max_iter=2000).fit([features(r, level) for r in dev],
                                                             [r["gold_stance"] for r in dev])
            said = lr.predict([features(r, level) for r in test])
            said_pairs = lr.predict([features(r, level) for r in test_pairs])
            print(f"| stacker: {name}, C={c} | {f1_score(gold, said, average='macro'):.3f} | "
                  f"{pairs(test_pairs, list(said_pairs)):.3f} |")
    return 0


if __name__ == "__main__":
    from kpstance.errors import KpstanceError

    try:
        sys.exit(main())
    except KpstanceError as e:
        print(f"stacking_probe: error: {e}", file=sys.stderr)
        sys.exit(2)
