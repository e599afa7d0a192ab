"""Baseline systems scored by the same evaluation on the same folds: the rules alone, the majority
class, TF-IDF + logistic regression, and SetFit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingExtra
from ..text.segment import Unit
from .base import Labels, System, prediction


class RulesSystem(System):
    """The weak labeller alone: nothing to train; predicts the aggregated rule labels."""

    trainable = False

    def fit(self, units: Sequence[Unit], labels: Labels, *, description: str = "train",
            checkpoint_dir: Path | None = None) -> RulesSystem:
        return self

    def predict(self, units: Sequence[Unit]) -> list[dict]:
        from ..weak.label import label_units

        r = self.cfg.rules
        silver = label_units(units, self.scheme, list(r.actor_lfs), list(r.stance_lfs), str(r.aggregator))
        return [{"actor": s.actor, "stance": s.stance, "actor_score": 1.0, "stance_score": 1.0,
                 "actor_probs": {s.actor: 1.0}, "stance_probs": {s.stance: 1.0}} for s in silver]


class MajoritySystem(System):
    """Always the most frequent actor and stance of the training labels."""

    def fit(self, units: Sequence[Unit], labels: Labels, *, description: str = "train",
            checkpoint_dir: Path | None = None) -> MajoritySystem:
        self.actor, self.pa = _majority([a for a, _ in labels])
        self.stance, self.ps = _majority([s for _, s in labels])
        return self

    def predict(self, units: Sequence[Unit]) -> list[dict]:
        return [prediction(self.actor, self.stance, self.pa, self.ps) for _ in units]


def _majority(y: Sequence[str]) -> tuple[str, dict[str, float]]:
    """The most frequent label (ties broken by name, so the result never depends on input order) and the shares."""
    c = Counter(y)
    return min(c, key=lambda a: (-c[a], a)), {a: round(n / len(y), 6) for a, n in c.items()}


class _PerGroup(System):
    """A classifier per label group (actor, stance) on the unit texts; one class only: its majority."""

    def _fit_group(self, texts: list[str], y: list[str]) -> Any:
        raise NotImplementedError

    def _proba(self, model: Any, texts: list[str]) -> tuple[list[str], Any]:
        raise NotImplementedError

    def fit(self, units: Sequence[Unit], labels: Labels, *, description: str = "train",
            checkpoint_dir: Path | None = None) -> System:
        texts = [u.text for u in units]
        self.models: dict[str, Any] = {}
        for g, y in (("actor", [a for a, _ in labels]), ("stance", [s for _, s in labels])):
            self.models[g] = _majority(y) if len(set(y)) == 1 else self._fit_group(texts, y)
        return self

    def _group(self, g: str, texts: list[str]) -> list[tuple[str, dict[str, float]]]:
        m = self.models[g]
        if isinstance(m, tuple):
            return [m] * len(texts)
        classes, proba = self._proba(m, texts)
        return [(classes[int(p.argmax())], {c: round(float(v), 6) for c, v in zip(classes, p)}) for p in proba]

    def predict(self, units: Sequence[Unit]) -> list[dict]:
        texts = [u.text for u in units]
        if not texts:
            return []
        return [prediction(a, s, pa, ps) for (a, pa), (s, ps) in zip(self._group("actor", texts),
                                                                     self._group("stance", texts))]


class TfidfSystem(_PerGroup):
    """TF-IDF word and character n-grams with one logistic regression per label group."""

    def _fit_group(self, texts: list[str], y: list[str]) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        feats = make_union(
            TfidfVectorizer(ngram_range=(1, self.cfg.system.ngram_max), sublinear_tf=True, lowercase=False),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        )
        clf = LogisticRegression(C=self.cfg.system.c, max_iter=2000, random_state=self.seed)
        return make_pipeline(feats, clf).fit(texts, y)

    def _proba(self, model: Any, texts: list[str]) -> tuple[list[str], Any]:
        return list(model.classes_), model.predict_proba(texts)


class SetFitSystem(_PerGroup):
    """SetFit (contrastive sentence-transformer fine-tuning + logistic head) on the encoder, one per group."""

    @classmethod
    def check_available(cls, cfg: Any) -> None:
        from ..errors import KpstanceError

        try:
            import setfit  # noqa: F401
        except ImportError:
            raise MissingExtra(
                "baseline_setfit needs the optional package setfit (pip install 'kpstance[setfit]'); skipped"
            ) from None
        if "name_or_path" not in cfg.encoder:
            raise KpstanceError(f"system=setfit needs a pretrained encoder (encoder=minilm), not '{cfg.encoder.kind}'")

    def _fit_group(self, texts: list[str], y: list[str]) -> Any:
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments

        from .encoder import resolve_model_path

        model = SetFitModel.from_pretrained(resolve_model_path(self.cfg.encoder.name_or_path), local_files_only=True)
        args = TrainingArguments(num_iterations=self.cfg.system.iterations, num_epochs=self.cfg.trainer.epochs,
                                 batch_size=self.cfg.trainer.batch_size, seed=self.seed, report_to="none")
        Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts, "label": y})).train()
        return model

    def _proba(self, model: Any, texts: list[str]) -> tuple[list[str], Any]:
        labels = list(model.labels) if model.labels else [str(c) for c in model.model_head.classes_]
        return labels, model.predict_proba(texts).numpy()
