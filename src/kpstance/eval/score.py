"""Scoring a fitted system on a held-out gold corpus: its dev and test sentences, each read alone, and its
whole articles segmented as ``kpstance predict ARTICLE.txt`` does; calibration on its dev split. The corpus
is given (``kpstance.corpora``): nothing here reads a file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..corpora import GoldCorpus, match_article, sentence_units
from ..weak.scheme import LabelScheme
from .metrics import per_class, per_phenomenon, score

MISSING = "(not segmented)"  # the prediction of a gold unit the segmenter did not produce


class Scorer:
    """Scores systems on one held-out gold corpus; collects the report and the per-unit predictions."""

    def __init__(self, corpus: GoldCorpus, scheme: LabelScheme, language: str | None = None) -> None:
        self.corpus, self.scheme, self.language = corpus, scheme, language or corpus.language
        self.report: dict[str, Any] = {}
        self.rows: dict[str, dict] = {}
        self._predictions: dict[tuple[int, str], list[dict]] = {}  # (system, split): each split predicted once

    def predict(self, system: Any, split: str) -> list[dict]:
        key = (id(system), split)
        if key not in self._predictions:
            self._predictions[key] = system.predict(sentence_units(self.corpus.split(split)))
        return self._predictions[key]

    def _record(self, key: str, gold: Mapping[str, dict], pred: Mapping[str, tuple[str, str]]) -> None:
        ids = list(gold)
        s = self.scheme
        self.report[key] = {
            "actor": per_class([gold[i]["actor"] for i in ids], [pred[i][0] for i in ids], s.actor_labels),
            "stance": per_class([gold[i]["stance"] for i in ids], [pred[i][1] for i in ids], s.stance_labels),
            "phenomena": per_phenomenon(gold, pred),
        }

    def score(self, name: str, prefix: str, system: Any) -> dict[str, float]:
        """``{prefix}dev_*``, ``{prefix}test_*``, ``{prefix}dev_articles_*`` and ``{prefix}test_articles_*`` for one
        fitted system (the corpus's infix after the split: ``test_contrast_*``), and for a contrast set the share of
        pairs whose members both get their gold stance (``*_pair_accuracy``)."""
        out: dict[str, float] = {}
        for split in ("dev", "test"):
            recs = self.corpus.split(split)
            if not recs:
                continue
            preds = self.predict(system, split)
            gold = {r["id"]: r for r in recs}
            pred = {r["id"]: (p["actor"], p["stance"]) for r, p in zip(recs, preds)}
            key = f"{prefix}{split}_{self.corpus.infix}"
            out.update(score([(r["actor"], r["stance"]) for r in recs], list(pred.values()), self.scheme, key))
            out.update(pair_scores(recs, pred, key))
            self._record(f"{split}/{name}", gold, pred)
            for r, p in zip(recs, preds):
                row = self.rows.setdefault(r["id"], {"id": r["id"], "split": split, "text": r["text"],
                                                     "gold_actor": r["actor"], "gold_stance": r["stance"],
                                                     "phenomena": r["phenomena"]})
                row.update({f"{name}_actor": p["actor"], f"{name}_stance": p["stance"],
                            f"{name}_actor_score": p["actor_score"], f"{name}_stance_score": p["stance_score"]})
        for split in ("dev", "test"):
            out.update(self.score_articles(name, prefix, system, split))
        return out

    def _matrix(self, preds: Sequence[dict], head: str, labels: Sequence[str] | None = None) -> Any:
        import numpy as np

        labels = labels or (self.scheme.actor_labels if head == "actor" else self.scheme.stance_labels)
        return np.array([[p[f"{head}_probs"].get(lab, 0.0) for lab in labels] for p in preds], dtype=float)

    def _gold_index(self, recs: Sequence[dict], head: str) -> list[int]:
        labels = self.scheme.actor_labels if head == "actor" else self.scheme.stance_labels
        return [labels.index(r[head]) for r in recs]

    def calibrate(self, system: Any, out_dir: Path | None, prefix: str = "") -> dict[str, float]:
        """Fit one temperature per head on dev; ECE on test before (``*_ece_raw``) and after; reliability
        diagrams of test; and the ``--min-score`` thresholds that keep the most confident 80 % and 90 % of dev
        units, with the share of test units each keeps and their joint accuracy (keys after ``prefix``)."""
        from .calibration import ece, fit_temperature, keep_threshold, reliability_diagram, scale

        dev, test = self.corpus.split("dev"), self.corpus.split("test")
        if not dev or not test:
            return {}
        raw_dev, raw_test = self.predict(system, "dev"), self.predict(system, "test")
        out: dict[str, float] = {}
        temps = {}
        for head in ("actor", "stance"):
            t = fit_temperature(self._matrix(raw_dev, head), self._gold_index(dev, head))
            temps[head] = t
            raw = self._matrix(raw_test, head)
            y = self._gold_index(test, head)
            cal = scale(raw, t)
            out[f"{head}_temperature"] = t
            out[f"{prefix}test_{head}_ece_raw"] = ece(raw, y)
            out[f"{prefix}test_{head}_ece"] = ece(cal, y)
            if out_dir is not None:
                reliability_diagram({"raw": (raw, y), f"calibrated (T={t:.2f})": (cal, y)},
                                    f"{head}, multi-source test", out_dir / f"reliability_{head}.png")
        system.temperature = temps
        for split, raw in (("dev", raw_dev), ("test", raw_test)):  # what the calibrated system would predict
            self._predictions[(id(system), split)] = [self._rescaled(p, temps) for p in raw]
        # temperature changes no argmax: the calibrated scores are the raw ones rescaled, no second prediction.
        # The threshold is chosen on dev (to keep its most confident share) and rounded down to the 3 decimals a
        # user types; test reports what it keeps there and how accurate that is, as `--min-score` would
        def lower_score(raw: Sequence[dict]) -> list[float]:
            conf = [scale(self._matrix(raw, h), temps[h]).max(axis=1) for h in ("actor", "stance")]
            return [min(a, b) for a, b in zip(*conf)]

        dev_min, test_min = lower_score(raw_dev), lower_score(raw_test)
        correct = [(p["actor"], p["stance"]) == (r["actor"], r["stance"]) for p, r in zip(raw_test, test)]
        for keep in (80, 90):
            thr = keep_threshold(dev_min, keep / 100)
            kept = [c for s, c in zip(test_min, correct) if s >= thr]
            out[f"{prefix}test_confident{keep}_min_score"] = thr
            out[f"{prefix}test_confident{keep}_coverage"] = round(len(kept) / len(correct), 6)
            if kept:  # a figure not measured is left out, never 0
                out[f"{prefix}test_confident{keep}_joint_accuracy"] = round(sum(kept) / len(kept), 6)
        return out

    def _rescaled(self, pred: dict, temps: Mapping[str, float]) -> dict:
        """A prediction's scores after temperature scaling (the labels stay: scaling changes no argmax)."""
        from .calibration import scale

        out = dict(pred)
        for head, t in temps.items():
            labels = list(pred[f"{head}_probs"])
            probs = scale(self._matrix([pred], head, labels), t)[0]
            out[f"{head}_probs"] = {lab: float(v) for lab, v in zip(labels, probs)}
            out[f"{head}_score"] = out[f"{head}_probs"][pred[head]]
        return out

    def score_articles(self, name: str, prefix: str, system: Any, split: str = "test") -> dict[str, float]:
        """Whole articles of a split: segmented as ``kpstance predict`` does, every gold unit scored (a unit the
        segmenter missed counts as wrong), and the recovery per wire format."""
        arts = self.corpus.articles_of(split)
        if not arts:
            return {}
        gold: dict[str, dict] = {}
        pred: dict[str, tuple[str, str]] = {}
        recovered: Counter[str] = Counter()
        total: Counter[str] = Counter()
        extra = 0
        for a in arts:
            units = a.units(self.language)
            matched, n_extra = match_article(a, units)
            extra += n_extra
            # every unit the segmenter gives is predicted, as `kpstance predict` reads the article: the speaker a
            # quote's context carries may come from a unit no gold unit matches
            by_unit = dict(zip((u.id for u in units), system.predict(list(units))))
            for g, u in zip(a.gold, matched):
                gold[g["id"]] = g
                p = by_unit.get(u.id) if u is not None else None
                pred[g["id"]] = (p["actor"], p["stance"]) if p else (MISSING, MISSING)
                total[a.format] += 1
                recovered[a.format] += u is not None
        out = score([(g["actor"], g["stance"]) for g in gold.values()], list(pred.values()), self.scheme,
                    f"{prefix}{split}_articles_")
        out[f"{prefix}{split}_articles_recovered"] = round(sum(recovered.values()) / sum(total.values()), 6)
        out[f"{prefix}{split}_articles_extra_units"] = extra
        self._record(f"{split}_articles/{name}", gold, pred)
        self.report[f"{split}_articles/{name}"]["recovered_by_format"] = {
            f: {"gold_units": total[f], "recovered": recovered[f]} for f in sorted(total)}
        return out


def pair_scores(recs: Sequence[Mapping[str, Any]], pred: Mapping[str, tuple[str, str]], key: str) -> dict[str, float]:
    """Minimal pairs (records sharing a ``pair_id``: one actor and topic, opposite directions of a step): the share
    whose members all get their gold stance, ``{key}pair_accuracy``, over ``{key}pairs`` pairs; nothing without pairs."""
    pairs: dict[str, list[bool]] = {}
    for r in recs:
        if r.get("pair_id"):
            pairs.setdefault(str(r["pair_id"]), []).append(pred[r["id"]][1] == r["stance"])
    if not pairs:
        return {}
    return {f"{key}pair_accuracy": round(sum(all(v) for v in pairs.values()) / len(pairs), 6), f"{key}pairs": len(pairs)}


def recovery_by_format(corpus: GoldCorpus, language: str | None = None) -> dict[str, dict[str, int]]:
    """Gold units the segmenter recovers, per wire format, over every article of the corpus."""
    out: dict[str, dict[str, int]] = {}
    for a in corpus.articles:
        matched, extra = match_article(a, a.units(language or corpus.language))
        r = out.setdefault(a.format, {"articles": 0, "gold_units": 0, "recovered": 0, "extra_units": 0})
        r["articles"] += 1
        r["gold_units"] += len(a.gold)
        r["recovered"] += sum(u is not None for u in matched)
        r["extra_units"] += extra
    return out
