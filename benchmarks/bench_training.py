"""Training speed: kpstance's loop against a stock transformers Trainer, same data, epochs and hyperparameters.

    .venv/bin/python benchmarks/bench_training.py [overrides ...]

Both fine-tune the packaged MiniLM on the default run's final training set (silver labels
of the article plus the synthetic corpus) with the same learning rate, batch size, epochs,
warm-up and weight decay, and one cross-entropy per label group. Prints training
sentences/s of each, the ratio, and each model's gold metrics. The gold scores are "seen"
scores (the article's silver labels were in the training data), the same for both systems.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))


def main(overrides: list[str]) -> int:
    import tempfile

    import torch
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from kpstance.config import compose, validate
    from kpstance.eval.gold import load_gold
    from kpstance.eval.metrics import score
    from kpstance.run.prepare import load_units
    from kpstance.systems.base import fit_fresh
    from kpstance.systems.encoder import build
    from kpstance.systems.heads import HeadLayout
    from kpstance.systems.predictor import StancePredictor
    from kpstance.text.segment import Unit
    from kpstance.weak.label import label_units
    from kpstance.weak.scheme import load_scheme
    from kpstance.weak.synthetic import Generator

    tmp = Path(tempfile.mkdtemp())
    cfg = validate(compose(["logger=none", f"paths.output_dir={tmp}", *overrides]))
    scheme = load_scheme(cfg.labels)
    units = load_units(cfg)
    gold = load_gold(cfg.data.gold_path, scheme, units)
    silver = label_units(units, scheme)
    synth = Generator(cfg.data.synthetic.templates, scheme).generate(
        cfg.data.synthetic.n, cfg.data.synthetic.seed, [g["text"] for g in gold.values()])
    rep = cfg.data.article_repeat
    texts = [u.text for u in units] * rep + [e.text for e in synth]
    actors = [s.actor for s in silver] * rep + [e.actor for e in synth]
    stances = [s.stance for s in silver] * rep + [e.stance for e in synth]
    gold_pairs = [(gold[u.id]["actor"], gold[u.id]["stance"]) for u in units]
    print(f"{len(texts)} training sentences, {cfg.trainer.epochs} epochs, batch {cfg.trainer.batch_size}, "
          f"lr {cfg.trainer.lr}; torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)

    cfg.trainer.checkpoint_every = 0
    t = time.perf_counter()
    system = fit_fresh(cfg, scheme, [Unit.of_text(t, f"b{i}") for i, t in enumerate(texts)],
                       list(zip(actors, stances)), "kpstance")
    ours_s = time.perf_counter() - t
    ours = score(gold_pairs, [(p["actor"], p["stance"]) for p in system.predict(units)], scheme)

    a2i = {a: i for i, a in enumerate(scheme.actor_labels)}
    s2i = {s: i for i, s in enumerate(scheme.stance_labels)}
    layout = HeadLayout.from_scheme(scheme)
    torch.manual_seed(cfg.seed)
    model2, tok2 = build(cfg.encoder, layout.id2label(), texts)
    enc = tok2(texts, truncation=True, max_length=cfg.encoder.max_length)
    rows = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
             "token_type_ids": enc["token_type_ids"][i], "labels": [a2i[actors[i]], s2i[stances[i]]]}
            for i in range(len(texts))]

    class TwoGroupTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            labels = inputs.pop("labels")
            logits = model(**inputs).logits
            ce = torch.nn.functional.cross_entropy
            loss = ce(logits[:, layout.actor_index], labels[:, 0]) + ce(logits[:, layout.stance_index], labels[:, 1])
            return (loss, logits) if return_outputs else loss

    total_steps = -(-len(texts) // cfg.trainer.batch_size) * cfg.trainer.epochs
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=cfg.trainer.batch_size,
        num_train_epochs=cfg.trainer.epochs, learning_rate=cfg.trainer.lr,
        warmup_steps=int(cfg.trainer.warmup_ratio * total_steps),  # transformers 5 has no warmup_ratio
        weight_decay=cfg.trainer.weight_decay, max_grad_norm=cfg.trainer.max_grad_norm, seed=cfg.seed,
        report_to="none", save_strategy="no", logging_strategy="no", disable_tqdm=True, use_cpu=True,
    )
    trainer = TwoGroupTrainer(model=model2, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(tok2))
    t = time.perf_counter()
    trainer.train()
    stock_s = time.perf_counter() - t
    stock_pred = StancePredictor(model2, tok2, cfg.encoder.max_length).predict([u.text for u in units])
    stock = score(gold_pairs, [(p["actor"], p["stance"]) for p in stock_pred], scheme)

    n = len(texts) * cfg.trainer.epochs
    print(f"\n{'system':34s} {'seconds':>8s} {'sentences/s':>12s} {'joint acc':>10s} {'actor F1':>9s} {'stance F1':>10s}")
    for name, sec, m in (("kpstance loop", ours_s, ours), (f"stock Trainer ({getattr(args.optim, 'value', args.optim)})", stock_s, stock)):
        print(f"{name:34s} {sec:8.1f} {n / sec:12.1f} {m['joint_accuracy']:10.3f} {m['actor_macro_f1']:9.3f} "
              f"{m['stance_macro_f1']:10.3f}")
    print(f"\nkpstance / stock Trainer: {stock_s / ours_s:.2f}x training sentences/s (gold scores are 'seen' scores)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
