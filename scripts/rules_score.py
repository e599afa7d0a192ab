"""Score the rules (the weak labeller) alone, in seconds: the seed article's gold and the multi-source dev split.

    .venv/bin/python scripts/rules_score.py [--errors seed,dev,contrast] [--votes] [--groups] [--contrast] [--swap]
        [overrides ...]

The seed figures are the run's ``rules_*`` keys (the article labelled in order, as the label stage does), the dev
figures its ``rules_dev_*`` keys (each sentence read alone, as ``Scorer.score`` does) and ``rules_dev_articles_*``;
``--contrast`` adds the contrast set's dev pairs, ``--swap`` the speaker-swap test on dev, ``--groups`` dev by family
of reports. ``--errors`` lists the units the rules get wrong, with the reading that decided the stance (``--votes``:
every actor function's vote). Never test.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))


def _line(name: str, m: dict[str, float], key: str) -> str:
    return (f"{name:<14} n={m[key + 'n']:<4} actor {m[key + 'actor_macro_f1']:.3f}  stance "
            f"{m[key + 'stance_macro_f1']:.3f}  joint {m[key + 'joint_accuracy']:.3f}")


def main(argv: list[str]) -> int:
    from kpstance.config import compose, validate
    from kpstance.corpora import load_multisource, sentence_units
    from kpstance.corpora.load import load_gold
    from kpstance.eval.metrics import score
    from kpstance.eval.score import Scorer
    from kpstance.run.prepare import load_units
    from kpstance.systems.baselines import RulesSystem
    from kpstance.weak.label import label_units
    from kpstance.weak.scheme import load_scheme

    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", default="", help="comma-separated: seed, dev, contrast")
    ap.add_argument("--votes", action="store_true", help="with --errors: every function's vote")
    ap.add_argument("--swap", action="store_true", help="also the speaker-swap test on dev (rules_dev_swap_*)")
    ap.add_argument("--groups", action="store_true", help="dev by id prefix (the part before the first '-')")
    ap.add_argument("--contrast", action="store_true", help="also the contrast set's dev pairs (rules_dev_contrast_*)")
    args, overrides = ap.parse_known_args(argv)
    cfg = validate(compose(["logger=none", "paths.output_dir=/tmp/kp_rules_score", *overrides]))
    r = cfg.rules
    scheme = load_scheme(cfg.labels)

    def rules(units: list) -> list:
        return label_units(units, scheme, list(r.actor_lfs), list(r.stance_lfs), str(r.aggregator))

    def scored(rows: list) -> dict[str, float]:  # rows of (gold record, unit, silver label)
        return score([(g["actor"], g["stance"]) for g, _, _ in rows], [(x.actor, x.stance) for _, _, x in rows],
                     scheme, "")

    seed_units = load_units(cfg)
    gold = load_gold(cfg.data.gold_path, scheme, seed_units)
    seed = [(gold[u.id], u, s) for u, s in zip(seed_units, rules(seed_units))]
    ms = load_multisource(cfg.data.multisource.path, scheme, cfg.data.language)
    recs = ms.split("dev")
    dev_units = sentence_units(recs)
    dev = list(zip(recs, dev_units, rules(dev_units)))
    for name, rows in (("seed", seed), ("dev", dev)):
        print(_line(name, scored(rows), ""))
    if args.groups:  # a corpus that grows by families of reports (cpcn-, kp-, ...): each family's figures
        fams: dict[str, list] = {}
        for row in dev:
            fams.setdefault(row[0]["id"].split("-")[0], []).append(row)
        for fam, rows in sorted(fams.items()):
            print(_line(f"  dev {fam}", scored(rows), ""))
    rows_by_name = {"seed": seed, "dev": dev}
    arts = Scorer(ms, scheme).score_articles("rules", "", RulesSystem(cfg, scheme, 0), "dev")
    if arts:  # whole articles segmented as `kpstance predict` does: the run's rules_dev_articles_* keys
        print(_line("dev articles", arts, "dev_articles_"))
    if args.contrast and cfg.data.get("contrast") is not None:
        from kpstance.corpora.load import load_contrast

        crecs = load_contrast(cfg.data.contrast.path, scheme, cfg.data.language).split("dev")
        cdev = list(zip(crecs, sentence_units(crecs), rules(sentence_units(crecs))))
        m = scored(cdev)
        pairs: dict[str, bool] = {}
        for g, _, x in cdev:
            pairs[g["pair_id"]] = pairs.get(g["pair_id"], True) and g["stance"] == x.stance
        print(_line("contrast dev", m, "") + f"  pairs both right {sum(pairs.values())}/{len(pairs)}")
        rows_by_name["contrast"] = cdev
    if args.swap:
        from kpstance.eval.swap import sentence_test
        from kpstance.weak.swap import Swapper

        sw = sentence_test(RulesSystem(cfg, scheme, 0), recs, Swapper(scheme)).metrics("dev_", scheme)
        print("dev swap      " + "  ".join(f"{k[4:]} {v:.3f}" if isinstance(v, float) else f"{k[4:]} {v}"
                                       for k, v in sw.items()))
    wanted = {w.strip() for w in args.errors.split(",") if w.strip()}
    for name, rows in rows_by_name.items():
        if name not in wanted:
            continue
        print(f"\n== {name} errors")
        for g, u, s in rows:
            if (g["actor"], g["stance"]) == (s.actor, s.stance):
                continue
            fired = [k for k, v in s.stance_votes.items() if v is not None]
            print(f"- {g['id']} gold {g['actor']}/{g['stance']} rules {s.actor}/{s.stance} "
                  f"[{','.join(fired)}] {g.get('phenomena', [])}\n    {u.text}")
            if args.votes:
                print(f"    actor votes: { {k: v for k, v in s.actor_votes.items() if v} }")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
