"""Which number format a saved model predicts in: the one that is fastest on this machine without changing results.

Measured on this project's machines (docs/benchmarks.md, ``benchmarks/bench_precision.py``): bf16 autocast runs
1.8x fp32 on a CPU that computes bf16 natively (``avx512_bf16``, ``amx_bf16``) but 0.25x fp32 where it is emulated;
int8 (torchao's dynamic int8 activations and weights for every Linear layer, compiled by ``torch.compile``) runs
well over 2x fp32 where the CPU has VNNI or AMX, at test scores within 0.01 of fp32's, after a compile that every
process pays: about 6 s on 2 cores once torch's compile cache holds the model's kernels, about 40 s the first time.
On a CPU whose AMX units compute bf16 (``amx_bf16``, an Intel Xeon of the Sapphire Rapids line and later), bf16
runs in the AMX tiles and beat int8 at every model size measured (MiniLM 2.65x fp32 against int8's 1.87x; a
BERT-base-sized model 3.49x against 2.54x; all-mpnet-base-v2 3.60x against 3.14x), with no compile to repay.
So ``auto`` picks bf16 where AMX computes it; elsewhere int8 on a CPU with VNNI or AMX for a job large enough to repay
the compile (against bf16 where the CPU has it, else against fp32; a larger model repays it sooner), bf16 where the
CPU (or GPU) computes it natively, and fp32 otherwise. The model folder never changes: quantisation happens at load.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PRECISIONS = ("auto", "fp32", "bf16", "int8")
ENV = "KPSTANCE_PRECISION"  # the default precision where none is asked for (``auto`` when unset)
# int8's compile costs about 6 s on 2 cores with a warm compile cache and about 40 s cold; against fp32 it saves about
# 3.7 ms a news sentence there (repaid after 2,000-11,000 sentences), against native bf16 about 0.5 ms (after
# 12,000-80,000): the thresholds sit between the warm and the cold cost
INT8_MIN_UNITS = 10_000
INT8_MIN_UNITS_OVER_BF16 = 50_000
# the thresholds were measured on all-MiniLM-L6-v2, whose Linear layers (heads included) do 10,768,512
# multiply-accumulates a token; a model that does more saves more a sentence and repays the compile sooner
# (all-mpnet-base-v2, 7.9 times the work: int8 saved 6.2 ms a sentence against native bf16, MiniLM 0.5 ms, for a
# load and compile of 57 s), so the thresholds are divided by the model's work relative to MiniLM's
REFERENCE_WORK = 10_768_512
INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# where AMX computes bf16, bf16 beat int8 for every model measured (docs/benchmarks.md, an Intel Xeon with AMX):
# auto picks it whatever the job's size
AMX_BF16 = "amx_bf16"
BF16_EMULATED = ("bf16 on a CPU without native bf16 (no avx512_bf16 or amx_bf16) is emulated and slow: measured "
                 "0.25x fp32 on an Intel Xeon with VNNI; use --precision auto (int8 or fp32) instead")
_warned: set[str] = set()


@dataclass(frozen=True)
class Choice:
    """The precision a predictor runs in, and why (logged for the user)."""

    precision: str
    reason: str


def default_precision() -> str:
    """``$KPSTANCE_PRECISION`` (e.g. fp32, to keep labels identical across machines), else ``auto``."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in PRECISIONS:
        from ..errors import KpstanceError

        raise KpstanceError(f"${ENV} is {value!r}, expected one of {', '.join(PRECISIONS)}")
    return value


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux: /proc/cpuinfo); elsewhere what torch reports of AVX-512 and AMX."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    import torch

    cap = str(torch.backends.cpu.get_cpu_capability()).lower()  # "avx512", "amx", "avx2", …
    return {"amx_int8", "amx_bf16"} if "amx" in cap else set()


def has_compiler() -> bool:
    """torch.compile's CPU backend (Inductor) writes C++ and needs a compiler to build it."""
    return any(shutil.which(c) for c in (os.environ.get("CXX") or "g++", "c++", "clang++"))


def has_torchao() -> bool:
    import importlib.util

    return importlib.util.find_spec("torchao") is not None


def linear_work(model: Any) -> int:
    """Multiply-accumulates a token in the model's Linear layers: what int8 speeds up."""
    import torch

    return sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))


def choose(requested: str, device: str, n_units: int | None = None, flags: Callable[[], set[str]] = cpu_flags,
           compiler: Callable[[], bool] = has_compiler, torchao: Callable[[], bool] = has_torchao, *,
           work: float = 1.0) -> Choice:
    """Resolve ``requested`` (auto, fp32, bf16, int8) for ``device`` (cpu or cuda) and a job of ``n_units``
    sentences (None: unknown, taken as small); ``work`` is the model's ``linear_work`` relative to MiniLM's, which
    scales the job size int8 needs. The CPU flags, the compiler check and the torchao check are injected so tests
    can pose as any machine."""
    from ..errors import KpstanceError

    if requested not in PRECISIONS:
        raise KpstanceError(f"unknown precision '{requested}' (one of {', '.join(PRECISIONS)})")
    if requested == "int8":
        if device != "cpu":
            raise KpstanceError("int8 is for CPU prediction; on CUDA use bf16 (or auto)")
        if not torchao():
            raise KpstanceError("int8 needs torchao: pip install 'kpstance[int8]'")
        return Choice("int8", "asked for")
    if requested == "bf16":
        _warn_if_emulated(device, flags)
        return Choice("bf16", "asked for")
    if requested == "fp32":
        return Choice("fp32", "asked for")
    if device != "cpu":
        return _auto_on_cuda()
    have = flags()
    if AMX_BF16 in have:
        return Choice("bf16", "auto: the CPU computes bf16 in its AMX tiles (amx_bf16), faster than int8 there at "
                              "every model size measured, and with no compile")
    int8_cpu = sorted(set(INT8_FLAGS) & have)
    bf16_cpu = sorted(set(BF16_FLAGS) & have)
    need = round((INT8_MIN_UNITS_OVER_BF16 if bf16_cpu else INT8_MIN_UNITS) / max(work, 1e-6))
    if int8_cpu and n_units is not None and n_units >= need and torchao() and compiler():
        return Choice("int8", f"auto: the CPU has {', '.join(int8_cpu)} and the job holds about {n_units:,} "
                              f"sentences, enough to repay int8's one-time compile")
    if not int8_cpu:
        why = "the CPU has no VNNI or AMX"
    elif not torchao():
        why = "torchao is not installed"
    elif not compiler():
        why = "no C++ compiler for torch.compile"
    else:
        why = f"the job is under {need:,} sentences, too few to repay int8's compile for this model"
    if bf16_cpu:
        return Choice("bf16", f"auto: the CPU computes bf16 natively ({', '.join(bf16_cpu)}); not int8: {why}")
    return Choice("fp32", f"auto: no native bf16 on this CPU; not int8: {why}")


def env_training_precision() -> str | None:
    """fp32 or bf16 where ``$KPSTANCE_PRECISION`` names one of them (what ``auto`` trains in then), else None."""
    value = os.environ.get(ENV, "").strip().lower()
    return value if value in ("fp32", "bf16") else None


def choose_training(requested: str, device: str, flags: Callable[[], set[str]] = cpu_flags) -> Choice:
    """The number format a training run computes in: fp32 or bf16 autocast (the weights stay fp32 either way).

    ``auto`` takes ``$KPSTANCE_PRECISION`` where it names fp32 or bf16, else bf16 where the CPU (or GPU) computes it
    natively and fp32 otherwise: on an EPYC with avx512_bf16 the default run trained 1.9x faster in bf16 with the same
    test figures within a seed's spread; where bf16 is emulated it runs at a quarter of fp32's speed."""
    from ..errors import KpstanceError

    if requested not in ("auto", "fp32", "bf16"):
        raise KpstanceError(f"unknown training precision '{requested}' (one of auto, fp32, bf16)")
    if requested == "auto" and env_training_precision():
        return Choice(env_training_precision(), f"${ENV}")
    if requested != "auto":
        if requested == "bf16":
            _warn_if_emulated(device, flags)
        return Choice(requested, "asked for")
    if device != "cpu":
        return _auto_on_cuda()
    native = sorted(set(BF16_FLAGS) & flags())
    if native:
        return Choice("bf16", f"auto: the CPU computes bf16 natively ({', '.join(native)})")
    return Choice("fp32", "auto: no native bf16 on this CPU")


def _auto_on_cuda() -> Choice:
    """``auto`` on a GPU, for prediction and training alike: bf16 where the device computes it natively."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return Choice("bf16", "auto: CUDA computes bf16 natively")
    return Choice("fp32", "auto: this CUDA device has no native bf16")


def _warn_if_emulated(device: str, flags: Callable[[], set[str]]) -> None:
    if device == "cpu" and not set(BF16_FLAGS) & flags():
        warn_once("bf16", BF16_EMULATED)


def warn_once(key: str, message: str) -> None:
    """One warning line on stderr per process, however many predictors are loaded."""
    if key in _warned:
        return
    _warned.add(key)
    print(f"kpstance: warning: {message}", file=sys.stderr)


def quantize_int8(model):  # noqa: ANN001, ANN201 (a transformers model in, the same model out)
    """torchao's dynamic int8 (activations quantised per token at run time, weights per channel) for every Linear
    layer of the encoder and heads, in place; the caller compiles it, without which torchao's int8 runs no faster
    than fp32 on CPU."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    quantize_(model, Int8DynamicActivationInt8WeightConfig())
    return model


def compile_int8(model):  # noqa: ANN001, ANN201 (the quantised model in, its compiled forward out)
    """``torch.compile(dynamic=True)`` of the quantised model, run with Python floats specialised.

    Left symbolic (torch's default), a float among torchao's scales makes Dynamo trace the whole model, fail to
    turn it into a tensor and start again specialised: measured here, that first attempt was 17 of the compile's
    22 s with a warm cache. Specialised from the start, the compile takes about 6 s warm. The floats are
    constants of the model, so nothing recompiles for them; the compiled forward runs under the same setting so
    that a later compile (a new thread count) takes the same path.
    """
    import torch

    compiled = torch.compile(model, dynamic=True)
    if not hasattr(torch._dynamo.config, "specialize_float"):  # a torch without the setting: its default path
        return compiled

    def forward(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        with torch._dynamo.config.patch(specialize_float=True):
            return compiled(*args, **kwargs)

    return forward
