"""Baselines scored by the same evaluation on the same folds: majority class, TF-IDF + logistic regression, SetFit.

Each has ``fit(texts, actors, stances)`` and ``predict(texts)`` returning the same dicts as
StancePredictor, so the pipeline treats them like the fine-tuned model. (The rules baseline
needs no training: the pipeline uses the silver labels directly.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..errors import MissingExtra


def _row(actor: str, stance: str, pa: dict[str, float], ps: dict[str, float]) -> dict:
    return {"actor": actor, "stance": stance, "actor_score": round(pa.get(actor, 1.0), 6),
            "stance_score": round(ps.get(stance, 1.0), 6), "actor_probs": pa, "stance_probs": ps}


class MajorityBaseline:
    """Always the most frequent actor and stance of the training labels."""

    def fit(self, texts: Sequence[str], actors: Sequence[str], stances: Sequence[str]) -> MajorityBaseline:
        ca, cs = Counter(actors), Counter(stances)
        # ties broken by label name, so the result never depends on input order
        self.actor = min(ca, key=lambda a: (-ca[a], a))
        self.stance = min(cs, key=lambda s: (-cs[s], s))
        self.pa = {a: round(c / len(actors), 6) for a, c in ca.items()}
        self.ps = {s: round(c / len(stances), 6) for s, c in cs.items()}
        return self

    def predict(self, texts: Sequence[str], batch_size: int = 0) -> list[dict]:
        return [_row(self.actor, self.stance, self.pa, self.ps) for _ in texts]


class TfidfBaseline:
    """TF-IDF word and character n-grams with one logistic regression per label group."""

    def __init__(self, ngram_max: int = 2, c: float = 4.0, seed: int = 0) -> None:
        self.ngram_max, self.c, self.seed = ngram_max, c, seed

    def _clf(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        feats = make_union(
            TfidfVectorizer(ngram_range=(1, self.ngram_max), sublinear_tf=True, lowercase=False),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        )
        return make_pipeline(feats, LogisticRegression(C=self.c, max_iter=2000, random_state=self.seed))

    def fit(self, texts: Sequence[str], actors: Sequence[str], stances: Sequence[str]) -> TfidfBaseline:
        self.models = {}
        for group, y in (("actor", actors), ("stance", stances)):
            if len(set(y)) == 1:  # one class only: logistic regression cannot fit it
                self.models[group] = MajorityBaseline().fit(texts, y, y)
            else:
                self.models[group] = self._clf().fit(list(texts), list(y))
        return self

    def _group(self, group: str, texts: Sequence[str]) -> list[tuple[str, dict[str, float]]]:
        m = self.models[group]
        if isinstance(m, MajorityBaseline):
            return [(m.actor, m.pa)] * len(texts)
        proba = m.predict_proba(list(texts))
        classes = list(m.classes_)
        return [(classes[int(p.argmax())], {c: round(float(v), 6) for c, v in zip(classes, p)}) for p in proba]

    def predict(self, texts: Sequence[str], batch_size: int = 0) -> list[dict]:
        if not texts:
            return []
        return [_row(a, s, pa, ps) for (a, pa), (s, ps) in zip(self._group("actor", texts), self._group("stance", texts))]


class SetFitBaseline:
    """SetFit (contrastive sentence-transformer fine-tuning + logistic head) on the packaged MiniLM, one per group."""

    def __init__(self, model_path: str, iterations: int = 5, epochs: int = 1, batch_size: int = 32, seed: int = 0) -> None:
        self.check_installed()
        self.model_path, self.iterations, self.epochs, self.batch_size, self.seed = model_path, iterations, epochs, batch_size, seed

    @staticmethod
    def check_installed() -> None:
        try:
            import setfit  # noqa: F401
        except ImportError:
            raise MissingExtra(
                "baseline_setfit needs the optional package setfit (pip install 'kpstance[setfit]'); skipped"
            ) from None

    def fit(self, texts: Sequence[str], actors: Sequence[str], stances: Sequence[str]) -> SetFitBaseline:
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments

        self.models = {}
        for group, y in (("actor", actors), ("stance", stances)):
            model = SetFitModel.from_pretrained(self.model_path, local_files_only=True)
            args = TrainingArguments(num_iterations=self.iterations, num_epochs=self.epochs,
                                     batch_size=self.batch_size, seed=self.seed, report_to="none")
            Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": list(texts), "label": list(y)})).train()
            self.models[group] = model
        return self

    def predict(self, texts: Sequence[str], batch_size: int = 0) -> list[dict]:
        if not texts:
            return []
        out = {}
        for group, m in self.models.items():
            proba = m.predict_proba(list(texts)).numpy()
            labels = list(m.labels) if m.labels else [str(c) for c in m.model_head.classes_]
            out[group] = [(labels[int(p.argmax())], {c: round(float(v), 6) for c, v in zip(labels, p)}) for p in proba]
        return [_row(a, s, pa, ps) for (a, pa), (s, ps) in zip(out["actor"], out["stance"])]
