"""Score predictions against the gold set: macro-F1, accuracy, F_avg, joint accuracy, per class and per phenomenon.

F_avg is the mean F1 of the two polar stances (the scheme's coercive and de-escalating roles), as in SemEval-2016
Task 6. Macro averages run over the scheme's classes present in gold, so a class a split or slice never uses does
not count as a zero: predictions into such a class cost only the recall of the gold classes they miss, not a class
F1 of 0. (scikit-learn's default, the union with the predicted classes, would make one stray prediction into an
absent class cost a whole class: the counter-prior slice, whose gold holds no conciliatory unit, would fall by a
third, 0.66 -> 0.44 on the default run; the rules' contrast-set actor F1, where they predict ``none`` that the
set never holds, would read 0.845 instead of 0.965.) Every figure of the project and every goal of the issues is on
this definition. A unit the segmenter missed (``MISSING``) is no class: it lowers its gold class's recall alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..weak.scheme import LabelScheme

HEADLINE_KEYS = ("actor_macro_f1", "actor_accuracy", "stance_macro_f1", "stance_accuracy", "stance_f_avg", "joint_accuracy")


def score(gold: Sequence[tuple[str, str]], pred: Sequence[tuple[str, str]], scheme: LabelScheme, prefix: str = "") -> dict[str, float]:
    """Flat metrics for (actor, stance) pairs."""
    from sklearn.metrics import accuracy_score, f1_score

    if not gold:
        return {}
    ga, gs = zip(*gold)
    pa, ps = zip(*pred)
    a_labels = [a for a in scheme.actor_labels if a in ga]
    s_labels = [s for s in scheme.stance_labels if s in gs]
    polar = scheme.polar_stances
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
