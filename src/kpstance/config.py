"""Structured config schema and OmegaConf resolvers.

The YAML files under ``configs/`` stay the user-facing defaults; these dataclasses say what
keys exist and of which type, so a typo or a wrong type fails at once with the key named,
before any training starts.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import KpstanceError


class Kind(str, Enum):
    transformer = "transformer"
    rules = "rules"
    majority = "majority"
    tfidf = "tfidf"
    setfit = "setfit"


class Init(str, Enum):
    pretrained = "pretrained"
    random = "random"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Aggregator(str, Enum):
    majority = "majority"
    priority = "priority"


class TrainLabels(str, Enum):
    silver = "silver"
    gold = "gold"


@dataclass
class PathsConfig:
    root_dir: str = "."
    data_dir: str = "data"
    config_dir: str = "configs"
    models_dir: str = "models"
    log_dir: str = "outputs"
    output_dir: str = "outputs/run"


@dataclass
class ArticleRef:
    id: str = "???"
    path: str = "???"


@dataclass
class SyntheticConfig:
    templates: str = "???"
    n: int = 700
    seed: int = 0


@dataclass
class CorpusConfig:
    path: str = "???"
    num_proc: int = 2
    max_articles: Optional[int] = None  # noqa: UP045


@dataclass
class DataConfig:
    articles: list[ArticleRef] = field(default_factory=list)
    gold_path: str = "???"
    language: str = "en"
    article_repeat: int = 1
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    corpus: Optional[CorpusConfig] = None  # noqa: UP045


@dataclass
class ModelConfig:
    kind: Kind = Kind.transformer
    init: Init = Init.pretrained
    name_or_path: Optional[str] = None  # noqa: UP045 (OmegaConf needs Optional)
    allow_download: bool = False
    max_length: int = 128
    vocab_size: int = 1000
    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 64
    tfidf_ngram_max: int = 2
    tfidf_c: float = 4.0
    setfit_iterations: int = 5


@dataclass
class TrainerConfig:
    epochs: int = 3
    batch_size: int = 32
    lr: float = 2e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: Optional[float] = 1.0  # noqa: UP045
    max_steps: int = -1
    precision: Precision = Precision.fp32
    device: Device = Device.auto
    fused_adamw: bool = True
    group_by_length: bool = True
    deterministic: bool = True
    num_threads: Optional[int] = None  # noqa: UP045
    predict_batch_size: int = 64
    checkpoint_every: int = 0


@dataclass
class RulesConfig:
    aggregator: Aggregator = Aggregator.majority
    actor_lfs: list[str] = field(default_factory=list)
    stance_lfs: list[str] = field(default_factory=list)


@dataclass
class EvaluationConfig:
    cv: bool = True
    train_labels: TrainLabels = TrainLabels.silver
    final_model: bool = True
    max_overlap: float = 0.8
    plots: bool = True


@dataclass
class TrainConfig:
    task_name: str = "default"
    seed: int = 0
    optimized_metric: str = "joint_accuracy"
    resume: Any = False
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    labels: dict[str, Any] = field(default_factory=dict)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: dict[str, Any] = field(default_factory=dict)
    rules: RulesConfig = field(default_factory=RulesConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)


def validate(cfg: Any) -> Any:
    """Check a composed config against the schema; return it resolved with every default filled in.

    Raises KpstanceError naming the key at fault.
    """
    try:
        data = OmegaConf.to_container(cfg, resolve=True)
        merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), data)
        plain = OmegaConf.create(OmegaConf.to_container(merged, enum_to_str=True))
        OmegaConf.set_struct(plain, True)
        return plain
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or getattr(e, "key", None) or "?"
        msg = str(e).splitlines()[0]
        raise KpstanceError(f"config key '{key}': {msg}") from None


def _rank_dir(path: str) -> str:
    """Rank 0 (or a single process) writes the run folder; other torchrun ranks get a scratch folder."""
    rank = int(os.environ.get("RANK", 0))
    if rank == 0:
        return path
    return os.path.join(tempfile.gettempdir(), f"kpstance-rank{rank}-{uuid.uuid4().hex[:8]}")


def register_resolvers() -> None:
    """``${kp_uid:}``: a random suffix, cached per process, so concurrent runs never share a folder.

    ``${kp_rank_dir:PATH}``: PATH on rank 0, a scratch folder on the other ranks of a torchrun job.
    """
    if not OmegaConf.has_resolver("kp_uid"):
        OmegaConf.register_new_resolver("kp_uid", lambda: uuid.uuid4().hex[:6], use_cache=True)
    if not OmegaConf.has_resolver("kp_rank_dir"):
        OmegaConf.register_new_resolver("kp_rank_dir", _rank_dir, use_cache=True)
