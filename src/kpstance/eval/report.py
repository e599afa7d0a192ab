"""What a run reports: predictions per unit, per-class and per-phenomenon tables, confusion plots, a summary table."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..files import save_figure, write_json, write_jsonl
from ..weak.scheme import LabelScheme
from .metrics import HEADLINE_KEYS, per_class, per_phenomenon

COLUMNS = (("model (CV)", ""), ("rules", "rules_"), ("model (seen)", "seen_"))


def plot_confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str], title: str, path: str | os.PathLike) -> None:
    """A confusion matrix PNG (rows gold, columns predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    cm = confusion_matrix(gold, pred, labels=list(labels))
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.7 * len(labels)))
    ConfusionMatrixDisplay(cm, display_labels=list(labels)).plot(ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45)
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def write_reports(out_dir: Path, scheme: LabelScheme, rows: Mapping[str, dict], gold: Mapping[str, dict],
                  systems: Mapping[str, Mapping[str, tuple[str, str]]], plots: bool,
                  held_out: Mapping[str, Any] | None = None) -> None:
    """predictions.jsonl (one row per unit) and report.json (per class and phenomenon, per system), plus plots;
    for each held-out corpus's scorer (by corpus name), its per-actor and per-phenomenon tables under
    ``report[name]`` and its per-unit predictions in ``<name>_predictions.jsonl``."""
    write_jsonl(out_dir / "predictions.jsonl", rows.values())
    report: dict[str, Any] = {}
    for name, pred in systems.items():
        ids = list(pred)
        report[name] = {
            "actor": per_class([gold[i]["actor"] for i in ids], [pred[i][0] for i in ids], scheme.actor_labels),
            "stance": per_class([gold[i]["stance"] for i in ids], [pred[i][1] for i in ids], scheme.stance_labels),
            "phenomena": per_phenomenon(gold, pred),
        }
        if plots:
            for g, labels, j in (("actor", scheme.actor_labels, 0), ("stance", scheme.stance_labels, 1)):
                plot_confusion([gold[i][g] for i in ids], [pred[i][j] for i in ids], labels,
                               f"{g} ({name})", out_dir / f"confusion_{g}_{name}.png")
    for name, scorer in (held_out or {}).items():
        report[name] = scorer.report
        write_jsonl(out_dir / f"{name}_predictions.jsonl", scorer.rows.values())
    write_json(out_dir / "report.json", report)


def print_summary(metrics: Mapping[str, Any], out_dir: Path, model_dir: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="gold metrics")
    table.add_column("metric")
    for col, _ in COLUMNS:
        table.add_column(col, justify="right")
    for k in HEADLINE_KEYS:
        vals = [metrics.get(p + k) for _, p in COLUMNS]
        table.add_row(k, *["-" if v is None else f"{v:.3f}" for v in vals])
    console = Console()
    console.print(table)
    held_out = [("multi-source gold: real news of every side (test is the figure to trust for new news)", "",
                 ("dev_", "dev_articles_", "test_", "test_articles_")),
                ("your gold (data.extra_gold): its dev and test reports", "extra_", ("dev_", "test_"))]
    keys = ("actor_macro_f1", "stance_macro_f1", "stance_f_avg", "joint_accuracy")
    for title, corpus, parts in held_out:
        if not any(f"{corpus}{part}joint_accuracy" in metrics for part in parts):
            continue
        ms = Table(title=title)
        ms.add_column("scored on")
        for k in keys:
            ms.add_column(k.replace("_macro_f1", " F1").replace("_accuracy", " acc."), justify="right")
        for who, p in (("model", corpus), ("rules", f"rules_{corpus}")):
            for part in parts:
                vals = [metrics.get(f"{p}{part}{k}") for k in keys]
                ms.add_row(f"{who}, {part.rstrip('_').replace('_', ' ')}", *["-" if v is None else f"{v:.3f}" for v in vals])
        console.print(ms)
    console.print(f"run folder: {out_dir}")
    if model_dir is not None:
        console.print(f"model: {model_dir}")
