"""Training speed and accuracy: kpstance's loop against a stock transformers Trainer, same data, epochs
and hyperparameters.

    .venv/bin/python benchmarks/bench_training.py [--score seen|dev] [--seeds 0,1] [--variants ...] [overrides ...]

Both fine-tune the packaged MiniLM with the same learning rate, batch size, epochs, warm-up, weight
decay and gradient clipping, one cross-entropy per label group on the one head, the same initial
weights (seeded alike; the head's checksum is printed) and the same inputs: each unit's text and,
when the system reads context (``system.context``, default true), its context as the second text
of the pair (token_type_ids 1), in training and in prediction. Hydra overrides (``trainer.num_threads=1``,
``data.synthetic.n=0``, ...) apply to both.

``--score seen`` (default): the seed article's silver labels (repeated) plus the synthetic corpus,
scored on the article's gold labels. Those are "seen"
scores: the article's sentences were in training.

``--score dev``: the training set of the default run's final model, built as the
pipeline builds it (the article's silver labels, repeated, the synthetic corpus, the multi-source
train split's gold units, minus leaks into dev and test), scored on the multi-source dev
sentences (never test). Each variant is trained once per seed:

    loop             kpstance's loop as configured (length-grouped within mega-batches of 8 batches by default)
    loop_grouped     the loop length-grouped within mega-batches of 50 batches (the earlier default)
    loop_nogroup     the loop with trainer.group_by_length=false (shuffled batches)
    loop_nofused     the loop with trainer.fused_adamw=false
    loop_mega8       the loop, length-grouped within mega-batches of 8 batches (below 50 x batch size
                     sentences, 50 sorts the whole set: every epoch then has the same batches, reordered)
    trainer          the stock Trainer (its random sampler)
    trainer_grouped  the stock Trainer fed the length-grouped order over mega-batches of 50

A difference between variants smaller than the spread between seeds is no difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

LOOP_VARIANTS = {"loop": [], "loop_grouped": ["trainer.group_by_length=true", "trainer.group_batches=50"],
                 "loop_nogroup": ["trainer.group_by_length=false"],
                 "loop_nofused": ["trainer.fused_adamw=false"],
                 "loop_mega8": ["trainer.group_by_length=true", "trainer.group_batches=8"]}
TRAINER_VARIANTS = {"trainer": False, "trainer_grouped": True}
DEFAULT_VARIANTS = {"seen": "loop,trainer", "dev": "loop_grouped,loop_nogroup,trainer"}


def config(overrides: list[str]):
    import tempfile

    from kpstance.config import compose, validate

    cfg = validate(compose(["logger=none", f"paths.output_dir={tempfile.mkdtemp()}", *overrides]))
    if cfg.trainer.num_threads:
        import torch

        torch.set_num_threads(int(cfg.trainer.num_threads))
    return cfg


def seen_data(cfg, scheme):
    """The default run's final training set and the article's gold: (train units, labels, eval units, gold pairs)."""
    from kpstance.corpora import load_gold
    from kpstance.run.prepare import load_units
    from kpstance.text.segment import Unit
    from kpstance.weak.label import label_units
    from kpstance.weak.synthetic import Generator

    units = load_units(cfg)
    gold = load_gold(cfg.data.gold_path, scheme, units)
    silver = label_units(units, scheme)
    synth = Generator(cfg.data.synthetic.templates, scheme).generate(
        cfg.data.synthetic.n, cfg.data.synthetic.seed, [g["text"] for g in gold.values()])
    rep = cfg.data.article_repeat
    train = list(units) * rep + [Unit.of_text(e.text, f"synthetic-{i:05d}") for i, e in enumerate(synth)]
    labels = [(s.actor, s.stance) for s in silver] * rep + [(e.actor, e.stance) for e in synth]
    return train, labels, units, [(gold[u.id]["actor"], gold[u.id]["stance"]) for u in units]


def dev_data(cfg, scheme):
    """As run/pipeline.py builds the final model's training set for the config (with multisource.train),
    and the multi-source dev sentences as units with their gold pairs."""
    from kpstance.corpora import load_corpora, sentence_units
    from kpstance.run.pipeline import training_data
    from kpstance.run.prepare import load_units
    from kpstance.weak.silver import silver_labels

    units = load_units(cfg)
    corpora = load_corpora(cfg, scheme, units)
    gold, ms = corpora[0].by_id, corpora[1]
    silver = silver_labels(units, scheme, cfg.rules, gold, None)
    train, labels = training_data(cfg, scheme, corpora, silver, gold).build(units, [])
    dev = ms.split("dev")
    return train, labels, sentence_units(dev), [(r["actor"], r["stance"]) for r in dev]


def head_checksum(model) -> float:
    """The sum of the classification head's initial weights: equal on both sides when the init is the same."""
    return round(float(sum(p.detach().double().sum() for n, p in model.named_parameters() if "classifier" in n)), 6)


def run_loop(cfg, scheme, train, labels):
    """kpstance's loop through fit_fresh, as the pipeline trains: (system, sentences/s, initial head checksum)."""
    import kpstance.systems.encoder as encoder
    from kpstance.systems.base import fit_fresh

    init = {}
    build = encoder.build

    def recording_build(*a, **k):  # TransformerSystem.fit looks build up at call time
        model, tok = build(*a, **k)
        init["head"] = head_checksum(model)
        return model, tok

    encoder.build = recording_build
    try:
        system = fit_fresh(cfg, scheme, train, labels, "kpstance")
    finally:
        encoder.build = build
    return system, system.stats.examples_per_second, init.get("head")


class StockSystem:
    """A model trained by the stock Trainer, predicting like TransformerSystem (same context pairs)."""

    def __init__(self, model, tokenizer, cfg, scheme):
        self.model, self.tokenizer, self.cfg, self.scheme = model, tokenizer, cfg, scheme

    def predict(self, units):
        from kpstance.systems.context import contexts
        from kpstance.systems.predictor import StancePredictor

        pred = StancePredictor(self.model, self.tokenizer, self.cfg.encoder.max_length)
        return pred.predict([u.text for u in units], self.cfg.trainer.predict_batch_size,
                            contexts=contexts(units, self.scheme) if self.cfg.system.context else None)


def run_trainer(cfg, scheme, train, labels, grouped: bool):
    """The stock Trainer on the same inputs and initial weights: (system, sentences/s, initial head checksum, optim)."""
    import random
    import tempfile

    import torch
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from kpstance.systems.context import contexts
    from kpstance.systems.encoder import build
    from kpstance.systems.finetune import length_grouped_batches, seed_everything
    from kpstance.systems.heads import HeadLayout

    seed = int(cfg.seed)
    layout = HeadLayout.from_scheme(scheme)
    a2i = {a: i for i, a in enumerate(layout.actors)}
    s2i = {s: i for i, s in enumerate(layout.stances)}
    texts = [u.text for u in train]
    pairs = contexts(train, scheme) if cfg.system.context else None
    seed_everything(seed, cfg.trainer.deterministic)  # as fit_fresh does before it builds the model
    model, tok = build(cfg.encoder, layout.id2label(), texts)
    init = head_checksum(model)
    enc = tok(texts, *([pairs] if pairs else []), truncation=True, max_length=cfg.encoder.max_length)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    rows = [{**{k: enc[k][i] for k in keys}, "labels": [a2i[a], s2i[s]]} for i, (a, s) in enumerate(labels)]
    bs = cfg.trainer.batch_size

    class GroupedOrder:  # kpstance's batch order, a fresh draw each epoch
        def __init__(self) -> None:
            self.lengths, self.rng = [len(x) for x in enc["input_ids"]], random.Random(seed)

        def __iter__(self):
            return iter(length_grouped_batches(self.lengths, bs, self.rng, True, 50))

        def __len__(self) -> int:
            return -(-len(self.lengths) // bs)

    class TwoGroupTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            y = inputs.pop("labels")
            logits = model(**inputs).logits
            ce = torch.nn.functional.cross_entropy
            loss = ce(logits[:, layout.actor_index], y[:, 0]) + ce(logits[:, layout.stance_index], y[:, 1])
            return (loss, logits) if return_outputs else loss

        def get_train_dataloader(self):
            if not grouped:
                return super().get_train_dataloader()
            return DataLoader(self.train_dataset, batch_sampler=GroupedOrder(), collate_fn=self.data_collator)

    total_steps = -(-len(texts) // bs) * cfg.trainer.epochs
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=bs,
        num_train_epochs=cfg.trainer.epochs, learning_rate=cfg.trainer.lr,
        warmup_steps=int(cfg.trainer.warmup_ratio * total_steps),  # transformers 5 has no warmup_ratio
        weight_decay=cfg.trainer.weight_decay, max_grad_norm=cfg.trainer.max_grad_norm, seed=seed,
        report_to="none", save_strategy="no", logging_strategy="no", disable_tqdm=True, use_cpu=True,
    )
    trainer = TwoGroupTrainer(model=model, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(tok))
    t = time.perf_counter()
    out = trainer.train()
    sec = time.perf_counter() - t
    assert out.global_step == total_steps, (out.global_step, total_steps)
    model.eval()
    return StockSystem(model, tok, cfg, scheme), len(texts) * cfg.trainer.epochs / sec, init, \
        getattr(args.optim, "value", args.optim)


def main(argv: list[str]) -> int:
    import torch

    from kpstance.eval.metrics import score
    from kpstance.weak.scheme import load_scheme

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--score", choices=("seen", "dev"), default="seen")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds (default: the config's seed)")
    ap.add_argument("--variants", default=None,
                    help=f"comma-separated, of {', '.join([*LOOP_VARIANTS, *TRAINER_VARIANTS])} "
                         "(default: loop,trainer for seen; loop_grouped,loop_nogroup,trainer for dev)")
    opts, overrides = ap.parse_known_args(argv)
    variants = (opts.variants or DEFAULT_VARIANTS[opts.score]).split(",")
    unknown = [v for v in variants if v not in LOOP_VARIANTS and v not in TRAINER_VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s): {', '.join(unknown)}")
    seeds = [int(s) for s in opts.seeds.split(",")] if opts.seeds else [int(config(overrides).seed)]

    results = []  # (variant, seed, sentences/s, metrics)
    for seed in seeds:
        base = [*overrides, f"seed={seed}"]
        cfg = config(base)
        scheme = load_scheme(cfg.labels)
        train, labels, eval_units, gold_pairs = (dev_data if opts.score == "dev" else seen_data)(cfg, scheme)
        print(f"seed {seed}: {len(train)} training sentences, {cfg.trainer.epochs} epochs, batch "
              f"{cfg.trainer.batch_size}, lr {cfg.trainer.lr}, context {cfg.system.context}; scored on "
              f"{len(eval_units)} {opts.score} units; torch {torch.__version__}, {torch.get_num_threads()} threads",
              flush=True)
        for v in variants:
            if v in LOOP_VARIANTS:
                vcfg = config(base + LOOP_VARIANTS[v])
                system, sps, init = run_loop(vcfg, scheme, train, labels)
                note = "fused AdamW" if vcfg.trainer.fused_adamw else "AdamW"
            else:
                system, sps, init, note = run_trainer(cfg, scheme, train, labels, TRAINER_VARIANTS[v])
            m = score(gold_pairs, [(p["actor"], p["stance"]) for p in system.predict(eval_units)], scheme)
            results.append((v, seed, sps, m))
            print(f"  {v:16s} seed {seed}: {sps:6.1f} sentences/s  actor F1 {m['actor_macro_f1']:.3f}  stance F1 "
                  f"{m['stance_macro_f1']:.3f}  joint {m['joint_accuracy']:.3f}  (initial head {init}, {note}, "
                  f"{torch.get_num_threads()} threads)", flush=True)
            del system

    keys = ("actor_macro_f1", "stance_macro_f1", "joint_accuracy")
    print(f"\n{opts.score} scores ({'multi-source dev sentences' if opts.score == 'dev' else 'seen: the article'})")
    print(f"{'variant':16s} {'seed':>5s} {'sentences/s':>12s} {'actor F1':>9s} {'stance F1':>10s} {'joint':>7s}")
    for v, seed, sps, m in results:
        print(f"{v:16s} {seed:5d} {sps:12.1f} " + " ".join(f"{m[k]:{w}.3f}" for k, w in zip(keys, (9, 10, 7))))
    print()
    for v in variants:
        rs = [r for r in results if r[0] == v]
        spread = " ".join(f"{k.split('_')[0]} {min(r[3][k] for r in rs):.3f}..{max(r[3][k] for r in rs):.3f}"
                          for k in keys)
        print(f"{v:16s} {'mean':>5s} {mean(r[2] for r in rs):12.1f} "
              + " ".join(f"{mean(r[3][k] for r in rs):{w}.3f}" for k, w in zip(keys, (9, 10, 7)))
              + f"   range: {spread}")
    base_v = [v for v in variants if v in TRAINER_VARIANTS][:1]
    if "loop" in variants and base_v:
        ratio = mean(r[2] for r in results if r[0] == "loop") / mean(r[2] for r in results if r[0] == base_v[0])
        print(f"\nkpstance loop / stock Trainer: {ratio:.2f}x training sentences/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
