"""Hydra callback: when a multirun ends, gather its jobs' metrics into one table in the sweep folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from ..eval.metrics import HEADLINE_KEYS


def gather(sweep_dir: str | Path) -> list[dict]:
    """One row per finished job: its overrides and headline metrics; written to sweep_metrics.csv/.json."""
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
        rows.append({"job": job.name, "overrides": overrides,
                     **{f"{p}{k}": metrics.get(f"{p}{k}") for p in ("", "dev_", "test_") for k in HEADLINE_KEYS
                        if f"{p}{k}" in metrics}})
    # show only what the sweep varied: overrides shared by every job are the same for all rows
    shared = set.intersection(*(set(r["overrides"]) for r in rows)) if rows else set()
    for r in rows:
        r["overrides"] = " ".join(o for o in r["overrides"] if o not in shared)
    if rows:
        with (sweep / "sweep_metrics.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        (sweep / "sweep_metrics.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return rows


class GatherMetrics(Callback):
    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        rows = gather(config.hydra.sweep.dir)
        if not rows:
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"multirun: {len(rows)} jobs ({config.hydra.sweep.dir}/sweep_metrics.csv)")
        for col in rows[0]:
            table.add_column(col, justify="left" if col in ("job", "overrides") else "right")
        for r in rows:
            table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r.values()])
        Console().print(table)
