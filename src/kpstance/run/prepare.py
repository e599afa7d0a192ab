"""The prepare stage: validate the config, claim the run folder (or the interrupted one), load the article and gold."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..corpora import GoldCorpus, load_corpora
from ..errors import KpstanceError
from ..eval.cv import groups
from ..systems.finetune import dist_rank_world
from ..systems.precision import ENV as PRECISION_ENV
from ..systems.precision import env_training_precision
from ..systems.registry import system_class
from ..text.read import read_article
from ..text.segment import Unit, segment_article
from ..weak.scheme import LabelScheme, load_scheme
from ..weak.synthetic import Generator
from .resume import check_same_config, find_resume_dir, without_run_keys

log = logging.getLogger("kpstance")


@dataclass
class Run:
    """Everything the later stages share about one run."""

    cfg: Any
    resolved: str  # the config saved with the run and the model
    out_dir: Path
    main: bool  # rank 0 (or a single process): evaluates, writes, saves and tracks
    scheme: LabelScheme
    units: list[Unit]  # the article's units, labelled by the rules and trained on
    corpora: list[GoldCorpus]  # every gold corpus: the article's own gold first, then the held-out ones
    t_start: float = field(default_factory=time.perf_counter)
    # the code the run started from (its commit, and whether the tree had changes then): an edit made while it
    # trains is not what ran
    git: tuple[str, bool | None] = ("unknown", None)

    @property
    def ckpt(self) -> Path:
        return self.out_dir / "checkpoints"


def prepare(cfg: Any) -> Run:
    """Validate, refuse what cannot run here before anything is written, then claim the run folder."""
    from omegaconf import OmegaConf

    from ..config import validate

    t_start = time.perf_counter()
    cfg = validate(cfg)
    system_class(str(cfg.system.name)).check_available(cfg)
    if cfg.logger.name == "mlflow":  # a damaged store or a missing folder, found before training, not after it
        db = Path(str(cfg.logger.db_path))
        if db.exists():
            from ..track.store import check_store

            check_store(db)
        elif not db.parent.is_dir():
            raise KpstanceError("config key 'logger.db_path': its folder does not exist", db.parent)
    rank, world = dist_rank_world()
    main = rank == 0  # under torchrun every rank trains; only rank 0 evaluates, writes, logs and saves
    out_dir = Path(cfg.paths.output_dir)
    if cfg.resume:
        if world > 1:
            raise KpstanceError("resume runs in one process; start it without torchrun")
        out_dir = find_resume_dir(cfg)
        log.info("resuming the run in %s", out_dir)
    env = env_training_precision()
    if env and str(getattr(cfg.trainer.precision, "value", cfg.trainer.precision)) == "auto":
        cfg.trainer.precision = env  # the environment chose it: the saved config and the tracked params say so
        log.info("trainer.precision=%s from $%s", env, PRECISION_ENV)
    resolved = OmegaConf.to_yaml(without_run_keys(cfg), resolve=True)
    scheme = load_scheme(cfg.labels, labels_source(cfg))
    teacher = cfg.data.get("teacher") or {}
    if int(cfg.data.synthetic.n or 0) > 0 or int(teacher.get("pool_synthetic") or 0) > 0:
        Generator(cfg.data.synthetic.templates, scheme)  # a template file's errors before the run folder is made
    units = load_units(cfg)
    corpora = load_corpora(cfg, scheme, units)
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if cfg.resume:
            check_same_config(out_dir, resolved)
        (out_dir / "config.yaml").write_text(resolved, encoding="utf-8")
    if world > 1:
        log.info("data-parallel training: rank %d of %d", rank, world)
    threads = torch_threads(cfg)
    if threads:
        import torch

        torch.set_num_threads(threads)
        log.info("torch threads: %d", threads)
    log.info("%d units, %d sections, %d gold labels", len(units), len(groups(units)), len(corpora[0].records))
    from ..track.store import git_commit, git_dirty

    code = code_checkout(cfg.paths.root_dir)
    commit = git_commit(code)
    return Run(cfg, resolved, out_dir, main, scheme, units, corpora, t_start,
               (commit, git_dirty(code) if commit != "unknown" else None))


def code_checkout(root: str | os.PathLike) -> Path:
    """The checkout whose commit describes the code that runs: the one ``kpstance`` is imported from (an editable
    install's ``src/`` lies in it), else the project folder. A virtual environment installed from another checkout
    trains that checkout's code, whatever folder the run is started in: said in a warning."""
    from ..track.store import git_commit

    package = Path(__file__).resolve().parents[1]  # .../src/kpstance
    code = package.parents[1] if package.parent.name == "src" else Path(root)
    if git_commit(code) == "unknown":
        return Path(root)
    if code.resolve() != Path(root).resolve():
        log.warning("the kpstance code that runs is imported from %s, not from the project folder %s: the run "
                    "records that checkout's commit", package, root)
    return code


def torch_threads(cfg: Any) -> int | None:
    """``trainer.num_threads``; unset, under submitit's local executor, the launcher's ``cpus_per_task``. That
    executor starts every job of a sweep at once on one machine and does not enforce ``cpus_per_task``: each job's
    torch would take every core, and jobs that spin against each other train slower together than one after the
    other (two smoke jobs with the folds on two cores: 55 s, against 25 s with one thread each). None leaves torch's
    default."""
    if cfg.trainer.num_threads:
        return int(cfg.trainer.num_threads)
    if os.environ.get("SUBMITIT_EXECUTOR") != "local":
        return None
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    cpus = HydraConfig.get().launcher.get("cpus_per_task")
    return int(cpus) if cpus else None


def load_units(cfg: Any) -> list[Unit]:
    units: list[Unit] = []
    for art in cfg.data.articles:
        units += segment_article(read_article(art.path), art.id, cfg.data.language)
    return units


def labels_source(cfg: Any) -> str:
    """The label YAML the composed ``labels`` group came from, for error messages with lines: the first folder of
    Hydra's search path that holds it (``--config-dir`` included), as Hydra itself picks it."""
    try:
        from hydra.core.hydra_config import HydraConfig

        runtime = HydraConfig.get().runtime
        choice, sources = runtime.choices.get("labels"), runtime.config_sources
    except (ImportError, ValueError):
        choice, sources = None, []
    name = f"labels/{choice or cfg.labels.get('name', 'korean_peninsula')}.yaml"
    for source in sources:
        if source.schema == "file" and (Path(source.path) / name).is_file():
            return str(Path(source.path) / name)
    return f"{cfg.paths.config_dir}/{name}"
