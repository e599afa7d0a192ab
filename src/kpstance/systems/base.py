"""One interface for every model the project scores: ``fit(units, labels)`` and ``predict(units)``.

A System receives units (text with its kind, section and the speaker the segmenter carried),
never bare strings, so that a system can read context without the pipeline changing. Its
predictions are dicts with ``actor``, ``stance``, ``actor_score``, ``stance_score`` and the
two probability distributions ``actor_probs`` and ``stance_probs``.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..errors import KpstanceError
from ..text.segment import Unit
from ..weak.scheme import LabelScheme

log = logging.getLogger("kpstance")
Labels = Sequence[tuple[str, str]]  # (actor, stance) per unit


class System(ABC):
    trainable: ClassVar[bool] = True  # fit learns from the labels (the rules do not)
    saveable: ClassVar[bool] = False  # can be saved as a model folder

    def __init__(self, cfg: Any, scheme: LabelScheme, seed: int) -> None:
        self.cfg, self.scheme, self.seed = cfg, scheme, seed

    @classmethod
    def check_available(cls, cfg: Any) -> None:
        """Refuse, before anything is written, a system that cannot run here (missing extra, no GPU)."""
        return None

    @abstractmethod
    def fit(self, units: Sequence[Unit], labels: Labels, *, description: str = "train",
            checkpoint_dir: Path | None = None) -> System:
        """Learn from ``units`` and their (actor, stance) ``labels``; resumable where ``checkpoint_dir`` is given."""

    @abstractmethod
    def predict(self, units: Sequence[Unit]) -> list[dict]:
        """One prediction dict per unit, in order."""

    def save(self, folder: Path) -> None:
        """Write the fitted model into ``folder`` (only for saveable systems)."""
        raise KpstanceError(f"system '{self.cfg.system.name}' cannot be saved as a model folder")

    def meta(self) -> dict:
        """What the model folder's kpstance.json records about this system beyond labels and run."""
        return {}

    def describe(self) -> str:
        """One line for the model card: what this system is."""
        return str(self.cfg.system.name)


def fit_fresh(cfg: Any, scheme: LabelScheme, units: Sequence[Unit], labels: Labels, description: str,
              checkpoint_dir: Path | None = None) -> System:
    """A new system of ``cfg.system``, seeded (the same initial weights whatever ran before) and fitted."""
    from .finetune import seed_everything
    from .registry import make_system

    if len(units) != len(labels):
        raise KpstanceError(f"{description}: {len(units)} units but {len(labels)} labels")
    seed_everything(int(cfg.seed), cfg.trainer.deterministic)
    system = make_system(cfg, scheme, int(cfg.seed))
    t0 = time.perf_counter()
    system.fit(units, labels, description=description, checkpoint_dir=checkpoint_dir)
    if system.trainable:
        log.info("%s: %s fitted on %d examples in %.1fs", description, cfg.system.name, len(units),
                 time.perf_counter() - t0)
    return system


def prediction(actor: str, stance: str, pa: dict[str, float], ps: dict[str, float]) -> dict:
    """A prediction dict from two distributions (a label missing from one scores 1.0)."""
    return {"actor": actor, "stance": stance, "actor_score": round(pa.get(actor, 1.0), 6),
            "stance_score": round(ps.get(stance, 1.0), 6), "actor_probs": pa, "stance_probs": ps}
