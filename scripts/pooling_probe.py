"""Pooling check (issue 18): does the first-token pooler read by the classification head hold less of a sentence's
stance and actor than mean pooling, which all-MiniLM-L6-v2 was trained with?

    python scripts/pooling_probe.py [--encoder PATH]

Frozen encoder, no fine-tuning: embeds the multi-source train and dev sentences (the sentence alone), three ways
(the BERT pooler over the first token, as ``BertForSequenceClassification`` reads it; the first token's hidden state;
the masked mean of the last hidden states), fits one logistic regression per head on train and prints dev macro-F1
for actor and stance. A linear probe of the pretrained features, not of a fine-tuned model: it says what each
pooling gives the head to start from.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from transformers import AutoModel, AutoTokenizer

    from kpstance.config import compose
    from kpstance.corpora.load import load_multisource
    from kpstance.run.prepare import labels_source
    from kpstance.systems.encoder import resolve_model_path
    from kpstance.weak.scheme import load_scheme

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default=None, help="encoder folder (default: the packaged MiniLM)")
    args = ap.parse_args(argv)
    cfg = compose(["logger=none"])
    scheme = load_scheme(cfg.labels, labels_source(cfg))
    corpus = load_multisource(cfg.data.multisource.path, scheme)
    path = resolve_model_path(args.encoder)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, use_safetensors=True).eval()
    torch.manual_seed(0)

    def embed(texts: list[str]) -> dict[str, torch.Tensor]:
        out: dict[str, list[torch.Tensor]] = {"pooler (first token, as the head reads it)": [], "first token": [],
                                              "mean of tokens": []}
        with torch.inference_mode():
            for i in range(0, len(texts), 64):
                enc = tok(texts[i:i + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
                h = model(**enc)
                m = enc["attention_mask"].unsqueeze(-1).float()
                out["pooler (first token, as the head reads it)"].append(h.pooler_output)
                out["first token"].append(h.last_hidden_state[:, 0])
                out["mean of tokens"].append((h.last_hidden_state * m).sum(1) / m.sum(1))
        return {k: torch.cat(v).numpy() for k, v in out.items()}

    train, dev = corpus.split("train"), corpus.split("dev")
    xt, xd = embed([r["text"] for r in train]), embed([r["text"] for r in dev])
    print(f"encoder {path}; {len(train)} train, {len(dev)} dev sentences; dev macro-F1 of a logistic regression")
    print("| pooling | actor | stance |\n|---|---|---|")
    for name in xt:
        row = []
        for field in ("actor", "stance"):
            clf = LogisticRegression(max_iter=2000, C=1.0).fit(xt[name], [r[field] for r in train])
            row.append(f1_score([r[field] for r in dev], clf.predict(xd[name]), average="macro"))
        print(f"| {name} | {row[0]:.3f} | {row[1]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
