"""The simulated annotation study of issue 12 (kpstance.annotate.study): dev macro-F1 against labels per strategy.

One seed per call, so seeds can run side by side; ``--report`` then merges every ``seed_*.json`` of a folder:

    .venv/bin/python train.py data.multisource.train=false seed=S logger=none task_name=al_base update_latest=false
    .venv/bin/python scripts/annotation_study.py run --base models/al_base_<run> --seed S --out outputs/annotation_study
    .venv/bin/python scripts/annotation_study.py report outputs/annotation_study --plot docs/annotation_study.png

The pool is the multi-source train split (its sentences and whole articles, as training reads them); dev
is the multi-source dev split; test is never read. The replay sample comes from the synthetic corpus.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
LABELS = {"dev_actor_macro_f1": "actor macro-F1", "dev_stance_macro_f1": "stance macro-F1",
          "dev_joint_accuracy": "joint accuracy"}


def check_base(folder: Path, seed: int, scheme):
    """The base model, refused (one line) unless it was trained with this seed and without the pool."""
    import yaml

    from kpstance.errors import KpstanceError
    from kpstance.systems.predictor import StancePredictor

    pred = StancePredictor.load(folder, expected_labels={"actor": scheme.actor_labels, "stance": scheme.stance_labels})
    cfg = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) if (folder / "config.yaml").is_file() else {}
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8")) if (folder / "metrics.json").is_file() else {}
    if metrics.get("n_gold_train", 1) != 0:
        raise KpstanceError("the base model must be trained without the pool (data.multisource.train=false): its "
                            f"metrics.json gives n_gold_train={metrics.get('n_gold_train', 'nothing')}", folder)
    if cfg.get("seed") != seed:
        raise KpstanceError(f"the base model was trained with seed {cfg.get('seed')}, not --seed {seed}", folder)
    return pred


def run(args: argparse.Namespace, overrides: list[str]) -> int:
    from kpstance.annotate.study import Labelled, Pool, StudySettings, simulate
    from kpstance.config import compose, validate
    from kpstance.corpora import load_multisource, sentence_units
    from kpstance.files import write_json
    from kpstance.systems.baselines import RulesSystem
    from kpstance.systems.context import contexts
    from kpstance.systems.predictor import StancePredictor
    from kpstance.text.overlap import drop_leaks
    from kpstance.weak.scheme import load_scheme
    from kpstance.weak.synthetic import Generator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = validate(compose(["logger=none", "paths.output_dir=/tmp/kp_annotation_study", f"seed={args.seed}",
                            *overrides]))
    scheme = load_scheme(cfg.labels)
    ms = load_multisource(cfg.data.multisource.path, scheme, cfg.data.language)
    base_pred = check_base(Path(args.base), args.seed, scheme)
    use_ctx = bool(base_pred.meta.get("context"))
    units, labels, _, _ = ms.train_units()
    # as a run's leak guard does: no pool unit may come close to a dev or test unit (datelines repeat verbatim)
    keep = drop_leaks([u.text for u in units], ms.protected_texts(), float(cfg.evaluation.max_overlap))
    print(f"pool: {len(keep)} of {len(units)} train-split units (the rest too close to a dev or test unit)")
    units, labels = [units[i] for i in keep], [labels[i] for i in keep]
    report_of = {r["id"]: r["report_id"] for r in ms.split("train")}  # a sentence's article is its source report
    rules = RulesSystem(cfg, scheme, int(cfg.seed)).predict(units)
    pool = Pool(units, labels, contexts(units, scheme) if use_ctx else None,
                [report_of.get(u.id, u.article_id) for u in units], [(p["actor"], p["stance"]) for p in rules])
    dev_recs = ms.split("dev")
    dev_units = sentence_units(dev_recs)
    dev = Labelled(dev_units, [(r["actor"], r["stance"]) for r in dev_recs],
                   contexts(dev_units, scheme) if use_ctx else None)
    synth = Generator(cfg.data.synthetic.templates, scheme).generate(
        int(cfg.data.synthetic.n), int(cfg.seed), ms.protected_texts(), float(cfg.evaluation.max_overlap))
    replay_units = [e.unit() for e in synth]
    replay = Labelled(replay_units, [(e.actor, e.stance) for e in synth],
                      contexts(replay_units, scheme) if use_ctx else None)
    settings = StudySettings(rounds=args.rounds, batch=args.batch, epochs=args.epochs, lr=args.lr,
                             replay=args.replay, fixed_replay=args.fixed_replay, strategies=tuple(args.strategies),
                             all_labels=not args.no_all)

    def base():
        p = StancePredictor.load(args.base)  # safetensors only, labels as saved
        return p.model, p.tokenizer

    curves = simulate(base, pool, dev, replay, scheme, cfg.trainer, settings, args.seed,
                      int(base_pred.meta.get("max_length", 128)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"seed_{args.seed}.json", {"seed": args.seed, "base": str(args.base), "pool": len(units),
                                                "dev": len(dev_recs), "settings": vars(settings), "curves": curves})
    print(f"wrote {out / f'seed_{args.seed}.json'}")
    return 0


def report(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from kpstance.annotate.study import area_under, labels_to_reach, mean_curves

    files = sorted(Path(args.folder).glob("seed_*.json"))
    if not files:
        print(f"annotation_study: no seed_*.json in {args.folder}", file=sys.stderr)
        return 2
    results = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    from dataclasses import asdict

    from kpstance.annotate.study import StudySettings

    defaults = asdict(StudySettings())  # a setting added later reads as its default in older seed files
    shape = {(r["pool"], r["dev"], json.dumps({**defaults, **r["settings"]}, sort_keys=True),
              json.dumps({s: [row["labels"] for row in c] for s, c in r["curves"].items()}, sort_keys=True))
             for r in results}
    if len(shape) > 1:
        print(f"annotation_study: the seed files in {args.folder} differ in pool, dev, settings or strategies; "
              "merge only runs of one study", file=sys.stderr)
        return 2
    runs = [r["curves"] for r in results]
    seeds = [r["seed"] for r in results]
    lines = [f"Seeds {', '.join(map(str, seeds))}; pool {results[0]['pool']} units; dev {results[0]['dev']} units; "
             f"batches of {results[0]['settings']['batch']}. Mean ± sample std (n−1) over seeds.", ""]
    fig, axes = plt.subplots(1, len(LABELS), figsize=(5 * len(LABELS), 4), sharex=True)
    for ax, (metric, name) in zip(axes, LABELS.items()):
        curves = mean_curves(runs, metric)
        strategies = list(curves)
        lines += [f"**dev {name}**", "", "| labels | " + " | ".join(strategies) + " |",
                  "|---" * (len(strategies) + 1) + "|"]
        for k, (n, _, _) in enumerate(curves[strategies[0]]):
            cells = [f"{c[k][1]:.3f} ± {c[k][2]:.3f}" if k < len(c) else "" for c in curves.values()]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        for s, c in curves.items():
            xs, mean, std = (np.array(v) for v in zip(*c))
            ax.plot(xs, mean, marker="o", label=s)
            ax.fill_between(xs, mean - std, mean + std, alpha=0.15)
        if all("all" in r for r in runs):
            v = np.array([r["all"][0][metric] for r in runs])
            ax.axhline(v.mean(), color="grey", linestyle="--", label=f"whole pool ({runs[0]['all'][0]['labels']})")
            lines += ["", f"Whole pool ({runs[0]['all'][0]['labels']} labels): {v.mean():.3f} ± {v.std():.3f}"]
        area = area_under(runs, metric)
        lines += ["", "Mean over the labelled rounds: " + "; ".join(f"{s} {m:.3f} ± {sd:.3f}" for s, (m, sd) in area.items())]
        if "random" in curves:
            final_n, target, _ = curves["random"][-1]
            lines += ["", f"Labels to reach random's final {name} ({target:.3f} at {final_n}):"]
            for s, c in curves.items():
                n = labels_to_reach(c, target)
                if s == "random":  # below final_n when its own curve is not monotone
                    text = f"first at {n}"
                else:
                    text = f"not within {c[-1][0]}" if n is None else f"{n} ({final_n - n} fewer than random)"
                lines.append(f"- {s}: {text}")
        lines.append("")
        ax.set_title(f"dev {name}")
        ax.set_xlabel("labelled units")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    if args.plot:
        fig.savefig(args.plot, dpi=120)
    text = "\n".join(lines)
    if args.table:
        Path(args.table).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="one seed's curves; extra arguments are config overrides")
    r.add_argument("--base", required=True, help="the base model folder (trained without the train split)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", default="outputs/annotation_study")
    r.add_argument("--rounds", type=int, default=8)
    r.add_argument("--batch", type=int, default=25)
    r.add_argument("--epochs", type=int, default=2)
    r.add_argument("--lr", type=float, default=1e-4)
    r.add_argument("--replay", type=int, default=100)
    r.add_argument("--fixed-replay", action="store_true", help="one replay sample per seed instead of one per round")
    r.add_argument("--strategies", nargs="+", default=["uncertainty", "disagreement", "random"])
    r.add_argument("--no-all", action="store_true", help="skip training on the whole pool (the ceiling)")
    p = sub.add_parser("report", help="merge seed_*.json: table (Markdown) and plot")
    p.add_argument("folder")
    p.add_argument("--plot")
    p.add_argument("--table")
    args, overrides = ap.parse_known_args(argv)
    from kpstance.errors import KpstanceError

    try:
        if args.command == "report":
            if overrides:
                ap.error(f"unrecognized arguments: {' '.join(overrides)}")
            return report(args)
        return run(args, overrides)
    except KpstanceError as e:
        print(f"annotation_study: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
