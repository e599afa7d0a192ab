"""Reading the gold corpora a run holds: the seed article's gold (``data.gold_path``), the multi-source corpus
(``data.multisource``) and the imported gold sets (``data.extra_gold``), each checked and returned as a
:class:`GoldCorpus`. Only this module reads gold files; ``eval/`` scores what it is given."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..text.read import iter_jsonl, read_article
from ..text.segment import Unit
from ..weak.scheme import LabelScheme, check_labels
from .base import SEEN, SPLITS, Article, GoldCorpus, check_fields, check_gold, hash_split, report_of

log = logging.getLogger("kpstance")
SENTENCE_FIELDS = ("id", "report_id", "split", "kind", "text", "actor", "stance", "source_url", "outlet", "date")
ARTICLE_FIELDS = ("id", "file", "gold", "format", "split")
EXTRA_FIELDS = ("id", "text", "actor", "stance")
PAIR_FIELDS = ("id", "pair_id", "text", "actor", "stance", "split", "source_url")


def load_gold(path: str | os.PathLike, scheme: LabelScheme, units: Sequence[Unit] | None = None) -> dict[str, dict]:
    """Read the seed article's gold JSON Lines, check labels, ids and coverage of the segmenter's units."""
    gold: dict[str, dict] = {}
    for line, rec in iter_jsonl(path):
        for key in ("id", "actor", "stance"):
            if key not in rec:
                raise KpstanceError(f'missing field "{key}"', path, line)
        if rec["id"] in gold:
            raise KpstanceError(f"duplicate id '{rec['id']}'", path, line)
        check_labels(rec["actor"], rec["stance"], scheme, path, line)
        rec["_line"] = line
        gold[rec["id"]] = rec
    if not gold:
        raise KpstanceError("the gold file is empty", path)
    if units is not None:
        ids = {u.id for u in units}
        extra = [g for g in gold.values() if g["id"] not in ids]
        if extra:
            raise KpstanceError(f"id '{extra[0]['id']}' is not a unit the segmenter produces", path, extra[0]["_line"])
        by_id = {u.id: u for u in units}
        for g in gold.values():
            if g.get("text") is not None and g["text"] != by_id[g["id"]].text:
                raise KpstanceError(f"text of '{g['id']}' differs from the segmenter's unit", path, g["_line"])
    return gold


def seed_corpus(path: str | os.PathLike, scheme: LabelScheme, units: Sequence[Unit], language: str = "en") -> GoldCorpus:
    """The gold of the articles a run labels with its rules (``data.articles``): every unit covered, scored as seen
    (the model trains on the same units' silver labels) and, with ``evaluation.cv``, by cross-validation."""
    gold = load_gold(path, scheme, units)
    missing = [u.id for u in units if u.id not in gold]
    if missing:
        raise KpstanceError(f"gold set does not cover unit '{missing[0]}' ({len(missing)} missing)", path)
    article_of = {u.id: u.article_id for u in units}
    records = [{**g, "split": SEEN, "report_id": article_of[g["id"]]} for g in gold.values()]
    return GoldCorpus("seed", records, prefix="", sources=(str(path),), language=language, trains=False)


def load_multisource(folder: str | os.PathLike, scheme: LabelScheme, language: str = "en", train: bool = True,
                     repeat: int = 1) -> GoldCorpus:
    """The multi-source corpus: ``sentences.jsonl`` in fixed splits grouped by source report, and the whole articles
    of ``articles.jsonl`` (each a ``.txt`` with its ``.gold.jsonl``); its train split trains (``repeat`` times)
    unless ``train`` is false."""
    root = Path(folder)
    if not (root / "sentences.jsonl").is_file():
        raise KpstanceError("no sentences.jsonl in the multi-source folder", root)
    seen: set[str] = set()
    sentences = []
    for line, rec in iter_jsonl(root / "sentences.jsonl"):
        check_fields(rec, SENTENCE_FIELDS, root / "sentences.jsonl", line)
        sentences.append(check_gold(rec, scheme, root / "sentences.jsonl", line, seen))
    reports: dict[str, str] = {}
    for r in sentences:
        if reports.setdefault(r["report_id"], r["split"]) != r["split"]:
            raise KpstanceError(f"report '{r['report_id']}' has units in two splits", root / "sentences.jsonl")
    articles = []
    if (root / "articles.jsonl").is_file():
        for line, rec in iter_jsonl(root / "articles.jsonl", text_field=None):
            check_fields(rec, ARTICLE_FIELDS, root / "articles.jsonl", line)
            gold_path = root / rec["gold"]
            gold = [check_gold(g, scheme, gold_path, ln, seen) for ln, g in iter_jsonl(gold_path)]
            articles.append(Article(rec["id"], root / rec["file"], rec["format"], rec["split"], gold,
                                    read_article(root / rec["file"]), str(rec.get("date") or "")))
    return GoldCorpus("multisource", sentences, articles, language=language, sources=(str(root / "sentences.jsonl"),),
                      trains=train, repeat=repeat, count_key="n_gold_train")


def load_extra_gold(paths: Sequence[str | os.PathLike], scheme: LabelScheme, dev: float, test: float,
                    language: str = "en", repeat: int = 1) -> GoldCorpus:
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
            check_fields(rec, EXTRA_FIELDS, p, line)
            rec = check_gold(rec, scheme, p, line, seen)
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
    corpus = GoldCorpus("extra_gold", sentences, prefix="extra_", sources=tuple(map(str, paths)), language=language,
                        repeat=repeat, count_key="n_extra_gold_train", count_kept=True)
    corpus.info = {"n_extra_gold_dev": len(corpus.split("dev")), "n_extra_gold_test": len(corpus.split("test")),
                   "extra_gold_sha256": corpus.sha256()}
    return corpus


def load_contrast(path: str | os.PathLike, scheme: LabelScheme, language: str = "en", train: bool = True,
                  repeat: int = 1) -> GoldCorpus:
    """A contrast set of minimal pairs (one actor and topic, opposite directions of the step), split by event: its
    train pairs join training, its dev and test pairs are scored as ``dev_contrast_*`` / ``test_contrast_*`` with the
    share of pairs whose members both get their gold stance."""
    p = Path(path)
    if not p.is_file():
        raise KpstanceError("contrast set not found (data.contrast.path)", p)
    seen: set[str] = set()
    records: list[dict] = []
    first: dict[str, tuple[str, int]] = {}  # pair -> its split and the line that gave it
    for line, rec in iter_jsonl(p):
        check_fields(rec, PAIR_FIELDS, p, line)
        rec = check_gold(dict(rec), scheme, p, line, seen)
        split, where = first.setdefault(str(rec["pair_id"]), (rec["split"], line))
        if split != rec["split"]:
            raise KpstanceError(f"pair '{rec['pair_id']}' is in split '{split}' (line {where}) and in "
                                f"'{rec['split']}' here", p, line)
        rec["report_id"] = str(rec.get("event") or rec["source_url"])
        rec.setdefault("kind", "sentence")
        rec.setdefault("phenomena", [])
        records.append(rec)
    sizes = {pid: sum(r["pair_id"] == pid for r in records) for pid in first}
    lonely = [pid for pid, n in sizes.items() if n < 2]
    if lonely:
        raise KpstanceError(f"pair '{lonely[0]}' has one member ({len(lonely)} such pair(s))", p)
    return GoldCorpus("contrast", records, infix="contrast_", sources=(str(p),), language=language, trains=train,
                      repeat=repeat, count_key="n_contrast_train", calibrates=False)


def load_corpora(cfg: Any, scheme: LabelScheme, units: Sequence[Unit]) -> list[GoldCorpus]:
    """Every gold corpus the config names, in a fixed order (the first with dev and test calibrates the model):
    the seed article's gold, the multi-source corpus, the imported gold sets, the contrast set."""
    d, lang = cfg.data, cfg.data.language
    corpora = [seed_corpus(d.gold_path, scheme, units, lang)]
    if d.multisource is not None:
        corpora.append(load_multisource(d.multisource.path, scheme, lang, bool(d.multisource.train),
                                        int(d.multisource.repeat)))
    if d.extra_gold:
        extra = load_extra_gold(list(d.extra_gold), scheme, float(d.extra_gold_dev), float(d.extra_gold_test), lang,
                                int(d.extra_gold_repeat))
        log.info("extra gold: %s units in train / dev / test",
                 " / ".join(str(len(extra.split(s))) for s in ("train", "dev", "test")))
        corpora.append(extra)
    if d.get("contrast") is not None:  # last: minimal pairs neither calibrate the model nor judge the rules' functions
        corpora.append(load_contrast(d.contrast.path, scheme, lang, bool(d.contrast.train), int(d.contrast.repeat)))
    return corpora


def gold_units(path: str | os.PathLike, split: str | None = "dev") -> list[dict]:
    """Gold units of a JSON Lines file (text, actor, stance; optional kind, speaker, report_id or article_id, split):
    those of ``split`` where the file gives splits, else all."""
    p = Path(path)
    if not p.is_file():
        raise KpstanceError(f"{p}: dev gold file not found")
    recs = []
    for line, rec in iter_jsonl(p):
        for key in ("actor", "stance"):
            if not rec.get(key):
                raise KpstanceError(f"{p}:{line}: a gold unit needs '{key}'")
        recs.append({**rec, "id": str(rec.get("id", f"{p.stem}-{line}")), "_line": line})
    if split and any("split" in r for r in recs):
        recs = [r for r in recs if r.get("split") == split]
    if not recs:
        raise KpstanceError(f"{p}: no {split or ''} gold units".replace("  ", " "))
    return recs
