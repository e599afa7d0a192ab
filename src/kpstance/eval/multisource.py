"""The multi-source gold corpus: hand-labelled units written from 2017–2019 reports of every side,
in fixed train / dev / test splits grouped by source report, plus whole articles in several wire
formats. Every run scores the rules and its model on the dev and test sentences and on the
test articles, the latter through the same path as ``kpstance predict ARTICLE.txt``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..text.read import iter_jsonl, read_article
from ..text.segment import Unit, segment_article
from ..weak.scheme import LabelScheme, check_labels
from .metrics import per_class, per_phenomenon, score

log = logging.getLogger("kpstance")
SPLITS = ("train", "dev", "test")
SENTENCE_FIELDS = ("id", "report_id", "split", "kind", "text", "actor", "stance", "source_url", "outlet", "date")
ARTICLE_FIELDS = ("id", "file", "gold", "format", "split")
MISSING = "(not segmented)"  # the prediction of a gold unit the segmenter did not produce


@dataclass
class Article:
    id: str
    path: Path
    format: str
    split: str
    gold: list[dict]


@dataclass
class MultiSource:
    sentences: list[dict]
    articles: list[Article]

    def split(self, name: str) -> list[dict]:
        return [r for r in self.sentences if r["split"] == name]

    def held_out_reports(self) -> set[str]:
        """The report ids of dev and test sentences and the ids of dev and test articles."""
        return ({r["report_id"] for r in self.sentences if r["split"] != "train"}
                | {a.id for a in self.articles if a.split != "train"})

    def protected_texts(self) -> list[str]:
        """Every dev and test text: no training sentence may come within the leak threshold of one."""
        texts = [r["text"] for r in self.sentences if r["split"] != "train"]
        return texts + [g["text"] for a in self.articles if a.split != "train" for g in a.gold]


def _check(rec: dict, fields: Sequence[str], path: Path, line: int) -> None:
    for key in fields:
        if key not in rec:
            raise KpstanceError(f'missing field "{key}"', path, line)
    if "split" in rec and rec["split"] not in SPLITS:
        raise KpstanceError(f"unknown split '{rec['split']}' (train, dev or test)", path, line)


def _gold_record(rec: dict, scheme: LabelScheme, path: Path, line: int, seen: set[str]) -> dict:
    check_labels(rec["actor"], rec["stance"], scheme, path, line)
    if rec["actor"] == scheme.none_actor and rec["stance"] != scheme.neutral_stance:
        raise KpstanceError(f"actor '{scheme.none_actor}' goes with stance '{scheme.neutral_stance}'", path, line)
    if rec["id"] in seen:
        raise KpstanceError(f"duplicate id '{rec['id']}'", path, line)
    seen.add(rec["id"])
    return rec


def load_multisource(folder: str | Path, scheme: LabelScheme) -> MultiSource:
    """Read and check ``sentences.jsonl``, ``articles.jsonl`` and each article's ``.txt`` and ``.gold.jsonl``."""
    root = Path(folder)
    if not (root / "sentences.jsonl").is_file():
        raise KpstanceError("no sentences.jsonl in the multi-source folder", root)
    seen: set[str] = set()
    sentences = []
    for line, rec in iter_jsonl(root / "sentences.jsonl"):
        _check(rec, SENTENCE_FIELDS, root / "sentences.jsonl", line)
        sentences.append(_gold_record(rec, scheme, root / "sentences.jsonl", line, seen))
    reports: dict[str, str] = {}
    for r in sentences:
        if reports.setdefault(r["report_id"], r["split"]) != r["split"]:
            raise KpstanceError(f"report '{r['report_id']}' has units in two splits", root / "sentences.jsonl")
    articles = []
    if (root / "articles.jsonl").is_file():
        for line, rec in iter_jsonl(root / "articles.jsonl", text_field=None):
            _check(rec, ARTICLE_FIELDS, root / "articles.jsonl", line)
            gold_path = root / rec["gold"]
            gold = [_gold_record(g, scheme, gold_path, ln, seen) for ln, g in iter_jsonl(gold_path)]
            articles.append(Article(rec["id"], root / rec["file"], rec["format"], rec["split"], gold))
    return MultiSource(sentences, articles)


EXTRA_FIELDS = ("id", "text", "actor", "stance")


def report_of(rec: Mapping[str, Any]) -> str:
    """The source report a gold unit came from: ``report_id``, else ``article_id`` (what ``annotate import`` carries),
    else the unit itself."""
    return str(rec.get("report_id") or rec.get("article_id") or rec["id"])


def hash_split(report: str, dev: float, test: float) -> str:
    """A report's split from a hash of its id: the same report always lands in the same split, whatever else is
    imported beside it (so adding gold later never moves an old test report into training)."""
    import hashlib

    h = int.from_bytes(hashlib.sha256(report.encode("utf-8")).digest()[:8], "big") / 2**64
    return "test" if h < test else "dev" if h < test + dev else "train"


def load_extra_gold(paths: Sequence[str | Path], scheme: LabelScheme, dev: float, test: float) -> MultiSource:
    """Imported gold sets (``data.extra_gold``: the JSON Lines ``kpstance annotate import`` writes) as one corpus,
    split by source report like the multi-source corpus. A report whose units carry a ``split`` field is in that
    split (two different ones are refused); any other report's hash puts ``dev`` and ``test`` of the reports in
    those splits. Every unit of a report shares one split."""
    seen: set[str] = set()
    sentences: list[dict] = []
    explicit: dict[str, tuple[str, Path, int]] = {}  # report -> its split and where it was first given
    for p in map(Path, paths):
        if not p.is_file():
            raise KpstanceError("extra gold file not found (data.extra_gold)", p)
        for line, rec in iter_jsonl(p):
            rec = dict(rec)
            if rec.get("split") in (None, ""):  # no split of its own: the report's (below)
                rec.pop("split", None)
            _check(rec, EXTRA_FIELDS, p, line)
            rec = _gold_record(rec, scheme, p, line, seen)
            rec["report_id"] = report_of(rec)
            if "split" in rec:
                first = explicit.setdefault(rec["report_id"], (rec["split"], p, line))
                if first[0] != rec["split"]:
                    raise KpstanceError(f"report '{rec['report_id']}' is in split '{first[0]}' ({first[1]}:{first[2]}) "
                                        f"and in '{rec['split']}' here", p, line)
            rec.setdefault("kind", "sentence")
            rec.setdefault("phenomena", [])
            sentences.append(rec)
    if not sentences:
        raise KpstanceError("no gold units in the extra gold sets", ", ".join(map(str, paths)))
    for rec in sentences:
        given = explicit.get(rec["report_id"])
        rec["split"] = given[0] if given else hash_split(rec["report_id"], dev, test)
    reports = {s: {r["report_id"] for r in sentences if r["split"] == s} for s in SPLITS}
    for name, share in (("train", 1.0 - dev - test), ("dev", dev), ("test", test)):
        if share > 0 and not reports[name]:
            log.warning("extra gold: no report landed in %s (%d report(s) in all; units of one report share a split, "
                        "and a .jsonl file's lines are one report unless they carry report_id or article_id)",
                        name, len({r["report_id"] for r in sentences}))
    return MultiSource(sentences, [])


def train_units(ms: MultiSource, language: str = "en") -> tuple[list[Unit], list[tuple[str, str]]]:
    """The train split as training data: its sentence units and the units of its whole articles (segmented as
    ``kpstance predict`` does, so they carry kinds and quotes), each with its gold labels."""
    recs = ms.split("train")
    units, labels = sentence_units(recs), [(r["actor"], r["stance"]) for r in recs]
    for a in ms.articles:
        if a.split != "train":
            continue
        matched, _ = match_article(a, segment_article(read_article(a.path), a.path.stem, language))
        for g, u in zip(a.gold, matched):
            if u is not None:
                units.append(u)
                labels.append((g["actor"], g["stance"]))
    return units, labels


def sentence_units(records: Sequence[dict]) -> list[Unit]:
    """Each sentence record as a unit of its own, its kind kept: a stand-alone sentence is read alone (no speaker
    carried over from the sentence before it in the file), unless the record names its ``speaker`` (imported gold
    does: the annotator saw it), which the model then reads as a ``.jsonl`` line's speaker at prediction."""
    units = [Unit.of_text(r["text"], r["id"], r["id"], r.get("kind", "sentence")) for r in records]
    for u, r in zip(units, records):
        if r.get("speaker"):
            u.extra["speaker"] = str(r["speaker"])
    return units


def _norm(text: str) -> str:
    return " ".join(text.split())


def match_article(article: Article, units: Sequence[Unit]) -> tuple[list[Unit | None], int]:
    """For each gold unit, the segmenter's unit with the same text (in order), or None; and the count of extra units."""
    by_text: dict[str, list[Unit]] = {}
    for u in units:
        by_text.setdefault(_norm(u.text), []).append(u)
    matched = [by_text[_norm(g["text"])].pop(0) if by_text.get(_norm(g["text"])) else None for g in article.gold]
    return matched, sum(len(v) for v in by_text.values())


class Scorer:
    """Scores systems on one multi-source corpus; collects the report and the per-unit predictions."""

    def __init__(self, ms: MultiSource, scheme: LabelScheme, language: str) -> None:
        self.ms, self.scheme, self.language = ms, scheme, language
        self.report: dict[str, Any] = {}
        self.rows: dict[str, dict] = {}
        self._predictions: dict[tuple[int, str], list[dict]] = {}  # (system, split): each split predicted once

    def _predict(self, system: Any, split: str) -> list[dict]:
        key = (id(system), split)
        if key not in self._predictions:
            self._predictions[key] = system.predict(sentence_units(self.ms.split(split)))
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
        fitted system."""
        out: dict[str, float] = {}
        for split in ("dev", "test"):
            recs = self.ms.split(split)
            if not recs:
                continue
            preds = self._predict(system, split)
            gold = {r["id"]: r for r in recs}
            pred = {r["id"]: (p["actor"], p["stance"]) for r, p in zip(recs, preds)}
            out.update(score([(r["actor"], r["stance"]) for r in recs], list(pred.values()), self.scheme,
                             f"{prefix}{split}_"))
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
        diagrams of test; and test accuracy of the most confident 80 % and 90 % of units (keys after ``prefix``)."""
        from .calibration import coverage_accuracy, ece, fit_temperature, reliability_diagram, scale

        dev, test = self.ms.split("dev"), self.ms.split("test")
        if not dev or not test:
            return {}
        raw_dev, raw_test = self._predict(system, "dev"), self._predict(system, "test")
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
        # temperature changes no argmax: the calibrated scores are the raw ones rescaled, no second prediction
        conf = [scale(self._matrix(raw_test, h), temps[h]).max(axis=1) for h in ("actor", "stance")]
        score_min = [min(a, b) for a, b in zip(*conf)]
        correct = [(p["actor"], p["stance"]) == (r["actor"], r["stance"]) for p, r in zip(raw_test, test)]
        for keep in (80, 90):
            thr, acc = coverage_accuracy(score_min, correct, keep / 100)
            out[f"{prefix}test_confident{keep}_min_score"] = thr
            out[f"{prefix}test_confident{keep}_joint_accuracy"] = acc
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
        arts = [a for a in self.ms.articles if a.split == split]
        if not arts:
            return {}
        gold: dict[str, dict] = {}
        pred: dict[str, tuple[str, str]] = {}
        recovered: Counter[str] = Counter()
        total: Counter[str] = Counter()
        extra = 0
        for a in arts:
            units = segment_article(read_article(a.path), a.path.stem, self.language)
            matched, n_extra = match_article(a, units)
            extra += n_extra
            found = [u for u in matched if u is not None]
            by_unit = dict(zip((u.id for u in found), system.predict(found)))
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


def recovery_by_format(ms: MultiSource, language: str = "en") -> dict[str, dict[str, int]]:
    """Gold units the segmenter recovers, per wire format, over every article of the corpus."""
    out: dict[str, dict[str, int]] = {}
    for a in ms.articles:
        matched, extra = match_article(a, segment_article(read_article(a.path), a.path.stem, language))
        r = out.setdefault(a.format, {"articles": 0, "gold_units": 0, "recovered": 0, "extra_units": 0})
        r["articles"] += 1
        r["gold_units"] += len(a.gold)
        r["recovered"] += sum(u is not None for u in matched)
        r["extra_units"] += extra
    return out
