"""Score predictions against the gold set: macro-F1, accuracy, F_avg, joint accuracy, per class and per phenomenon.

F_avg is the mean F1 of the two polar stances (hardline, conciliatory), as in SemEval-2016
Task 6. Macro averages run over the classes present in gold, so a class the article never
uses does not count as a zero.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import KpstanceError
from ..text.read import iter_jsonl
from ..text.segment import Unit
from ..weak.scheme import LabelScheme, check_labels

HEADLINE_KEYS = ("actor_macro_f1", "actor_accuracy", "stance_macro_f1", "stance_accuracy", "stance_f_avg", "joint_accuracy")


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


def score(gold: Sequence[tuple[str, str]], pred: Sequence[tuple[str, str]], scheme: LabelScheme, prefix: str = "") -> dict[str, float]:
    """Flat metrics for (actor, stance) pairs."""
    from sklearn.metrics import accuracy_score, f1_score

    if not gold:
        return {}
    ga, gs = zip(*gold)
    pa, ps = zip(*pred)
    a_labels = [a for a in scheme.actor_labels if a in ga]
    s_labels = [s for s in scheme.stance_labels if s in gs]
    polar = [s for s in ("hardline", "conciliatory") if s in scheme.stance_labels]
    f1_polar = f1_score(gs, ps, labels=polar, average=None, zero_division=0)
    m = {
        "actor_macro_f1": f1_score(ga, pa, labels=a_labels, average="macro", zero_division=0),
        "actor_accuracy": accuracy_score(ga, pa),
        "stance_macro_f1": f1_score(gs, ps, labels=s_labels, average="macro", zero_division=0),
        "stance_accuracy": accuracy_score(gs, ps),
        "stance_f_avg": float(sum(f1_polar) / len(f1_polar)) if len(f1_polar) else 0.0,
        "joint_accuracy": sum(g == p for g, p in zip(gold, pred)) / len(gold),
        "n": len(gold),
    }
    return {f"{prefix}{k}": round(float(v), 6) if k != "n" else v for k, v in m.items()}


def per_class(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[dict]:
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=list(labels), zero_division=0)
    return [
        {"label": lab, "precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4), "support": int(s[i])}
        for i, lab in enumerate(labels)
    ]


def per_phenomenon(gold: Mapping[str, dict], preds: Mapping[str, tuple[str, str]]) -> list[dict]:
    """Actor, stance and joint accuracy for each phenomenon tag in the gold file."""
    tags = sorted({t for g in gold.values() for t in g.get("phenomena", [])})
    rows = []
    for t in tags:
        ids = [i for i, g in gold.items() if t in g.get("phenomena", []) and i in preds]
        if not ids:
            continue
        rows.append({
            "phenomenon": t,
            "n": len(ids),
            "actor_accuracy": round(sum(preds[i][0] == gold[i]["actor"] for i in ids) / len(ids), 4),
            "stance_accuracy": round(sum(preds[i][1] == gold[i]["stance"] for i in ids) / len(ids), 4),
            "joint_accuracy": round(sum(preds[i] == (gold[i]["actor"], gold[i]["stance"]) for i in ids) / len(ids), 4),
        })
    return rows


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
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_json(path: str | os.PathLike, obj: object) -> None:
    """Write JSON atomically: a reader never sees half a file."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)
