"""Hydra callback: when a multirun ends, gather its jobs' metrics into one table in the sweep folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from ..eval.metrics import HEADLINE_KEYS


def gather(sweep_dir: str | Path, optimized: str | None = None) -> list[dict]:
    """One row per finished job: the overrides the sweep varied, all of its overrides (to rebuild the job, or
    ``scripts/rerun.py <sweep>/jobN``) and its headline metrics; with ``optimized`` (a search's metric), that metric
    and a ``best`` column marking the job with its best value. Written to sweep_metrics.csv/.json."""
    sweep = Path(sweep_dir)
    rows = []
    for job in sorted(sweep.glob("job*"), key=lambda p: int(p.name[3:]) if p.name[3:].isdigit() else 0):
        m = job / "metrics.json"
        if not m.is_file():
            continue
        metrics = json.loads(m.read_text(encoding="utf-8"))
        overrides_file = job / ".hydra" / "overrides.yaml"
        overrides: list[str] = []
        if overrides_file.is_file():
            import yaml

            overrides = yaml.safe_load(overrides_file.read_text(encoding="utf-8")) or []
        # the seed-article CV keys when the sweep ran cross-validation, then the multi-source dev and test keys
        rows.append({"job": job.name, "overrides": overrides, "all_overrides": " ".join(map(str, overrides)),
                     **({optimized: metrics.get(optimized)} if optimized else {}),
                     **{f"{p}{k}": metrics.get(f"{p}{k}") for p in ("", "dev_", "test_") for k in HEADLINE_KEYS
                        if f"{p}{k}" in metrics}})
    # show only what the sweep varied: overrides shared by every job are the same for all rows
    shared = set.intersection(*(set(r["overrides"]) for r in rows)) if rows else set()
    for r in rows:
        r["overrides"] = " ".join(o for o in r["overrides"] if o not in shared)
    scored = [r for r in rows if optimized and isinstance(r.get(optimized), (int, float))]
    if scored:
        from .compare import lower_is_better

        best = (min if lower_is_better(optimized) else max)(scored, key=lambda r: r[optimized])
        for r in rows:
            r["best"] = "*" if r is best else ""
    if rows:
        with (sweep / "sweep_metrics.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        (sweep / "sweep_metrics.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return rows


class GatherMetrics(Callback):
    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        # a search names its best job; a sweep over seeds or settings does not pick one for the reader
        search = "optuna" in str(config.hydra.sweeper.get("_target_", "")).lower()
        rows = gather(config.hydra.sweep.dir, config.get("optimized_metric") if search else None)
        if not rows:
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"multirun: {len(rows)} jobs ({config.hydra.sweep.dir}/sweep_metrics.csv)")
        cols = [c for c in rows[0] if c != "all_overrides"]  # in the files; too long for a terminal table
        for col in cols:
            table.add_column(col, justify="left" if col in ("job", "overrides") else "right")
        for r in rows:
            table.add_row(*[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols])
        Console().print(table)
