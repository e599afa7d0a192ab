"""A run's evaluation over every gold corpus it holds: the corpus it trains on (scored unit by unit as seen by the
rules, by cross-validation and by the final model) and the held-out corpora (dev and test sentences and whole
articles, model and rules, the model calibrated on the first of them). Collects the metrics in the order
``metrics.json`` keeps, the per-unit rows and the tables of ``report.json``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..corpora import GoldCorpus
from ..files import write_jsonl
from ..text.segment import Unit
from ..weak.scheme import LabelScheme
from .metrics import score
from .report import write_reports
from .score import Scorer

log = logging.getLogger("kpstance")


class Metrics(dict):
    """metrics.json as it grows: each key is written once, so that one corpus's or system's figures can never
    silently overwrite another's (two corpora whose keys collide are a bug, refused at once)."""

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self:
            raise ValueError(f"metric key '{key}' written twice")
        super().__setitem__(key, value)

    def update(self, other: Any = (), /, **kw: Any) -> None:  # type: ignore[override]
        for key, value in dict(other, **kw).items():
            self[key] = value


class Evaluation:
    """Scores systems on a run's corpora; ``metrics`` grows in the order the stages call it."""

    def __init__(self, corpora: Sequence[GoldCorpus], units: Sequence[Unit], scheme: LabelScheme) -> None:
        self.scheme, self.units = scheme, list(units)
        seen = [c for c in corpora if not c.held_out]
        self.gold: dict[str, dict] = seen[0].by_id if seen else {}  # the gold of the units the run labels and trains on
        self.scorers = [Scorer(c, scheme) for c in corpora if c.held_out]
        self.metrics = Metrics()
        self.systems: dict[str, dict[str, tuple[str, str]]] = {}  # seen-corpus predictions tabled in report.json
        self.swap_rows: list[dict] = []  # each swapped copy with both predictions (swap_predictions.jsonl)
        g = self.gold
        self.rows = {u.id: {"id": u.id, "text": u.text, "section": u.section, "kind": u.kind,
                            "gold_actor": g[u.id]["actor"], "gold_stance": g[u.id]["stance"],
                            "phenomena": g[u.id].get("phenomena", [])} for u in self.units}

    @property
    def held_out(self) -> bool:
        return bool(self.scorers)

    @property
    def reference(self) -> Scorer | None:
        """The first held-out corpus that may calibrate the model (not a contrast set): its dev split fits the
        temperatures and judges the labeling functions."""
        return next((s for s in self.scorers if s.corpus.calibrates), None)

    def seen(self, name: str, prefix: str, preds: Mapping[str, Mapping[str, Any]], fields: Sequence[str] = (),
             table: bool = True) -> None:
        """Score predictions of the trained-on units (by id) as ``{prefix}*``; ``fields`` of each go to its row as
        ``{name}_{field}`` (after actor and stance); with ``table``, per-class tables in report.json."""
        pairs = [(self.gold[u.id]["actor"], self.gold[u.id]["stance"]) for u in self.units]
        self.metrics.update(score(pairs, [(preds[u.id]["actor"], preds[u.id]["stance"]) for u in self.units],
                                  self.scheme, prefix))
        for u in self.units:
            p = preds[u.id]
            self.rows[u.id].update({f"{name}_{k}": p[k] for k in ("actor", "stance", *fields)})
        if table:
            self.systems[name] = {u.id: (preds[u.id]["actor"], preds[u.id]["stance"]) for u in self.units}

    def calibrate(self, system: Any, out_dir: Path | None) -> None:
        """One temperature per head, fitted on the first held-out corpus's dev split (keys after its prefix)."""
        s = self.reference
        if s is not None and hasattr(system, "temperature"):
            self.metrics.update(s.calibrate(system, out_dir, s.corpus.prefix))

    def held_out_scores(self, model: Any, rules: Any) -> None:
        """Model and rules on each held-out corpus: ``{prefix}dev_*``, ``rules_{prefix}test_*``, … and its own keys."""
        for s in self.scorers:
            self.metrics.update(s.score("model", s.corpus.prefix, model))
            self.metrics.update(s.score("rules", f"rules_{s.corpus.prefix}", rules))
            self.metrics.update(s.corpus.info)

    def swap_scores(self, model: Any, rules: Any, train_labels: Sequence[tuple[str, str]] | None,
                    swap: bool = True) -> None:
        """The counterfactual speaker-swap test (``eval.swap``) of model and rules on each held-out corpus's dev and
        test sentences and whole articles, then the counter-prior slice of its test and dev splits
        (``train_labels``: the final model's training labels, swapped and alias-varied copies excluded). Its keys come
        after every other key. ``swap=False`` (``evaluation.swap``): the counter-prior slice alone."""
        from ..weak.swap import Swapper
        from .swap import counter_prior, counter_scores, sentence_test, swap_articles_test

        rare = counter_prior(train_labels, self.scheme) if train_labels else None
        if rare:
            log.info("counter-prior pairs (under a quarter of the actor's training units): %s",
                     ", ".join(f"{a}/{s}" for a, s in sorted(rare)))
        systems = [(name, system) for name, system in (("model", model), ("rules", rules)) if system is not None]
        swapped = systems if swap else []
        swapper = Swapper(self.scheme) if swap else None  # one fixed seed: every run is tested on the same copies
        for s in self.scorers:
            c = s.corpus
            for name, system in swapped:
                prefix = f"{'rules_' if name == 'rules' else ''}{c.prefix}"  # as held_out_scores names them
                for split in ("dev", "test"):
                    if c.split(split):
                        res = sentence_test(system, c.split(split), swapper, s.predict(system, split))
                        self._swap(res, f"{prefix}{split}_{c.infix}", name, c.name, split)
                for split in ("dev", "test"):
                    if c.articles_of(split):
                        res = swap_articles_test(system, c.articles_of(split), swapper, self.scheme, s.language)
                        self._swap(res, f"{prefix}{split}_{c.infix}articles_", name, c.name, f"{split}_articles")
            for split in ("test", "dev"):  # test first: the keys of earlier runs keep their place
                if rare is not None and c.split(split):
                    for name, system in systems:
                        prefix = f"{'rules_' if name == 'rules' else ''}{c.prefix}"
                        self.metrics.update(counter_scores(c.split(split), s.predict(system, split), rare,
                                                           self.scheme, f"{prefix}{split}_{c.infix}"))

    def _swap(self, res: Any, prefix: str, system: str, corpus: str, split: str) -> None:
        self.metrics.update(res.metrics(prefix, self.scheme))
        self.swap_rows += [{"corpus": corpus, "split": split, "system": system, **r} for r in res.rows]

    def write(self, out_dir: Path, plots: bool) -> None:
        write_reports(out_dir, self.scheme, self.rows, self.gold, self.systems, plots,
                      {s.corpus.name: s for s in self.scorers})
        if self.swap_rows:
            write_jsonl(out_dir / "swap_predictions.jsonl", self.swap_rows)
