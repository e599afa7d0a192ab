"""Score the rules (the weak labeller) on a multi-source split, for rule development: dev, never test.

    .venv/bin/python scripts/score_rules.py [--split dev] [--errors N] [overrides ...]

Prints actor and stance macro-F1 and joint accuracy on the split's sentences and on its whole
articles (segmented as ``kpstance predict`` does), and the first N errors with their phenomena.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))


def main(argv: list[str]) -> int:
    from kpstance.config import compose, validate
    from kpstance.corpora import load_multisource, sentence_units
    from kpstance.eval.metrics import score
    from kpstance.eval.score import Scorer
    from kpstance.systems.baselines import RulesSystem
    from kpstance.weak.scheme import load_scheme

    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="dev", choices=["train", "dev", "test"])
    ap.add_argument("--errors", type=int, default=0)
    args, overrides = ap.parse_known_args(argv)
    cfg = validate(compose(["logger=none", "paths.output_dir=/tmp/kp_score_rules", *overrides]))
    scheme = load_scheme(cfg.labels)
    ms = load_multisource(cfg.data.multisource.path, scheme, cfg.data.language)
    rules = RulesSystem(cfg, scheme, 0)
    recs = ms.split(args.split)
    preds = rules.predict(sentence_units(recs))
    m = score([(r["actor"], r["stance"]) for r in recs], [(p["actor"], p["stance"]) for p in preds], scheme, "")
    print(f"{args.split} sentences ({len(recs)}): actor {m['actor_macro_f1']:.3f} stance {m['stance_macro_f1']:.3f} "
          f"joint {m['joint_accuracy']:.3f}")
    arts = Scorer(ms, scheme).score_articles("rules", "", rules, args.split)
    if arts:  # whole articles, segmented as `kpstance predict` does (Scorer.score_articles)
        k = f"{args.split}_articles_"
        print(f"{args.split} articles ({arts[k + 'n']}): actor {arts[k + 'actor_macro_f1']:.3f} stance "
              f"{arts[k + 'stance_macro_f1']:.3f} joint {arts[k + 'joint_accuracy']:.3f}")
    shown = 0
    for r, p in zip(recs, preds):
        if shown >= args.errors:
            break
        if (r["actor"], r["stance"]) != (p["actor"], p["stance"]):
            shown += 1
            print(f"- gold {r['actor']}/{r['stance']} rules {p['actor']}/{p['stance']} {r['phenomena']}: {r['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
