"""The config schema: the one home of every default, registered with Hydra, and validation.

The dataclasses here (and the system and encoder schemas in ``systems.registry``) say which
keys exist, of which type, and with which default. They are registered in Hydra's ConfigStore,
so ``configs/train.yaml`` and the group files only state choices (which article, which
system, which encoder) and every other value comes from here. ``validate`` checks a composed
config once, before anything is written; a typo, a wrong type, an unknown system or an
unknown labeling function is a one-line error naming the key.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import math
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from omegaconf import II, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import KpstanceError
from .systems.registry import ENCODERS, RENAMED, SYSTEMS
from .weak.actor_lfs import ACTOR_LFS
from .weak.stance_lfs import STANCE_LFS


class Precision(str, Enum):
    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Aggregator(str, Enum):
    majority = "majority"
    priority = "priority"
    label_model = "label_model"  # Snorkel's LabelModel: each function's trust learned from the votes, no gold


class TrainLabels(str, Enum):
    silver = "silver"
    gold = "gold"


@dataclass
class PathsConfig:
    root_dir: str = "???"
    data_dir: str = "???"
    config_dir: str = "???"
    models_dir: str = "???"
    log_dir: str = "???"
    output_dir: str = "???"  # the run folder; Hydra sets it, tests and scripts may override it


@dataclass
class ArticleRef:
    id: str = "???"
    path: str = "???"


@dataclass
class SyntheticConfig:
    templates: str = "???"
    n: int = 700
    seed: int = II("seed")


@dataclass
class CorpusConfig:
    path: str = "???"
    num_proc: int = 2  # datasets.map worker processes for segmentation and labelling
    max_articles: Optional[int] = None  # noqa: UP045 (OmegaConf needs Optional): the first N articles by path


@dataclass
class MultiSourceConfig:
    path: str = "???"  # folder with sentences.jsonl, articles.jsonl and articles/ (data/multisource)
    train: bool = True  # add the train split's gold units (sentences and whole articles) to every training set
    repeat: int = 1  # times each of those units appears per epoch


@dataclass
class ContrastConfig:
    path: str = "???"  # JSON Lines of minimal pairs (data/contrast/pairs.jsonl)
    train: bool = True  # add the train split's pairs to every training set (dev and test pairs never train)
    repeat: int = 1  # times each of those units appears per epoch


@dataclass
class TeacherConfig:
    # the teacher's outputs on the training set, versioned data keyed by a hash of that set (refused on mismatch)
    outputs: str = "${paths.root_dir}/data/teacher/outputs.safetensors"
    # a saved teacher model: with it, missing or stale outputs are made again (predicting the training set);
    # without it they are refused with a one-line error that names `make teacher`
    model: Optional[str] = None  # noqa: UP045
    # a transfer pool (Hinton et al. 2015) the student learns from the teacher alone, without a label of its own,
    # with trainer.distill_weight > 0: up to `pool_swap` more speaker-swapped copies of every gold and synthetic
    # training unit (other names than the labelled copies'), `pool_alias` alias-varied copies of them, and a second
    # draw of `pool_synthetic` synthetic units; none within the leak threshold of a held-out text
    pool_swap: int = 0
    pool_alias: int = 0
    pool_synthetic: int = 0
    # `pool_direction` direction-flipped copies of every gold and synthetic training unit (weak.direction: one step
    # word turned into its reverse, "suspend" -> "resume"), which only the teacher labels
    pool_direction: int = 0
    # text of your own the teacher alone labels (JSON Lines, one unit a line: "text", optional "kind", "speaker",
    # "id"; any label a line holds is ignored), such as a sample of the corpus you will label: the teacher's reading
    # of unseen text like the one you study. Its distributions are kept in `pool_outputs`, made by `pool_model` (else
    # `model`) for the lines the store lacks; none within the leak threshold of a held-out text trains
    pool_files: list[str] = field(default_factory=list)
    pool_outputs: str = "${paths.root_dir}/data/teacher/pool.safetensors"
    pool_model: Optional[str] = None  # noqa: UP045
    # cross-fitting: a teacher trained with `folds` = K >= 2 and `fold` = k leaves out of training every example whose
    # source (a gold report, an article, a synthetic article; its copies go with it) falls in fold k of K, so that
    # its distributions on fold k are its reading of text it never saw; a student with `fold_models` (the K such
    # teachers, in fold order) takes each example's distributions from the teacher that left its fold out
    folds: int = 0
    fold: int = 0
    # the share of training examples that may lack a stored distribution when no teacher is named, with a warning: a
    # labelled one trains on its label alone, a pool line sits the run out (a change of the rules or the name tables
    # alters a few examples; the stores take an hour of teacher training to make again); more missing is refused
    max_missing: float = 0.001
    # representation distillation (trainer.hidden_weight > 0): the teacher's last representation before its
    # classifier (the input of the layer that gives the logits) per training example, keyed like `outputs`; made by
    # `hidden_model` for the examples the store lacks, refused with one line naming `make teacher-hidden` without it
    hidden_outputs: str = "${paths.root_dir}/data/teacher/hidden.safetensors"
    hidden_model: Optional[str] = None  # noqa: UP045
    fold_models: list[str] = field(default_factory=list)


@dataclass
class DataConfig:
    articles: list[ArticleRef] = field(default_factory=list)
    gold_path: str = "???"
    language: str = "en"
    # how many times each article sentence (silver or gold labelled) appears in the training set per epoch;
    # 0 trains without them (and so without silver labels, unless a silver corpus is given)
    article_repeat: int = 4
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    corpus: Optional[CorpusConfig] = None  # noqa: UP045
    # the multi-source gold corpus every run is scored on (dev and test), kept out of training by the leak guard
    multisource: Optional[MultiSourceConfig] = None  # noqa: UP045
    # minimal pairs (one actor and topic, opposite directions of a step): dev and test scored as *_contrast_*
    contrast: Optional[ContrastConfig] = None  # noqa: UP045
    # gold sets of your own (JSON Lines, as `kpstance annotate import` writes them): split by source report
    # (a unit's `split` field, else a hash of its report_id / article_id) into train, joining every training set
    # (x extra_gold_repeat), and dev and test, scored as extra_dev_* and extra_test_* and kept out of training
    extra_gold: list[str] = field(default_factory=list)
    extra_gold_dev: float = 0.2  # share of the reports held out for dev
    extra_gold_test: float = 0.2  # share of the reports held out for test
    extra_gold_repeat: int = 1
    # counterfactual augmentation: speaker-swapped copies (weak.swap) per gold or synthetic training unit with a named
    # actor, labelled with the swapped-in actor and the unit's stance; 0 adds none. One by default, with masked
    # pairing (trainer.mask_pair_weight) tying the unit and its copy to one masked reading (issue 18, three seeds:
    # test flip 0.030 against two copies' 0.074 without it, at the same stance macro-F1; docs/results.md)
    swap_augment: int = 1
    # alias-varied copies per gold or synthetic training unit: every country named by another of its forms ("the
    # DPRK", "the Republic of Korea", "S. Korea", "the PRC"), labels kept; 0 adds none
    alias_augment: int = 0
    # unlikelihood of the reversed step (Welleck et al. 2020): up to this many direction-flipped copies (weak.direction,
    # "suspend" -> "resume") per gold or synthetic training unit with a hardline or conciliatory stance; a copy keeps
    # the unit's actor, and its stance is trained only to be NOT the unit's (-log(1 - p), trainer.unlike_weight),
    # since what the reversed step's stance is the words do not say; 0 adds none
    direction_unlike: int = 0
    # distillation (trainer.distill_weight > 0): a teacher's actor and stance distributions on the training set
    teacher: TeacherConfig = field(default_factory=TeacherConfig)


@dataclass
class TrainerConfig:
    # two epochs: masked pairing reads each batch twice, and three epochs of it ran 399-451 s, past the 5-minute budget
    epochs: int = 2
    batch_size: int = 32
    lr: float = 2e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: Optional[float] = 1.0  # noqa: UP045
    max_steps: int = -1  # >0 overrides epochs
    # auto: bf16 autocast where the CPU or GPU computes bf16 natively (measured 1.9x fp32 training on an EPYC, the
    # same test figures within a seed's spread: docs/results.md), else fp32; $KPSTANCE_PRECISION=fp32|bf16 overrides
    # auto; the choice is logged and kept in run_info.json (train_precision)
    precision: Precision = Precision.auto
    # auto: CUDA when present (under torchrun, the GPU of LOCAL_RANK); cuda without a GPU is refused up front
    device: Device = Device.auto
    fused_adamw: bool = True
    # true: batches of similar length (less padding, faster), sorted within mega-batches of `group_batches`
    # batches; false: shuffled batches. On dev, sorting whole epochs (50 batches) cost 0.02-0.04 joint accuracy
    # against shuffled batches; mega-batches of 8 scored best (one run, seed 0; docs/results.md), with most of the speed
    group_by_length: bool = True
    group_batches: int = 8
    deterministic: bool = True
    num_threads: Optional[int] = None  # noqa: UP045 (torch threads; None = torch's default)
    predict_batch_size: int = 64
    checkpoint_every: int = 50  # steps between resumable checkpoints in the run folder (0 = none)
    # counterfactual logit pairing (Garg et al. 2019): weight of the squared distance between the stance
    # log-probabilities of a unit and of its speaker-swapped copy; > 0 pairs every unit that has a clean copy
    pair_weight: float = 0.0
    # masked pairing: > 0 adds a second training pass over each text with every actor mention masked; the stance
    # head learns from it too, and this weighs the squared distance between the two passes' stance log-probabilities.
    # All speaker-swapped variants share one masked text; prediction stays one unmasked pass (unlike blind_stance).
    # 1 by default (0 trains without the masked pass; it cannot go with system.blind_stance)
    mask_pair_weight: float = 1.0
    # the masked pass on one training step in this many (1 = every step): its cost against the flip it removes
    mask_pair_every: int = 1
    # true: each batch holds a unit together with its speaker-swapped copies, and the masked pass reads each distinct
    # masked text of the batch once (all of a unit's copies share it), skipping texts with no actor mention to mask;
    # false: shuffled examples, a masked pass per example
    copies_in_batch: bool = False
    # true: the masked pass only for the units that have speaker-swapped copies and for the copies (the units the swap
    # test measures). With copies_in_batch: the same test flip in three quarters of the training time, at 0.02 less
    # dev stance macro-F1 than the previous default (three seeds, docs/results.md; not adopted)
    mask_pair_copied_only: bool = False
    # weight of the actor cross-entropy against the stance one (1 = equal): does the actor loss crowd out stance? 1.5
    # by default: in two epochs of masked pairing, whose second pass trains stance alone, it gives back most of what
    # the actor head loses to the third epoch (three seeds: dev actor macro-F1 0.893, against 0.879 at 1.0 and the
    # three-epoch default's 0.897; docs/results.md)
    actor_weight: float = 1.5
    # stance classes weighted by their training count to the power -stance_balance (0: unweighted; 1: balanced, each
    # class weighing as much in total), normalised to a mean weight of one over the labelled training examples
    stance_balance: float = 0.0
    # label smoothing (Szegedy et al. 2016) of both heads' cross-entropies: each label keeps 1 - e of its mass and e is
    # spread over the classes, so a noisy silver label pulls less hard (calibration is fitted on dev afterwards)
    label_smoothing: float = 0.0
    # weight of the unlikelihood term of the direction-flipped copies (data.direction_unlike) against the stance CE
    unlike_weight: float = 1.0
    # product of experts with the speaker prior (Clark et al. 2019, He et al. 2019): the training loss reads the stance
    # logits plus prior_poe x log p(stance | gold actor), counted on the training set, so the network need not learn
    # what the speaker alone predicts; prediction reads the network alone. 0 = off
    prior_poe: float = 0.0
    # distillation: share of the loss taken by the KL divergence from the teacher's distributions (data.teacher)
    distill_weight: float = 0.0
    distill_temperature: float = 2.0
    # representation distillation (similarity-preserving, Tung & Mori 2019): weight of the squared distance between
    # the cosine-similarity matrices of the batch's examples as the student's classifier reads them and as the
    # teacher's does (data.teacher.hidden_outputs); dimension-free, so a 384-wide student learns from a 768-wide teacher
    hidden_weight: float = 0.0


@dataclass
class RulesConfig:
    # majority (ties -> earlier function) | priority | label_model (Snorkel, fitted on the votes; no gold)
    aggregator: Aggregator = Aggregator.majority
    # every registered labeling function, in registry order (weak.actor_lfs, weak.stance_lfs)
    actor_lfs: list[str] = field(default_factory=lambda: list(ACTOR_LFS))
    stance_lfs: list[str] = field(default_factory=lambda: list(STANCE_LFS))


@dataclass
class EvaluationConfig:
    # grouped cross-validation over the seed article's sections (no leakage): one model per section, so off by
    # default (the multi-source dev and test splits are the figures to trust); experiment=full turns it on
    cv: bool = False
    train_labels: TrainLabels = TrainLabels.silver  # what each fold trains on
    final_model: bool = True  # train and save one model on all data after the folds
    max_overlap: float = 0.8  # drop training sentences whose token Jaccard with a held-out gold sentence reaches this
    # and drop a dated gold training unit that rewords a held-out unit of the same actor from reports at most
    # reworded_days apart at this token Jaccard (another outlet's wording of the same quote); 0 turns it off
    reworded_overlap: float = 0.4
    reworded_days: int = 3
    plots: bool = True
    # the speaker-swap test (dev and test sentences and articles, model and rules): about a third of a smoke run's
    # time; false skips it (no *_swap_* keys) in sweeps and tests that do not read it. The counter-prior slice stays
    swap: bool = True


@dataclass
class LoggerConfig:
    name: str = "none"  # mlflow | none
    db_path: Optional[str] = None  # noqa: UP045 (mlflow: the sqlite store)
    artifact_root: Optional[str] = None  # noqa: UP045
    experiment_name: Optional[str] = None  # noqa: UP045 (default: task_name)


@dataclass
class TrainConfig:
    task_name: str = "default"  # experiment name: run folders, models/ and tracking group by it
    seed: int = 0
    optimized_metric: str = "dev_joint_accuracy"  # the metric train() returns, which sweeps optimise (dev, never test)
    # true: continue the newest unfinished run of this task (same overrides); a folder: that run
    resume: Any = False
    update_latest: bool = True  # point models/latest at this run's model (the smoke experiment does not)
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    labels: dict[str, Any] = field(default_factory=dict)  # the label YAML, validated by weak.scheme
    system: Any = None  # a schema of systems.registry.SYSTEMS, chosen by system.name
    encoder: Any = None  # a schema of systems.registry.ENCODERS, chosen by encoder.kind
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)


# Keys that say where or how this process runs, not what it computes: left out of the config saved
# with a run and compared on resume (RUN_LOCAL_KEYS), and of the params that identify a run in
# tracking and comparisons (NOT_IDENTIFYING: these plus paths, label lists and logger settings).
RUN_LOCAL_KEYS = ("resume", "paths.output_dir")
NOT_IDENTIFYING_PREFIXES = ("paths.", "labels.", "resume", "logger.")
# keys that never explain a difference in results (hidden from comparison tables)
NOISE_KEYS = frozenset({"task_name", "optimized_metric", "evaluation.plots", "trainer.num_threads",
                        "trainer.checkpoint_every", "trainer.predict_batch_size", "data.synthetic.seed"})
# Keys that only some systems read: a comparison leaves their cells blank on the rows of the other systems.
# The encoder and the training loop: systems that fine-tune an encoder.
ENCODER_SYSTEMS = ("transformer", "setfit")
ONLY_FOR = {"encoder.": ENCODER_SYSTEMS, "trainer.": ENCODER_SYSTEMS}
# What the training set is made of: systems that learn from labels (System.trainable; the rules learn nothing).
TRAINING_KEYS = ("data.synthetic.", "data.article_repeat", "data.corpus.", "data.multisource.train",
                 "data.multisource.repeat", "data.contrast.train", "data.contrast.repeat", "data.extra_gold_repeat", "data.swap_augment", "data.alias_augment",
                 "data.teacher.", "evaluation.train_labels",
                 "evaluation.max_overlap", "evaluation.reworded_overlap", "evaluation.reworded_days")


def key_applies(key: str, system: str | None) -> bool:
    """Whether a config key can change the results of a run of ``system`` (unknown systems: every key does)."""
    if system is None or system not in SYSTEMS:
        return True
    for prefix, systems in ONLY_FOR.items():
        if key.startswith(prefix):
            return system in systems
    if key.startswith(TRAINING_KEYS):
        from .systems.registry import system_class

        return bool(system_class(system).trainable)
    return True
def register_configs() -> None:
    """Put the schemas' defaults in Hydra's ConfigStore: train.yaml extends ``kpstance_schema``, and each
    system/encoder file extends its ``base_<name>``; ``validate`` then checks types against the schemas."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="kpstance_schema", node=_defaults(TrainConfig))
    for name, (schema, _) in SYSTEMS.items():
        cs.store(group="system", name=f"base_{name}", node=_defaults(schema))
    for kind, schema in ENCODERS.items():
        cs.store(group="encoder", name=f"base_{kind}", node=_defaults(schema))
    cs.store(group="data", name="base_corpus", node={"corpus": _defaults(CorpusConfig)})
    cs.store(group="data", name="base_multisource", node={"multisource": _defaults(MultiSourceConfig)})
    cs.store(group="data", name="base_contrast", node={"contrast": _defaults(ContrastConfig)})


def _defaults(schema: type) -> dict:
    """A schema's default values as a plain mapping: Hydra composes them untyped, so a wrong value reaches
    ``validate`` (one line naming the key, exit code 2) instead of failing inside Hydra's composition."""
    return OmegaConf.to_container(OmegaConf.structured(schema), enum_to_str=True)


def _pick(data: dict, key: str, field_name: str, options: dict) -> Any:
    node = data.get(key)
    if not isinstance(node, dict) or field_name not in node:
        raise KpstanceError(f"config key '{key}.{field_name}' is missing (choose {key}=… on the command line)")
    choice = node[field_name]
    if choice not in options:
        raise KpstanceError(f"config key '{key}.{field_name}': unknown {key} '{choice}' (known: {', '.join(options)})")
    schema = options[choice]
    return schema[0] if isinstance(schema, tuple) else schema


def validate(cfg: Any) -> Any:
    """Check a composed config against the schema; return it resolved, read-only in shape (struct).

    Raises KpstanceError naming the key at fault.
    """
    from .weak.label import check_lf_names

    try:
        data = dict(OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else cfg)
        for old, new in RENAMED.items():
            if "." not in old and old in data:
                raise KpstanceError(f"config group '{old}' is now {new}")
        # the label YAML (nine tenths of the config's nodes) has a schema of its own (weak.scheme): it stays out of
        # the structured merge, which would take most of a run's validation time to wrap it twice
        labels = data.pop("labels", {})
        if not isinstance(labels, dict):
            raise KpstanceError(f"config key 'labels': a mapping (a label file), got {type(labels).__name__}")
        schema = OmegaConf.structured(TrainConfig)
        schema.system = OmegaConf.structured(_pick(data, "system", "name", SYSTEMS))
        schema.encoder = OmegaConf.structured(_pick(data, "encoder", "kind", ENCODERS))
        merged = OmegaConf.merge(schema, data)
        body = OmegaConf.to_container(merged, resolve=True, enum_to_str=True)
        plain = OmegaConf.create({k: labels if k == "labels" else v for k, v in body.items()})  # the schema's order
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or getattr(e, "key", None) or "?"
        msg = str(e).splitlines()[0]
        raise KpstanceError(f"config key '{key}': {msg}") from None
    check_lf_names(list(plain.rules.actor_lfs), list(plain.rules.stance_lfs))
    d = plain.data
    if not (0 <= d.extra_gold_dev <= 1 and 0 <= d.extra_gold_test <= 1 and d.extra_gold_dev + d.extra_gold_test <= 1):
        raise KpstanceError(f"config keys 'data.extra_gold_dev' and 'data.extra_gold_test': shares between 0 and 1 "
                            f"that sum to at most 1, got {d.extra_gold_dev} and {d.extra_gold_test}")
    if plain.system.get("blind_stance") and (plain.get("trainer") or {}).get("mask_pair_weight"):
        raise KpstanceError("config keys 'system.blind_stance' and 'trainer.mask_pair_weight': a stance head blind to "
                            "actor mentions already reads the masked text; masked pairing would pair it with itself "
                            "(add trainer.mask_pair_weight=0)")
    if (plain.get("trainer") or {}).get("hidden_weight") and (plain.get("evaluation") or {}).get("cv"):
        raise KpstanceError("config keys 'trainer.hidden_weight' and 'evaluation.cv': the teacher's representations are "
                            "stored for the final model's training set, not for each fold's (add evaluation.cv=false)")
    from .systems.registry import system_class

    if plain.evaluation.final_model and not system_class(str(plain.system.name)).saveable:
        raise KpstanceError(f"system={plain.system.name} is a baseline and saves no model: set "
                            f"evaluation.final_model=false (or use experiment=baseline_{plain.system.name})")
    check_metric_name(str(plain.optimized_metric))
    check_ranges(plain)
    check_input_paths(plain)
    OmegaConf.set_struct(plain, True)
    return plain


# How every metrics.json key ends (after its system, split and slice prefixes: rules_, dev_, test_articles_, …)
METRIC_ENDINGS = ("actor_accuracy", "actor_macro_f1", "stance_accuracy", "stance_macro_f1", "stance_f_avg",
                  "joint_accuracy", "pair_accuracy", "stance_flip", "actor_follow", "_ece", "_ece_raw", "min_score")


def check_metric_name(name: str) -> None:
    """``optimized_metric`` must name a metric a run writes: a typo used to pass, and an Optuna sweep then stopped
    with a traceback after its first trial had trained."""
    if not name.endswith(METRIC_ENDINGS):
        examples = ["dev_joint_accuracy", "dev_stance_macro_f1", "dev_actor_macro_f1", "dev_swap_stance_flip",
                    "dev_contrast_pair_accuracy", "dev_counter_stance_macro_f1"]
        near = difflib.get_close_matches(name, examples, n=3, cutoff=0.5)
        raise KpstanceError(f"config key 'optimized_metric': '{name}' is no metric a run writes (a key of "
                            f"metrics.json ending in {', '.join(e.lstrip('_') for e in METRIC_ENDINGS)}"
                            + (f"; nearest: {', '.join(near)}" if near else "") + ")")


def check_input_paths(plain: Any) -> None:
    """Refuse a missing input that a run would only open after its folder is made (the corpus to label, the
    synthetic templates, the teacher's pool files), so a typo in a path leaves nothing behind."""
    d = plain.data
    wanted: list[tuple[str, Any, str]] = []
    if d.get("corpus"):
        wanted.append(("data.corpus.path", d.corpus.get("path"), "folder"))
    if d.get("synthetic") and (d.synthetic.get("n") or 0) > 0:
        wanted.append(("data.synthetic.templates", d.synthetic.get("templates"), "file"))
    wanted += [("data.teacher.pool_files", f, "file") for f in (d.get("teacher") or {}).get("pool_files") or []]
    for key, value, kind in wanted:
        if value is None or str(value) == "???":
            continue
        p = Path(str(value)).expanduser()
        if not (p.is_dir() if kind == "folder" else p.is_file()):
            raise KpstanceError(f"config key '{key}': {kind} not found", p)


def _at_least(n: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v >= n), f"at least {n}"


_ABOVE_ZERO: tuple[Callable[[Any], bool], str] = ((lambda v: math.isfinite(v) and v > 0), "a finite number above 0")
_NOT_NEGATIVE: tuple[Callable[[Any], bool], str] = ((lambda v: math.isfinite(v) and v >= 0), "a finite number, 0 or more")
_SHARE: tuple[Callable[[Any], bool], str] = ((lambda v: 0 <= v <= 1), "between 0 and 1")

# Values the types allow but no run can use: each would crash deep inside training (a division by zero, numpy's
# seed range), or train nothing and save an untrained model (zero steps). A key missing from the config or set to
# null (an optional value, a system without that key) is not checked.
LIMITS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": ((lambda v: 0 <= v <= 2**32 - 1), "between 0 and 4294967295 (numpy's seed range)"),
    "trainer.epochs": _at_least(1),
    "trainer.max_steps": ((lambda v: v == -1 or v >= 1), "-1 (train for trainer.epochs) or at least 1"),
    "trainer.batch_size": _at_least(1),
    "trainer.lr": _ABOVE_ZERO,
    "trainer.weight_decay": _NOT_NEGATIVE,
    "trainer.warmup_ratio": _SHARE,
    "trainer.max_grad_norm": _NOT_NEGATIVE,
    "trainer.group_batches": _at_least(1),
    "trainer.num_threads": _at_least(0),
    "trainer.predict_batch_size": _at_least(1),
    "trainer.checkpoint_every": _at_least(0),
    "data.article_repeat": _at_least(0),
    "data.synthetic.n": _at_least(0),
    "data.extra_gold_repeat": _at_least(1),
    "data.swap_augment": _at_least(0),
    "system.speaker_average": _at_least(0),
    "data.teacher.pool_swap": _at_least(0),
    "data.teacher.pool_alias": _at_least(0),
    "data.teacher.pool_synthetic": _at_least(0),
    "data.teacher.pool_direction": _at_least(0),
    "data.teacher.folds": ((lambda v: v == 0 or v >= 2), "0 (no cross-fitting) or at least 2"),
    "data.teacher.fold": _at_least(0),
    "data.teacher.max_missing": _SHARE,
    "data.alias_augment": _at_least(0),
    "data.direction_unlike": _at_least(0),
    "trainer.unlike_weight": _NOT_NEGATIVE,
    "trainer.prior_poe": _NOT_NEGATIVE,
    "trainer.pair_weight": _NOT_NEGATIVE,
    "trainer.mask_pair_weight": _NOT_NEGATIVE,
    "trainer.mask_pair_every": _at_least(1),
    "trainer.actor_weight": _ABOVE_ZERO,
    "trainer.stance_balance": _NOT_NEGATIVE,
    "trainer.label_smoothing": ((lambda v: 0 <= v < 1), "at least 0 and below 1"),
    "trainer.distill_weight": _SHARE,
    "trainer.distill_temperature": _ABOVE_ZERO,
    "trainer.hidden_weight": _NOT_NEGATIVE,
    "data.corpus.num_proc": _at_least(1),
    "data.corpus.max_articles": _at_least(1),
    "data.multisource.repeat": _at_least(0),
    "data.contrast.repeat": _at_least(0),
    "encoder.max_length": _at_least(8),
    "encoder.vocab_size": _at_least(1),
    "encoder.hidden_size": _at_least(1),
    "encoder.num_layers": _at_least(1),
    "encoder.num_heads": _at_least(1),
    "encoder.intermediate_size": _at_least(1),
    "system.ngram_max": _at_least(1),
    "system.c": _ABOVE_ZERO,
    "system.iterations": _at_least(1),
    "evaluation.max_overlap": _ABOVE_ZERO,
    "evaluation.reworded_overlap": _SHARE,
    "evaluation.reworded_days": _at_least(0),
}


def check_ranges(cfg: Any) -> None:
    """Refuse a value of the right type that no run can use (``LIMITS``), naming the key."""
    for key, (ok, wanted) in LIMITS.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and not ok(value):
            raise KpstanceError(f"config key '{key}': must be {wanted}, got {value}")
    enc = cfg.encoder
    if "num_heads" in enc and enc.hidden_size % enc.num_heads:
        raise KpstanceError(f"config keys 'encoder.hidden_size' and 'encoder.num_heads': the hidden size must be a "
                            f"multiple of the number of heads, got {enc.hidden_size} and {enc.num_heads}")
    t = OmegaConf.select(cfg, "data.teacher", default=None)
    if t is not None and t.folds and t.fold >= t.folds:
        raise KpstanceError(f"config keys 'data.teacher.fold' and 'data.teacher.folds': the fold must be below the "
                            f"number of folds, got {t.fold} of {t.folds}")
    if t is not None and len(t.fold_models) == 1:
        raise KpstanceError("config key 'data.teacher.fold_models': cross-fitting needs at least 2 teachers, got 1")


@functools.cache
def _rank_dir(path: str) -> str:
    """Rank 0 (or a single process) writes the run folder; other torchrun ranks get a scratch folder."""
    rank = int(os.environ.get("RANK", 0))
    if rank == 0:
        return path
    return os.path.join(tempfile.gettempdir(), f"kpstance-rank{rank}-{uuid.uuid4().hex[:8]}")


def _run_dir(default: str, *, _root_: Any) -> str:
    """Hydra's run folder follows ``paths.output_dir`` when the user sets it, so Hydra makes no second, empty
    folder under ``outputs/``; by default ``paths.output_dir`` is Hydra's folder (an interpolation), so PATH."""
    paths = _root_.get("paths")
    if paths is not None and "output_dir" in paths and not OmegaConf.is_interpolation(paths, "output_dir"):
        return _rank_dir(str(paths.output_dir))
    return _rank_dir(default)


def register_resolvers() -> None:
    """``${kp_uid:}``: a random suffix, cached per process, so concurrent runs never share a folder.

    ``${kp_rank_dir:PATH}``: PATH on rank 0, a scratch folder on the other ranks of a torchrun job.
    ``${kp_run_dir:PATH}``: Hydra's run folder: ``paths.output_dir`` when one is given, else PATH (by rank).
    Also registers the schemas with Hydra (``register_configs``).
    """
    if not OmegaConf.has_resolver("kp_uid"):
        OmegaConf.register_new_resolver("kp_uid", lambda: uuid.uuid4().hex[:6], use_cache=True)
    if not OmegaConf.has_resolver("kp_rank_dir"):
        OmegaConf.register_new_resolver("kp_rank_dir", _rank_dir, use_cache=True)
    if not OmegaConf.has_resolver("kp_run_dir"):
        OmegaConf.register_new_resolver("kp_run_dir", _run_dir)
    register_configs()


def renamed_override(overrides: list[str]) -> str | None:
    """A one-line message for a command-line override spelled as in an earlier version (``model=…``), else None."""
    for o in overrides:
        key = o.lstrip("+~").split("=", 1)[0]
        if key in RENAMED or key.startswith("model."):
            new = RENAMED.get(key, RENAMED["model"])
            return f"'{o}': the config key '{key}' is now {new}"
    return None


def compose(overrides: list[str], config_dir: str | os.PathLike | None = None) -> Any:
    """The train config as ``train.py`` composes it, for scripts, notebooks and tests (not validated yet)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_resolvers()
    with initialize_config_dir(config_dir=str(Path(config_dir or _config_dir()).resolve()), version_base="1.3"):
        return hydra_compose("train", overrides=list(overrides))


def _config_dir() -> Path:
    """The configs/ folder of the project root (``KPSTANCE_ROOT``, set by train.py, else the checkout)."""
    return Path(os.environ.get("KPSTANCE_ROOT") or Path(__file__).resolve().parents[2]) / "configs"


def schema_keys() -> set[str]:
    """Every dotted key the schema knows, the keys of every system and encoder schema included. Keys under a
    free mapping or list (``labels``, ``data.articles``) are open: any key below them is accepted."""
    import dataclasses
    import typing

    def walk(schema: type, prefix: str) -> set[str]:
        keys: set[str] = set()
        hints = typing.get_type_hints(schema)
        for f in dataclasses.fields(schema):
            key, tp = f"{prefix}{f.name}", hints[f.name]
            keys.add(key)
            inner = [a for a in typing.get_args(tp) if a is not type(None)]  # Optional[X] -> X
            tp = inner[0] if typing.get_origin(tp) is typing.Union and len(inner) == 1 else tp
            if dataclasses.is_dataclass(tp):
                keys |= walk(tp, key + ".")
        return keys

    keys = walk(TrainConfig, "")
    for schema, _ in SYSTEMS.values():
        keys |= walk(schema, "system.")
    for schema in ENCODERS.values():
        keys |= walk(schema, "encoder.")
    return keys


OPEN_KEYS = ("labels", "data.articles")  # free mappings and lists: their own keys come from the YAML


def extra_config_dirs(argv: Sequence[str]) -> list[Path]:
    """The config folders a command line adds to the project's: Hydra's ``--config-dir`` (``-cd``) and the local
    entries of ``hydra.searchpath=[file://…]``, where a user keeps an adapted label file outside the checkout."""
    dirs: list[str] = []
    for i, a in enumerate(argv):
        for flag in ("--config-dir", "-cd"):
            if a == flag and i + 1 < len(argv):
                dirs.append(argv[i + 1])
            elif a.startswith(flag + "="):
                dirs.append(a.split("=", 1)[1])
        if a.startswith("hydra.searchpath="):
            for entry in a.split("=", 1)[1].strip().strip("[]").split(","):
                entry = entry.strip().strip("'\"")
                if entry.startswith("file://"):
                    dirs.append(entry.removeprefix("file://"))
                elif entry and "://" not in entry:
                    dirs.append(entry)
    return [Path(d).expanduser() for d in dirs]


def _config_groups(config_dir: Path, extra: Sequence[Path] = ()) -> dict[str, list[str]]:
    """Each config group of train.yaml's defaults list and its options: the YAML files in configs/<group>/ and in
    the ``extra`` folders' <group>/ (``ablation/x`` for a file in a subfolder), and the schemas the ConfigStore
    holds for it."""
    import yaml
    from hydra.core.config_store import ConfigStore

    register_configs()
    defaults = (yaml.safe_load((config_dir / "train.yaml").read_text(encoding="utf-8")) or {}).get("defaults", [])
    groups: dict[str, list[str]] = {}
    for entry in defaults:
        if not isinstance(entry, dict):
            continue
        (group,) = entry
        options = sorted({str(p.relative_to(d / group).with_suffix("")) for d in (config_dir, *extra)
                          for p in (d / group).rglob("*.yaml")})
        try:
            options += [o.removesuffix(".yaml") for o in ConfigStore.instance().list(group)]
        except OSError:  # Hydra's ConfigStore raises OSError for a group it does not hold
            pass
        groups[group] = options
    return groups


def _nearest(word: str, candidates: list[str]) -> list[str]:
    """Up to three valid names nearest to ``word``: under the same parent, a name whose letters are the word's
    initials (learning_rate -> lr) and close spellings (difflib); else close spellings of the whole dotted key."""
    parent, _, last = word.rpartition(".")
    siblings = {c.rpartition(".")[2]: c for c in candidates if c.rpartition(".")[0] == parent}
    initials = "".join(part[:1] for part in last.split("_"))
    near = [siblings[initials]] if len(initials) > 1 and initials in siblings else []
    near += [siblings[m] for m in difflib.get_close_matches(last, list(siblings), n=3, cutoff=0.6)]
    if not near:
        near = difflib.get_close_matches(word, candidates, n=3, cutoff=0.8)
    return list(dict.fromkeys(near))[:3]


# Folders under configs/ that are no Hydra group: their files are read by kpstance's own loaders (synthetic templates,
# event lists), each with its own one-line errors, and only when a run names one.
NOT_GROUPS = ("synthetic", "events")


def broken_config_file(config_dir: str | os.PathLike, labels: Collection[str] = ("korean_peninsula",)) -> str | None:
    """A one-line message for a YAML file under ``configs/`` that does not parse, naming its file and line; else
    None. Hydra would stop on it with a traceback of its own loader, wherever the file sits in the defaults. A label
    file that no run can select (``labels``: the names a command line or an experiment file may select; a draft
    being adapted to another conflict) is no run's business, nor is a file of a folder that is no Hydra group."""
    import yaml

    from .yamlfile import load_yaml, yaml_problem

    root = Path(config_dir)
    for f in sorted(root.rglob("*.yaml")):
        rel = f.relative_to(root).parts
        if rel[0] in NOT_GROUPS or (rel[0] == "labels" and len(rel) == 2 and f.stem not in labels):
            continue
        try:
            load_yaml(f.read_text(encoding="utf-8-sig"))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            mark = getattr(e, "problem_mark", None)
            where = f"{f}:{mark.line + 1}" if mark is not None else str(f)
            why = yaml_problem(e) if isinstance(e, yaml.YAMLError) else str(e)
            return f"{where}: not valid YAML ({type(e).__name__}: {why})"
    return None


LABELS_CHOICE_RE = re.compile(r"^\s*-?\s*(?:override\s+)?/?labels\s*:\s*([\w.-]+)", re.MULTILINE)


def selected_labels(argv: Sequence[str], config_dirs: Sequence[str | os.PathLike] = ()) -> set[str]:
    """Every label file a run of this command line may select: the default's, each value of ``labels=`` (a sweep's
    ``labels=a,b`` too), and each one an experiment or search file of ``config_dirs`` names (``override /labels:
    mine``), so a broken one of them is still reported before Hydra, and only a draft nobody names is passed over."""
    names = {"korean_peninsula"}
    for a in argv:
        if a.lstrip("+~").startswith("labels="):
            names.update(v.strip() for v in a.split("=", 1)[1].strip("[]").split(",") if v.strip())
    for d in config_dirs:
        for group in ("experiment", "hparams_search"):
            for f in Path(d, group).rglob("*.yaml"):
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    names.update(LABELS_CHOICE_RE.findall(f.read_text(encoding="utf-8-sig")))
    return names


RUN_FILES = ("run_info.json", "metrics.json", "config.yaml")  # what a run writes in its folder, finished first


def taken_run_dir(argv: Sequence[str]) -> str | None:
    """A one-line message for a run folder named on the command line (``paths.output_dir=…``, ``hydra.run.dir=…``)
    that holds a run already; else None. Checked before Hydra, which would write its ``.hydra/`` files into it, and
    the run would then replace the earlier run's config, metrics and model in silence. (``resume=true`` continues
    an interrupted run in that run's folder and still has Hydra write into the one named here; ``resume=FOLDER``
    naming the same folder is the one form that may.)"""
    if any(a in ("-m", "--multirun") for a in argv):
        return None  # a sweep's jobs get their own numbered folders
    pairs = [(k.strip().lstrip("+"), v.strip()) for k, _, v in (a.partition("=") for a in argv if "=" in a)]
    resumed = {Path(v).expanduser().resolve() for k, v in pairs
               if k == "resume" and v.lower() not in ("true", "false", "yes", "no", "1", "0", "")}
    for key, value in pairs:
        if key in ("paths.output_dir", "hydra.run.dir") and value:
            folder = Path(value).expanduser()
            if folder.resolve() in resumed:
                continue
            held = next((f for f in RUN_FILES if (folder / f).is_file()), None)
            if held:
                return (f"'{key}={value}': {folder} holds a run already ({held}); name a new folder (a run there "
                        "would overwrite its config, metrics and model)")
    return None


def sweep_problem(argv: list[str]) -> str | None:
    """A one-line message for a value of a basic sweep (``-m trainer.lr=1e-3,abc``) that ``validate`` refuses,
    found before the first job starts: Hydra composes each job only when it runs it, so a bad value in the last job
    used to stop the sweep after the others had trained. Each value is checked once, with the other sweeps' first
    values (not their product). An Optuna search, or a sweep Hydra's parser reads otherwise, is left to Hydra."""
    if not any(a in ("-m", "--multirun") for a in argv):
        return None
    overrides = [a for a in argv if not a.startswith("-")]
    if any(o.startswith(("hparams_search=", "hydra/sweeper=")) for o in overrides):
        return None
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parsed = [o for o in OverridesParser.create().parse_overrides(overrides)
                  if not o.key_or_group.startswith("hydra")]  # the launcher's settings, not a job's
        # each override as the jobs spell it ("trainer.lr=0.001", "+x=1"); a deletion as written
        options = [[f"~{o.key_or_group}"] if o.is_delete() else
                   [job[0] for batch in BasicSweeper.split_arguments([o], None) for job in batch] for o in parsed]
    except Exception:  # a form this check does not expand (glob, a sweeper plugin's syntax): Hydra's to judge
        return None
    base = [vs[0] for vs in options]
    jobs = [base] + [[*base[:i], v, *base[i + 1:]] for i, vs in enumerate(options) for v in vs[1:]]
    for job in jobs:
        swept = " ".join(o for o, vs in zip(job, options) if len(vs) > 1) or " ".join(job)
        try:
            validate(compose([*job, "paths.output_dir=/tmp/kpstance-sweep-check"]))
        except KpstanceError as e:
            return f"a job of the sweep ({swept}) is refused before any job runs: {e}"
        except Exception:  # composed here without Hydra's run-time settings: its launcher is the judge
            problem = unselected_key(job, _config_dir())  # save a key the job's group option lacks
            return f"a job of the sweep ({swept}) is refused before any job runs: {problem}" if problem else None
    return None


def unselected_key(argv: list[str], config_dir: str | os.PathLike) -> str | None:
    """A one-line message for an override of a key that the schema knows but the group option this run selects
    lacks (``system.ngram_max=2`` with the default transformer system, ``encoder.name_or_path=…`` under
    ``experiment=smoke``, whose encoder is ``tiny_bert``); else None. Hydra's own message is several lines with
    exit code 1. The run's overrides are composed once, without its sweeps; anything else that fails there is
    left to Hydra and ``validate``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import ConfigCompositionException

    plain = []
    for a in argv:
        if a.startswith("-") or "=" not in a or a.startswith(("hydra.", "hydra/")) or "(" in a or "[" in a:
            continue
        key, value = a.split("=", 1)
        plain.append(f"{key}={value.split(',')[0]}")  # a basic sweep: its first job stands for the others
    groups = _config_groups(Path(config_dir))
    if not any(o.lstrip("+").split(".", 1)[0] in groups for o in plain if "." in o.split("=", 1)[0]):
        return None  # no key inside a group's node: nothing for a group option to lack
    register_resolvers()
    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
        try:
            hydra_compose("train", overrides=plain)
            return None
        except ConfigCompositionException as e:
            if "not in struct" not in str(e.__cause__):
                return None
            key = getattr(e.__cause__, "full_key", None)
        except Exception:  # noqa: BLE001 - Hydra's to report
            return None
        group = str(key or "").split(".", 1)[0]
        i = next((i for i, o in enumerate(plain) if o.lstrip("+").split("=", 1)[0].strip() == key), None)
        if i is None or group not in groups:
            return None
        try:
            cfg = hydra_compose("train", overrides=plain[:i] + plain[i + 1:], return_hydra_config=True)
        except Exception:  # noqa: BLE001
            return None
    choice = cfg.hydra.runtime.choices.get(group)
    node = OmegaConf.select(cfg, key.rsplit(".", 1)[0]) if "." in key else None
    keys = ", ".join(str(k) for k in node.keys()) if node is not None and OmegaConf.is_dict(node) else "none"
    bad = next(a for a in argv if a.lstrip("+").split("=", 1)[0].strip() == key)
    return (f"'{bad}': the {group} option of this run, '{choice}', has no key '{key.rsplit('.', 1)[-1]}' "
            f"(its keys here: {keys}; select an option of '{group}' that has it with {group}=…)")


def unknown_override(overrides: list[str], config_dir: str | os.PathLike) -> str | None:
    """A one-line message for a command-line override whose key the schema does not know (``foo=1``,
    ``trainer.learning_rate=…``) or whose config group has no such option (``experiment=smokee``), naming the
    nearest valid names; else None. Hydra's own messages for these are several lines with exit code 1.

    Left to Hydra: ``+key=…`` and ``++key=…`` (adding a key; ``validate`` still checks it), ``~key`` deletions,
    ``hydra.*`` and ``hydra/…`` settings, ``key@package`` forms, and sweep functions such as ``choice(…)``.
    """
    groups = _config_groups(Path(config_dir), extra_config_dirs(overrides))
    keys = schema_keys()
    for o in overrides:
        if o.startswith(("-", "+", "~")) or "=" not in o:
            continue
        key, value = o.split("=", 1)
        key = key.strip()
        if key == "hydra" or key.startswith(("hydra.", "hydra/")) or "@" in key:
            continue
        if key in groups:
            if "(" in value or value.startswith("["):
                continue
            options = groups[key]
            for v in (x.strip() for x in value.split(",")):
                if v not in options and v != "null":
                    shown = [x for x in options if not x.startswith("base_")]  # schemas the YAML options build on
                    near = _nearest(v, shown)
                    hint = f"nearest: {', '.join(near)}" if near else f"options: {', '.join(shown)}"
                    return f"'{o}': config group '{key}' has no option '{v}' ({hint})"
            continue
        if key in keys or any(key.startswith(k + ".") for k in OPEN_KEYS):
            continue
        near = _nearest(key, sorted(keys | set(groups)))
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        siblings = sorted(k.rpartition(".")[2] for k in keys if parent and k.rpartition(".")[0] == parent)
        if near:
            hint = f"nearest: {', '.join(near)}"
        elif siblings:
            hint = f"keys of {parent}: {', '.join(siblings)}"
        else:
            hint = f"top-level keys: {', '.join(sorted(k for k in keys | set(groups) if '.' not in k))}"
        return f"'{o}': unknown config key '{key}' ({hint})"
    return None
