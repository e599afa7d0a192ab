"""The label stage of a run: silver labels for every unit, written with the LF analysis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..files import write_csv, write_jsonl
from ..text.segment import Unit
from .analysis import DevVotes, lf_analysis
from .label import SilverLabel, label_units
from .scheme import LabelScheme


def silver_labels(units: Sequence[Unit], scheme: LabelScheme, rules: Any, gold: Mapping[str, dict] | None,
                  out_dir: Path | None, dev: DevVotes | None = None) -> dict[str, SilverLabel]:
    """Rule labels by unit id; with ``out_dir``, also ``silver.jsonl`` and ``lf_analysis.csv`` there (with ``dev``,
    each function's precision on the multi-source dev split beside the article's)."""
    silver = label_units(units, scheme, list(rules.actor_lfs), list(rules.stance_lfs), str(rules.aggregator))
    if out_dir is not None:
        write_jsonl(out_dir / "silver.jsonl", ({**u.to_dict(), "actor": s.actor, "stance": s.stance,
                                                "rules_fired": s.rules_fired} for u, s in zip(units, silver)))
        write_csv(out_dir / "lf_analysis.csv", lf_analysis(silver, dict(gold or {}), "actor", dev)
                  + lf_analysis(silver, dict(gold or {}), "stance", dev))
    return {s.id: s for s in silver}
