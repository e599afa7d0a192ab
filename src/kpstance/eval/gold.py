"""The hand-labelled gold set: read, checked against the label scheme and against the segmenter's units."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import KpstanceError
from ..text.read import iter_jsonl
from ..text.segment import Unit
from ..weak.scheme import LabelScheme, check_labels


def load_gold(path: str | os.PathLike, scheme: LabelScheme, units: Sequence[Unit] | None = None) -> dict[str, dict]:
    """Read the gold JSON Lines, check labels, ids and coverage of the segmenter's units."""
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
