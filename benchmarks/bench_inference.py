"""Prediction speed: stock transformers.pipeline against kpstance's predictor, in one run.

    .venv/bin/python benchmarks/bench_inference.py [--model models/latest] [--n 2000] [--repeats 3]

Prints sentences/s for the stock pipeline (default settings, and batch_size=64; given the same sentence pair as
kpstance where the model reads context, so both do the same work), kpstance fp32 (also with one worker, to show what
the per-core workers add; all one pass, as the pipeline reads), kpstance fp32 with the model's own speaker averaging
(its cost), and (where the CPU has native bf16) kpstance bf16, the ratios between them, how often
their predictions agree, the machine's fp32 matmul GFLOP/s and the model's FLOPs per
sentence, so the fp32 compute limit in sentences/s can be stated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))


def sentences(n: int, seed: int = 0) -> list[str]:
    """News-length sentences (about 30 tokens) from the project's own synthetic templates."""
    from kpstance.weak.scheme import load_scheme
    from kpstance.weak.synthetic import Generator

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


def matmul_gflops(size: int = 2048, reps: int = 10, workers: int = 1) -> float:
    """fp32 GFLOP/s of square matmuls: one multi-threaded, or ``workers`` single-threaded at once."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    threads = torch.get_num_threads()
    if workers > 1:
        torch.set_num_threads(1)
    try:
        t = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: [torch.mm(a, b) for _ in range(reps)], range(workers)))
        return 2 * size**3 * reps * workers / (time.perf_counter() - t) / 1e9
    finally:
        torch.set_num_threads(threads)


def flops_per_sentence(model, tokens: float, first_token: bool = False) -> float:
    """Dense matmul FLOPs of one forward pass (2 per multiply-add), attention scores included; ``first_token``: the
    last layer computed for the first token alone, as kpstance's predictor runs a BERT classifier (its keys and
    values still for every token)."""
    cfg = model.config
    d, layers, inter = cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size
    per_token = 2 * 4 * d * d + 2 * 2 * d * inter  # Q, K, V, O projections and the MLP
    attention = 2 * 2 * tokens * tokens * d  # QK^T and AV
    full = layers * (per_token * tokens + attention)
    if not first_token:
        return full
    last = per_token + 2 * 2 * d * d * (tokens - 1) + 2 * 2 * tokens * d  # one row, K and V of the others, its scores
    return full - (per_token * tokens + attention) + last


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
    ap.add_argument("--repeats", type=int, default=3, help="rounds in which every system runs once")
    args = ap.parse_args()

    import torch
    from transformers import pipeline

    from kpstance import StancePredictor
    from kpstance.systems.context import format_context
    from kpstance.systems.heads import best_per_group

    texts = sentences(args.n)
    # one pass, as the stock pipeline reads: the engine against the engine (the model's own speaker averaging, if it
    # has one, reads each unit that names its actor again for each copy: timed apart below)
    p32 = StancePredictor.load(args.model, precision="fp32", speaker_average=0)
    averaged = StancePredictor.load(args.model, precision="fp32")
    second = [format_context("sentence", None)] if p32.meta.get("context") else []
    tokens = sum(len(p32.tokenizer(t, *second)["input_ids"]) for t in texts) / len(texts)
    print(f"{len(texts)} sentences, {tokens:.1f} tokens on average; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)

    def decode(scores):  # stock pipeline output -> (actor, stance)
        best = best_per_group(scores)
        return best["actor"], best["stance"]

    clf = pipeline("text-classification", model=args.model, top_k=None, device="cpu")
    # a model trained with context reads each sentence with a second text (``sentence; speaker: -`` for a sentence
    # given alone): the stock pipeline gets the same pair, so both sides do the same work and give the same labels
    pair = format_context("sentence", None) if p32.meta.get("context") else None

    def stock(x, **kw):
        inputs = [{"text": t, "text_pair": pair} for t in x] if pair else x
        return [decode(s) for s in clf(inputs, **kw)]

    systems = [
        ("pipeline (default)", lambda x: stock(x)),
        (f"pipeline batch_size={args.batch_size}", lambda x: stock(x, batch_size=args.batch_size)),
        ("kpstance fp32, 1 worker", lambda x: [(o["actor"], o["stance"]) for o in p32.predict(x, args.batch_size, workers=1)]),
        ("kpstance fp32", lambda x: [(o["actor"], o["stance"]) for o in p32.predict(x, args.batch_size)]),
    ]
    if averaged.speaker_average:
        systems.append((f"kpstance fp32, speaker average {averaged.speaker_average}",
                        lambda x: [(o["actor"], o["stance"]) for o in averaged.predict(x, args.batch_size)]))
    if bf16_native():
        p16 = StancePredictor.load(args.model, precision="bf16", speaker_average=0)
        systems.append(("kpstance bf16", lambda x: [(o["actor"], o["stance"]) for o in p16.predict(x, args.batch_size)]))
    warm = texts[: args.batch_size * torch.get_num_threads()]  # every system's own path, workers too
    for _, fn in systems:
        fn(warm)
    # This machine's speed drifts by +-15 % between minutes, so the systems take turns, round
    # after round, in an order that rotates, and each ratio is the median of the per-round ratios.
    rates: dict[str, list[float]] = {name: [] for name, _ in systems}
    outputs: dict[str, list] = {}
    for r in range(args.repeats):
        for name, fn in systems[r % len(systems):] + systems[: r % len(systems)]:
            outputs[name], rate = timed(fn, texts)
            rates[name].append(rate)
        print(f"round {r + 1}: " + ", ".join(f"{n} {rates[n][-1]:.0f}/s" for n, _ in systems), flush=True)

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rates[a], rates[b]))

    rows = [(name, statistics.median(rates[name]), min(rates[name]), max(rates[name])) for name, _ in systems]
    r32 = statistics.median(rates["kpstance fp32"])
    agree = sum(a == b for a, b in zip(outputs["pipeline (default)"], outputs["kpstance fp32"])) / len(texts)
    agree1 = sum(a == b for a, b in zip(outputs["kpstance fp32, 1 worker"], outputs["kpstance fp32"])) / len(texts)
    # the limit is the machine's peak: the best of three tries, for whichever is faster, one GEMM
    # on all threads or one single-threaded GEMM per thread
    g_one = max(matmul_gflops() for _ in range(3))
    g_each = max(matmul_gflops(workers=torch.get_num_threads()) for _ in range(3))
    gflops = max(g_one, g_each)
    fps = flops_per_sentence(p32.model, tokens)
    limit = gflops * 1e9 / fps
    fast = p32._plain is not p32.model  # the predictor's first-token view of a BERT classifier
    fps_run = flops_per_sentence(p32.model, tokens, first_token=fast)

    print(f"\n{'system':36s} {'sentences/s (median)':>21s} {'min':>7s} {'max':>7s}")
    for name, med, lo, hi in rows:
        print(f"{name:36s} {med:21.1f} {lo:7.1f} {hi:7.1f}")
    pb = f"pipeline batch_size={args.batch_size}"
    print(f"\nkpstance fp32 / pipeline default:      {ratio('kpstance fp32', 'pipeline (default)'):.2f}x (goal >= 3)")
    print(f"kpstance fp32 / {pb}: {ratio('kpstance fp32', pb):.2f}x (target >= 1.25)")
    print(f"kpstance fp32 / kpstance 1 worker:     {ratio('kpstance fp32', 'kpstance fp32, 1 worker'):.2f}x")
    print(f"predictions identical, kpstance fp32 vs pipeline: {agree:.2%}; vs 1 worker: {agree1:.2%}")
    av = f"kpstance fp32, speaker average {averaged.speaker_average}"
    if av in rates:
        same = sum(a == b for a, b in zip(outputs[av], outputs["kpstance fp32"])) / len(texts)
        print(f"speaker averaging / one pass:         {ratio(av, 'kpstance fp32'):.2f}x; labels identical: {same:.2%}")
    if "kpstance bf16" in rates:
        agree16 = sum(a == b for a, b in zip(outputs["kpstance bf16"], outputs["kpstance fp32"])) / len(texts)
        print(f"kpstance bf16 / kpstance fp32:         {ratio('kpstance bf16', 'kpstance fp32'):.2f}x (target >= 1.8)")
        print(f"predictions identical, bf16 vs fp32:   {agree16:.2%} (target >= 99.5%)")
    else:
        print("kpstance bf16: skipped, this CPU has no native bf16 (no avx512_bf16 or amx_bf16): autocast would be emulated")
    print(f"\nfp32 matmul: {g_one:.0f} GFLOP/s multi-threaded, {g_each:.0f} GFLOP/s one per thread; model: {fps / 1e9:.3f} GFLOP per sentence of {tokens:.0f} tokens")
    print(f"fp32 compute limit of the whole model: {limit:.0f} sentences/s; kpstance fp32 reaches {r32 / limit:.0%} of it")
    if fast:
        run_limit = gflops * 1e9 / fps_run
        print(f"kpstance computes the last layer for the first token only: {fps_run / 1e9:.3f} GFLOP per sentence, "
              f"limit {run_limit:.0f} sentences/s; it reaches {r32 / run_limit:.0%} of that")
    return 0


if __name__ == "__main__":
    sys.exit(main())
