"""Large silver corpora: segment and rule-label a folder of articles with ``datasets.map``.

Each article is one row; a batched map turns a batch of articles into the rows of all their
labelled units (a batched map may return more rows than it gets), in ``num_proc`` worker
processes. The cost grows linearly with the number of sentences (see
``benchmarks/bench_corpus.py``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..text.segment import segment_article
from .label import label_units
from .scheme import LabelScheme

UNIT_COLUMNS = ("id", "article_id", "section", "kind", "text", "actor", "stance")


def article_files(folder: str | os.PathLike, max_articles: int | None = None) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise KpstanceError("corpus folder not found", root)
    files = sorted(p for p in root.rglob("*.txt") if p.is_file())
    if not files:
        raise KpstanceError("corpus folder holds no .txt articles", root)
    return files[:max_articles] if max_articles else files


def _label_batch(batch: dict[str, list], scheme: LabelScheme, language: str, rules: dict) -> dict[str, list]:
    out: dict[str, list] = {k: [] for k in UNIT_COLUMNS}
    for article_id, text in zip(batch["article_id"], batch["text"]):
        units = segment_article(text, article_id, language)
        for u, s in zip(units, label_units(units, scheme, rules.get("actor_lfs"), rules.get("stance_lfs"),
                                           rules.get("aggregator", "majority"))):
            out["id"].append(u.id)
            out["article_id"].append(u.article_id)
            out["section"].append(u.section)
            out["kind"].append(u.kind)
            out["text"].append(u.text)
            out["actor"].append(s.actor)
            out["stance"].append(s.stance)
    return out


def label_texts(articles: Sequence[tuple[str, str]], scheme: LabelScheme, num_proc: int | None = None,
                batch_size: int = 64, language: str = "en", rules: dict | None = None) -> Any:
    """A ``datasets.Dataset`` of labelled units from (article id, text) pairs."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from datasets import Dataset, disable_progress_bars

    disable_progress_bars()
    ds = Dataset.from_dict({"article_id": [a for a, _ in articles], "text": [t for _, t in articles]})
    return ds.map(
        _label_batch,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc if num_proc and num_proc > 1 else None,
        remove_columns=ds.column_names,
        fn_kwargs={"scheme": scheme, "language": language, "rules": dict(rules or {})},
        load_from_cache_file=False,
        desc="segment + label",
    )


def label_folder(folder: str | os.PathLike, scheme: LabelScheme, num_proc: int | None = None,
                 max_articles: int | None = None, language: str = "en", rules: dict | None = None) -> Any:
    """Segment and rule-label every .txt article under ``folder`` (read as UTF-8, BOM and CRLF accepted)."""
    from ..files import read_utf8

    files = article_files(folder, max_articles)
    articles = [(p.stem, read_utf8(p)) for p in files]
    articles = [(a, t) for a, t in articles if t.strip()]
    return label_texts(articles, scheme, num_proc, language=language, rules=rules)
