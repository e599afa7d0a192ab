"""Read a run folder's speaker-swap and counter-prior figures more closely (docs/results.md, issue 18).

    python scripts/swap_analysis.py outputs/default/runs/RUN

Prints, for the model and the rules on the multi-source dev and test sentences:

- the swapped copies' stance macro-F1 beside the same originals' stance macro-F1 (the goal is a gap under 0.02);
- the counter-prior slice (units whose actor takes a stance it holds in under a quarter of its training units; the
  run's training set is rebuilt as ``train.py`` built it, without training) by gold stance, and how many of its
  polar units got the actor's usual stance instead.

The training set is rebuilt from the run folder's own ``config.yaml``, so no override needs repeating.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path


def _rows(path: Path) -> list[dict]:
    from kpstance.text.read import iter_jsonl

    return [rec for _, rec in iter_jsonl(path, None)]


def main(argv: list[str] | None = None) -> int:
    from omegaconf import OmegaConf

    from kpstance.config import validate
    from kpstance.errors import KpstanceError
    from kpstance.eval.metrics import score
    from kpstance.eval.swap import counter_prior
    from kpstance.run.pipeline import labelled
    from kpstance.run.prepare import prepare

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run folder (holds config.yaml and swap_predictions.jsonl)")
    args = ap.parse_args(argv)
    try:
        for name in ("swap_predictions.jsonl", "multisource_predictions.jsonl", "config.yaml"):
            if not (args.run / name).is_file():
                raise KpstanceError(f"{args.run / name}: file not found (give a run folder of train.py)")
        with tempfile.TemporaryDirectory() as tmp:
            cfg = OmegaConf.load(args.run / "config.yaml")  # the run's resolved config: the same training set
            OmegaConf.update(cfg, "paths.output_dir", f"{tmp}/run", force_add=True)
            OmegaConf.update(cfg, "paths.models_dir", f"{tmp}/models")
            run = prepare(validate(cfg))
            _, data = labelled(run)
            units, labels = data.build(run.units, [])
        train_labels = [lab for u, lab in zip(units, labels) if not {"swap_of", "alias_of"} & set(u.extra)]
        rare = counter_prior(train_labels, run.scheme)
        usual = {a: Counter(s for b, s in train_labels if b == a).most_common(1)[0][0] for a, _ in rare}
    except KpstanceError as e:
        print(f"kpstance: error: {e}", file=sys.stderr)
        return 2

    def stance_f1(rows: list[dict], field: str) -> float:
        """The project's stance macro-F1 (eval.metrics.score), as metrics.json computes it."""
        return score([("-", r["gold_stance"]) for r in rows], [("-", r[field]) for r in rows],
                     run.scheme)["stance_macro_f1"]

    print(f"counter-prior pairs: {', '.join(f'{a}/{s}' for a, s in sorted(rare))}\n")
    swaps = [r for r in _rows(args.run / "swap_predictions.jsonl") if r["corpus"] == "multisource"]
    print("| split | system | copies | swapped stance F1 | same originals' stance F1 | gap |")
    print("|---|---|---|---|---|---|")
    for split in ("dev", "test"):
        for system in ("model", "rules"):
            rs = [r for r in swaps if r["split"] == split and r["system"] == system]
            if rs:
                sw, orig = stance_f1(rs, "swapped_stance"), stance_f1(rs, "original_stance")
                print(f"| {split} | {system} | {len(rs)} | {sw:.3f} | {orig:.3f} | {sw - orig:+.3f} |")
    preds = _rows(args.run / "multisource_predictions.jsonl")
    print("\n| split | system | slice units | by gold stance | right | polar units given the actor's usual stance |")
    print("|---|---|---|---|---|---|")
    for split in ("dev", "test"):
        rs = [r for r in preds if r["split"] == split and (r["gold_actor"], r["gold_stance"]) in rare]
        for system in ("model", "rules"):
            right = sum(r[f"{system}_stance"] == r["gold_stance"] for r in rs)
            polar = [r for r in rs if r["gold_stance"] != run.scheme.neutral_stance]
            to_usual = sum(r[f"{system}_stance"] == usual[r["gold_actor"]] for r in polar)
            by = ", ".join(f"{s} {n}" for s, n in sorted(Counter(r["gold_stance"] for r in rs).items()))
            print(f"| {split} | {system} | {len(rs)} | {by} | {right} | {to_usual} of {len(polar)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
