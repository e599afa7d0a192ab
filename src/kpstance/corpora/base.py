"""One interface for a hand-labelled corpus: its units with labels and metadata, its splits, its whole
articles, the texts training must stay away from, the reports it holds out, and its training units.

The seed article's gold, the multi-source corpus and every ``data.extra_gold`` file are instances of
:class:`GoldCorpus`; the run builds its training set and its scores from whatever corpora it holds,
without a branch per corpus.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..text.segment import Unit, segment_article
from ..weak.scheme import LabelScheme, check_labels
from ..weak.trainset import COUNTERFACTUAL, TrainPart

SPLITS = ("train", "dev", "test")
SEEN = "seen"  # a corpus the model trains on (through its silver labels) and is scored on as seen, or by CV
HELD_OUT = ("dev", "test")


@dataclass
class Article:
    """A whole article of a corpus: its text (read when the corpus is loaded) and the gold of its units in order."""

    id: str
    path: Path
    format: str
    split: str
    gold: list[dict]
    text: str
    date: str = ""  # the report's date (ISO), where the corpus gives one

    def units(self, language: str = "en") -> list[Unit]:
        """The article segmented as ``kpstance predict ARTICLE.txt`` segments it."""
        return segment_article(self.text, self.path.stem, language)


@dataclass
class GoldCorpus:
    """A hand-labelled corpus and everything a run asks of it.

    ``records`` are its sentence units (``id``, ``text``, ``actor``, ``stance``, ``split``, ``report_id``,
    ``kind``, ``phenomena`` and any metadata; a ``pair_id`` makes the corpus a contrast set, scored by pairs too);
    ``articles`` its whole articles. ``prefix`` starts the metric keys of its held-out scores and ``infix`` follows
    their split (``extra_test_*``, ``test_contrast_*``); ``count_key`` names the metric that counts its training units (``count_kept``: counted
    after the leak guard, by unit id; else as offered).
    """

    name: str
    records: list[dict]
    articles: list[Article] = field(default_factory=list)
    prefix: str = ""
    infix: str = ""
    sources: tuple[str, ...] = ()
    language: str = "en"
    trains: bool = True
    repeat: int = 1
    count_key: str | None = None
    count_kept: bool = False
    info: dict[str, Any] = field(default_factory=dict)  # metric keys written after its scores
    calibrates: bool = True  # its dev split may fit the model's temperatures (not a contrast set of minimal pairs)

    def split(self, name: str) -> list[dict]:
        return [r for r in self.records if r["split"] == name]

    def articles_of(self, split: str) -> list[Article]:
        return [a for a in self.articles if a.split == split]

    @property
    def held_out(self) -> bool:
        """Scored on its dev and test splits, which training never sees; else (its units are ``seen``) scored unit by
        unit on the units the run labels and trains on."""
        return not any(r["split"] == SEEN for r in self.records)

    @property
    def by_id(self) -> dict[str, dict]:
        return {r["id"]: r for r in self.records}

    def held_out_reports(self) -> set[str]:
        """The report ids of dev and test sentences and the ids of dev and test articles: no corpus trains on them."""
        return ({r["report_id"] for r in self.records if r["split"] in HELD_OUT}
                | {a.id for a in self.articles if a.split in HELD_OUT})

    def held_out_statements(self) -> list[tuple[str, str, str]]:
        """Every dev and test unit as (gold actor, report date, text): no training unit may reword one."""
        out = [(r["actor"], str(r.get("date") or ""), r["text"]) for r in self.records if r["split"] in HELD_OUT]
        return out + [(g["actor"], a.date, g["text"]) for a in self.articles if a.split in HELD_OUT for g in a.gold]

    def protected_texts(self) -> list[str]:
        """Every dev and test text: no training sentence may come within the leak threshold of one."""
        texts = [r["text"] for r in self.records if r["split"] in HELD_OUT]
        return texts + [g["text"] for a in self.articles if a.split in HELD_OUT for g in a.gold]

    def scored_texts(self) -> list[str]:
        """Every text the corpus scores a model on (seen and held out): the synthetic corpus must not copy one."""
        seen = [r["text"] for r in self.records if r["split"] == SEEN and r.get("text")]
        return seen + self.protected_texts()

    def train_units(self) -> tuple[list[Unit], list[tuple[str, str]], list[str], list[str]]:
        """The train split as training data: its sentence units and the units of its whole train articles
        (segmented as ``kpstance predict`` does, so they carry kinds and quotes), each with its gold labels, the
        report it came from and that report's date ("" where the corpus gives none)."""
        recs = self.split("train")
        units, labels, reports = sentence_units(recs), [(r["actor"], r["stance"]) for r in recs], \
            [r["report_id"] for r in recs]
        # a contrast set's reversed member was written by us: its event's date, but no report's words
        dates = [COUNTERFACTUAL if r.get("factual") is False else str(r.get("date") or "") for r in recs]
        for a in self.articles_of("train"):
            matched, _ = match_article(a, a.units(self.language))
            for g, u in zip(a.gold, matched):
                if u is not None:
                    units.append(u)
                    labels.append((g["actor"], g["stance"]))
                    reports.append(a.id)
                    dates.append(a.date)
        return units, labels, reports, dates

    def train_part(self) -> TrainPart | None:
        """Its train split as a part of the training set, or None when it contributes none."""
        if not self.trains:
            return None
        units, labels, reports, dates = self.train_units()
        if not units and self.count_key is None:
            return None
        return TrainPart(self.name, units, labels, self.repeat, self.count_key, self.count_kept, reports, dates)

    def sha256(self) -> str:
        """One source file's hash; of several, the hash of their hashes in order."""
        digests = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in self.sources]
        return digests[0] if len(digests) == 1 else hashlib.sha256("".join(digests).encode()).hexdigest()


def check_fields(rec: Mapping[str, Any], fields: Sequence[str], path: Path, line: int) -> None:
    for key in fields:
        if key not in rec:
            raise KpstanceError(f'missing field "{key}"', path, line)
    if "split" in rec and rec["split"] not in SPLITS:
        raise KpstanceError(f"unknown split '{rec['split']}' (train, dev or test)", path, line)


def check_gold(rec: dict, scheme: LabelScheme, path: Path, line: int, seen: set[str]) -> dict:
    """Labels in the scheme, actor none only with stance neutral, ids unique across the corpus."""
    check_labels(rec["actor"], rec["stance"], scheme, path, line)
    if rec["actor"] == scheme.none_actor and rec["stance"] != scheme.neutral_stance:
        raise KpstanceError(f"actor '{scheme.none_actor}' goes with stance '{scheme.neutral_stance}'", path, line)
    if rec["id"] in seen:
        raise KpstanceError(f"duplicate id '{rec['id']}'", path, line)
    seen.add(rec["id"])
    return rec


def report_of(rec: Mapping[str, Any]) -> str:
    """The source report a gold unit came from: ``report_id``, else ``article_id`` (what ``annotate import`` carries),
    else the unit itself."""
    return str(rec.get("report_id") or rec.get("article_id") or rec["id"])


def hash_split(report: str, dev: float, test: float) -> str:
    """A report's split from a hash of its id: the same report always lands in the same split, whatever else is
    imported beside it (so adding gold later never moves an old test report into training)."""
    h = int.from_bytes(hashlib.sha256(report.encode("utf-8")).digest()[:8], "big") / 2**64
    return "test" if h < test else "dev" if h < test + dev else "train"


def sentence_units(records: Iterable[Mapping[str, Any]]) -> list[Unit]:
    """Each sentence record as a unit of its own, its kind kept: a stand-alone sentence is read alone (no speaker
    carried over from the sentence before it in the file), unless the record names its ``speaker`` (imported gold
    does: the annotator saw it), which the model then reads as a ``.jsonl`` line's speaker at prediction."""
    records = list(records)
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
