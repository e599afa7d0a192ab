"""Prediction speed: stock transformers.pipeline against kpstance's predictor, in one run.

    .venv/bin/python benchmarks/bench_inference.py [--model models/latest] [--n 2000]

Prints sentences/s for the stock pipeline (default settings, and batch_size=64), kpstance
fp32 and (where the CPU has native bf16) kpstance bf16, the ratios between them, how often
their predictions agree, the machine's fp32 matmul GFLOP/s and the model's FLOPs per
sentence, so the fp32 compute limit in sentences/s can be stated.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))


def sentences(n: int, seed: int = 0) -> list[str]:
    """News-length sentences (about 30 tokens) from the project's own synthetic templates."""
    from kpstance.labels import load_scheme
    from kpstance.synthetic import Generator

    scheme = load_scheme(ROOT / "configs" / "labels" / "korean_peninsula.yaml")
    gen = Generator(ROOT / "configs" / "synthetic" / "korean_peninsula.yaml", scheme)
    ex = [e.text for e in gen.generate(2 * n, seed)]
    # join short ones in pairs so the mean length is news-like
    out, i = [], 0
    while len(out) < n and i < len(ex):
        s = ex[i]
        if len(s.split()) < 14 and i + 1 < len(ex):
            s = f"{s} {ex[i + 1]}"
            i += 1
        out.append(s)
        i += 1
    return out[:n]


def matmul_gflops(size: int = 2048, reps: int = 10) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    t = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * size**3 * reps / (time.perf_counter() - t) / 1e9


def flops_per_sentence(model, tokens: float) -> float:
    """Dense matmul FLOPs of one forward pass (2 per multiply-add), attention scores included."""
    cfg = model.config
    d, layers, inter = cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size
    per_token = layers * (2 * 4 * d * d + 2 * 2 * d * inter)  # Q, K, V, O projections and the MLP
    attention = layers * 2 * 2 * tokens * tokens * d  # QK^T and AV
    return per_token * tokens + attention


def bf16_native() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def timed(fn, texts):
    t = time.perf_counter()
    out = fn(texts)
    return out, len(texts) / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "latest"))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()

    import torch
    from transformers import pipeline

    from kpstance import StancePredictor

    texts = sentences(args.n)
    p32 = StancePredictor.load(args.model)
    tokens = sum(len(p32.tokenizer(t)["input_ids"]) for t in texts) / len(texts)
    print(f"{len(texts)} sentences, {tokens:.1f} tokens on average; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)

    def decode(scores):  # stock pipeline output -> (actor, stance)
        best = {}
        for s in scores:
            g = s["label"].split("=")[0]
            if g not in best or s["score"] > best[g]["score"]:
                best[g] = s
        return best["actor"]["label"].split("=")[1], best["stance"]["label"].split("=")[1]

    clf = pipeline("text-classification", model=args.model, top_k=None, device="cpu")
    clf(texts[:8])
    stock, r_stock = timed(lambda x: [decode(s) for s in clf(x)], texts)
    stock64, r_stock64 = timed(lambda x: [decode(s) for s in clf(x, batch_size=args.batch_size)], texts)
    p32.predict(texts[:64])
    ours, r32 = timed(lambda x: [(o["actor"], o["stance"]) for o in p32.predict(x, args.batch_size)], texts)
    rows = [("pipeline (default)", r_stock), (f"pipeline batch_size={args.batch_size}", r_stock64), ("kpstance fp32", r32)]
    agree = sum(a == b for a, b in zip(stock, ours)) / len(texts)
    r16 = None
    if bf16_native():
        p16 = StancePredictor.load(args.model, precision="bf16")
        p16.predict(texts[:64])
        ours16, r16 = timed(lambda x: [(o["actor"], o["stance"]) for o in p16.predict(x, args.batch_size)], texts)
        rows.append(("kpstance bf16", r16))
        agree16 = sum(a == b for a, b in zip(ours16, ours)) / len(texts)
    gflops = matmul_gflops()
    fps = flops_per_sentence(p32.model, tokens)
    limit = gflops * 1e9 / fps

    print(f"\n{'system':28s} {'sentences/s':>12s}")
    for name, r in rows:
        print(f"{name:28s} {r:12.1f}")
    print(f"\nkpstance fp32 / pipeline default:      {r32 / r_stock:.2f}x (target >= 3.5)")
    print(f"kpstance fp32 / pipeline batch_size={args.batch_size}: {r32 / r_stock64:.2f}x (target >= 1.25)")
    print(f"predictions identical, kpstance fp32 vs pipeline: {agree:.2%}")
    if r16 is not None:
        print(f"kpstance bf16 / kpstance fp32:         {r16 / r32:.2f}x (target >= 1.8)")
        print(f"predictions identical, bf16 vs fp32:   {agree16:.2%} (target >= 99.5%)")
    else:
        print("kpstance bf16: skipped, this CPU has no native bf16 (no avx512_bf16 or amx_bf16): autocast would be emulated")
    print(f"\nfp32 matmul: {gflops:.0f} GFLOP/s; model: {fps / 1e9:.3f} GFLOP per sentence of {tokens:.0f} tokens")
    print(f"fp32 compute limit: {limit:.0f} sentences/s; kpstance fp32 reaches {r32 / limit:.0%} of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
