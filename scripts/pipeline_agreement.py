"""Do the stock ``transformers.pipeline()`` and the project's predictor give a saved model the same labels?

    python scripts/pipeline_agreement.py models/latest [--n 400]

Both read the first N sentences of the multi-source gold corpus, given alone (a model that reads context gets the
context of a sentence given alone on both sides), in fp32. A one-pass model agrees on every sentence; a model with a
stance head blind to actor mentions (``system.blind_stance``) does not, because the pipeline makes one unmasked pass
where the predictor reads stance from a second, masked one (docs/results.md, masked pairing).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a saved model folder")
    ap.add_argument("--n", type=int, default=400, help="sentences to compare (default 400)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import pipeline

    from kpstance.systems.context import format_context
    from kpstance.systems.heads import best_per_group
    from kpstance.systems.predictor import StancePredictor
    from kpstance.text.read import iter_jsonl

    texts = [rec["text"] for _, rec in iter_jsonl(ROOT / "data" / "multisource" / "sentences.jsonl", None)][:args.n]
    ours_pred = StancePredictor.load(args.model, precision="fp32")
    ours = [(o["actor"], o["stance"]) for o in ours_pred.predict(texts, 64)]
    clf = pipeline("text-classification", model=args.model, top_k=None, device="cpu")
    pair = format_context("sentence", None) if ours_pred.meta.get("context") else None
    inputs = [{"text": t, "text_pair": pair} for t in texts] if pair else texts
    theirs = [(b["actor"], b["stance"]) for b in map(best_per_group, clf(inputs, batch_size=64))]
    both = sum(a == b for a, b in zip(ours, theirs))
    stance = sum(a[1] == b[1] for a, b in zip(ours, theirs))
    print(f"{args.model}: blind stance head: {'yes' if ours_pred.blind is not None else 'no'}; of {len(texts)} "
          f"sentences, {both} get the same actor and stance from pipeline() and the predictor, {stance} the same "
          "stance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
