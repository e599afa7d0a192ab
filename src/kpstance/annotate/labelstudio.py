"""Label Studio's formats: the labeling config and task list we write, the JSON export we read back as gold.

The config is generated from the label YAML (one ``Choices`` per head, every label of the scheme),
so another conflict's scheme needs no editing. Tasks carry the unit, its neighbours and speaker,
the model's labels as pre-annotations (``predictions``) and the rules' labels in ``data``. The
export reader is strict where a silent guess would corrupt gold: labels outside the scheme, an
annotation without an actor or stance, or two annotators who disagree are never resolved quietly.
Formats: https://labelstud.io/guide/task_format and https://labelstud.io/guide/predictions.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ..errors import KpstanceError
from ..weak.scheme import LabelScheme

HEADS = ("actor", "stance")
NOTE = "note"  # the TextArea for the annotator's comment
TEXT = "text"  # the object tag the choices point at
# data fields that describe the task for the annotator or the ranking, not the unit's source: dropped on import
TASK_ONLY = ("text", "id", "context", "prev_text", "next_text", "rules_actor", "rules_stance", "rules_fired",
             "model_actor", "model_stance", "model_actor_score", "model_stance_score", "margin", "strategy", "rank",
             "model")
# fields of an input record never carried into a task: labels and scores would pose as gold on import, and a
# predictions table's model would mark the gold as another model's predictions
NOT_CARRIED = ("actor", "stance", "note", "annotator", "actor_score", "stance_score", "actor_probs",
               "stance_probs", "uncertain", "rules_fired", "phenomena", "model")


def labeling_config(scheme: LabelScheme) -> str:
    """Label Studio's ``<View>``: the unit between its neighbours, one single-choice group per head, a note."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="$context", size="6")
    before = ET.SubElement(view, "View", style="color: #888; font-size: 90%")
    ET.SubElement(before, "Text", name="prev", value="$prev_text")
    unit = ET.SubElement(view, "View", style="border-left: 4px solid #36c; padding-left: 8px; font-weight: bold")
    ET.SubElement(unit, "Text", name=TEXT, value="$text")
    after = ET.SubElement(view, "View", style="color: #888; font-size: 90%")
    ET.SubElement(after, "Text", name="next", value="$next_text")
    ET.SubElement(view, "Header", value="Actor: who acts or speaks in the highlighted unit", size="5")
    actors = ET.SubElement(view, "Choices", name="actor", toName=TEXT, choice="single", showInline="true",
                           required="true")
    aliases = {a.name: a.aliases for a in scheme.actors}
    for name in scheme.actor_labels:
        hint = ", ".join(aliases[name][:4]) if aliases.get(name) else "no actor of the scheme"
        ET.SubElement(actors, "Choice", value=name, hint=hint)
    ET.SubElement(view, "Header", value="Stance of that actor", size="5")
    stances = ET.SubElement(view, "Choices", name="stance", toName=TEXT, choice="single", showInline="true",
                            required="true")
    role_of = {stance: role for role, stance in scheme.roles.items()}
    for name in scheme.stance_labels:
        ET.SubElement(stances, "Choice", value=name, hint=role_of.get(name, name))
    ET.SubElement(view, "Header", value="Note (why, or what is unclear)", size="6")
    ET.SubElement(view, "TextArea", name=NOTE, toName=TEXT, rows="2", editable="true", maxSubmissions="1",
                  placeholder="optional")
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"


def choice_result(head: str, label: str, score: float | None = None) -> dict:
    """One ``choices`` result entry, as Label Studio stores it in predictions and annotations."""
    out: dict[str, Any] = {"from_name": head, "to_name": TEXT, "type": "choices", "value": {"choices": [label]}}
    if score is not None:
        out["score"] = round(float(score), 6)
    return out


def make_task(data: dict, pred: dict, model_version: str) -> dict:
    """A task: ``data`` as given, the model's actor and stance as one pre-annotation scored by its weaker head."""
    return {
        "data": data,
        "predictions": [{
            "model_version": model_version,
            "score": round(min(float(pred["actor_score"]), float(pred["stance_score"])), 6),
            "result": [choice_result("actor", pred["actor"], pred["actor_score"]),
                       choice_result("stance", pred["stance"], pred["stance_score"])],
        }],
    }


# --------------------------------------------------------------------------------------------- import


@dataclass
class Annotation:
    """One completed (not cancelled) annotation of one unit."""

    task: Any  # Label Studio's task id, for error messages
    unit: str
    text: str
    source: dict  # the task's data fields that describe the unit's origin
    annotator: str
    actor: str
    stance: str
    note: str = ""
    order: tuple = field(default=(), compare=False)


def _annotator(completed_by: Any) -> str:
    """The user's email where the export gives the user as an object, else ``user-<id>``: Label Studio's
    JSON export (1.23) gives only the numeric user id, which stays stable within one server."""
    if isinstance(completed_by, dict):
        if completed_by.get("email") or completed_by.get("username"):
            return str(completed_by.get("email") or completed_by.get("username"))
        completed_by = completed_by.get("id")
    return "unknown" if completed_by is None else f"user-{completed_by}"


def _choice(result: list, head: str, where: str, path: object) -> str | None:
    found = [r for r in result if isinstance(r, dict) and r.get("from_name") == head]
    if not found:
        return None
    if len(found) > 1:
        raise KpstanceError(f"{where}: more than one '{head}' result", path)
    choices = (found[0].get("value") or {}).get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], str):
        raise KpstanceError(f"{where}: '{head}' must hold exactly one choice, got {choices!r}", path)
    return choices[0]


def _note(result: list) -> str:
    texts = [t for r in result if isinstance(r, dict) and r.get("from_name") == NOTE
             for t in (r.get("value") or {}).get("text") or []]
    return " ".join(str(t).strip() for t in texts if str(t).strip())


def read_export(path: str | os.PathLike, scheme: LabelScheme) -> tuple[list[Annotation], dict]:
    """Every completed annotation of a Label Studio JSON export, checked against the scheme.

    Returns the annotations in export order (an annotator's later annotation of the same unit replaces
    the earlier one) and counts: tasks, tasks without annotations, cancelled and replaced annotations.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise KpstanceError("file not found", p) from None
    except (OSError, UnicodeDecodeError) as e:
        raise KpstanceError(f"cannot read: {getattr(e, 'strerror', None) or e}", p) from None
    try:
        tasks = json.loads(raw)
    except json.JSONDecodeError as e:
        raise KpstanceError(f"not valid JSON ({e.msg})", p, e.lineno) from None
    if not isinstance(tasks, list):
        raise KpstanceError("expected a JSON list of tasks (Label Studio's JSON export)", p)
    counts = {"tasks": len(tasks), "unannotated": 0, "cancelled": 0, "replaced": 0}
    latest: dict[tuple[str, str], Annotation] = {}
    texts: dict[str, tuple[str, Any]] = {}
    for pos, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise KpstanceError(f"task #{pos + 1}: expected an object with 'data'", p)
        tid = task.get("id", f"#{pos + 1}")
        data = task["data"]
        uid, text = data.get("id"), data.get("text")
        if not isinstance(uid, str) or not uid or not isinstance(text, str):
            raise KpstanceError(f"task {tid}: data needs the unit's 'id' and 'text' (tasks written by "
                                "kpstance annotate export have both)", p)
        where = f"task {tid} (unit {uid})"
        if not text.strip():  # gold must hold a sentence: training would refuse the file later, far from here
            raise KpstanceError(f"{where}: 'text' is empty", p)
        if uid in texts and texts[uid][0] != text:
            raise KpstanceError(f"{where}: unit also in task {texts[uid][1]} with a different text", p)
        texts.setdefault(uid, (text, tid))
        anns = task.get("annotations") or []
        if not isinstance(anns, list):
            raise KpstanceError(f"{where}: 'annotations' must be a list", p)
        done = 0
        source = {k: v for k, v in data.items() if k not in TASK_ONLY}
        for k, ann in enumerate(anns):
            if not isinstance(ann, dict):
                raise KpstanceError(f"{where}: annotation #{k + 1} is not an object", p)
            if ann.get("was_cancelled"):
                counts["cancelled"] += 1
                continue
            result = ann.get("result") or []
            if not isinstance(result, list):
                raise KpstanceError(f"{where}: annotation #{k + 1}: 'result' must be a list", p)
            labels = {h: _choice(result, h, where, p) for h in HEADS}
            for head, allowed in (("actor", scheme.actor_labels), ("stance", scheme.stance_labels)):
                if labels[head] is None:
                    raise KpstanceError(f"{where}: annotation #{k + 1} has no {head}", p)
                if labels[head] not in allowed:
                    raise KpstanceError(f"{where}: {head} '{labels[head]}' is not in the label scheme "
                                        f"{scheme.name} (allowed: {', '.join(allowed)}; tasks exported with another "
                                        "scheme are imported with --labels THAT_FILE)", p)
            a = Annotation(tid, uid, text, source, _annotator(ann.get("completed_by")), labels["actor"],
                           labels["stance"], _note(result),
                           (str(ann.get("updated_at") or ann.get("created_at") or ""), pos, k))
            key = (uid, a.annotator)
            if key in latest:
                counts["replaced"] += 1
                if latest[key].order > a.order:
                    continue
            latest[key] = a
            done += 1
        if not done:
            counts["unannotated"] += 1
    first = {uid: i for i, uid in enumerate(texts)}
    return sorted(latest.values(), key=lambda a: (first[a.unit], a.annotator)), counts


def kappa(a: Sequence[str], b: Sequence[str], labels: Sequence[str]) -> float | None:
    """Cohen's κ of two annotators' labels; ``None`` where it is undefined (both used one and the same label)."""
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = float(cohen_kappa_score(list(a), list(b), labels=list(labels)))
    return None if math.isnan(k) else round(k, 4)


def resolve(annotations: Sequence[Annotation], scheme: LabelScheme) -> tuple[list[dict], list[dict], list[dict]]:
    """Gold rows (one annotator, or all annotators agree), disagreement rows, and κ per annotator pair and head."""
    by_unit: dict[str, list[Annotation]] = {}
    for a in annotations:
        by_unit.setdefault(a.unit, []).append(a)
    gold, disagreements = [], []
    for uid, anns in by_unit.items():
        first = anns[0]
        base = {"id": uid, "text": first.text}
        source = {k: v for k, v in first.source.items() if k not in base}
        differs = [h for h in HEADS if len({getattr(a, h) for a in anns}) > 1]
        if differs:
            disagreements.append({**source, **base, "differs": differs,
                                  "labels": [{"annotator": a.annotator, "actor": a.actor, "stance": a.stance,
                                              "note": a.note} for a in anns]})
            continue
        notes = list(dict.fromkeys(a.note for a in anns if a.note))
        # the annotators' labels win over any task field of the same name (the source fields come first)
        gold.append({**source, **base, "actor": first.actor, "stance": first.stance, "note": " | ".join(notes),
                     "annotator": ", ".join(a.annotator for a in anns)})
    agreement = []
    annotators = sorted({a.annotator for a in annotations})
    for x, y in itertools.combinations(annotators, 2):
        shared = [(u[x], u[y]) for u in ({a.annotator: a for a in anns} for anns in by_unit.values())
                  if x in u and y in u]
        if not shared:
            continue
        row: dict[str, Any] = {"annotators": [x, y], "units": len(shared)}
        for head, labels in (("actor", scheme.actor_labels), ("stance", scheme.stance_labels)):
            la, lb = [getattr(s[0], head) for s in shared], [getattr(s[1], head) for s in shared]
            row[f"{head}_kappa"] = kappa(la, lb, labels)
            row[f"{head}_agreement"] = round(sum(p == q for p, q in zip(la, lb)) / len(shared), 4)
        agreement.append(row)
    return gold, disagreements, agreement


def disagreements_path(output: str | os.PathLike) -> Path:
    """``data/gold/x.jsonl`` → ``data/gold/x.disagreements.jsonl``."""
    out = Path(output)
    return out.with_name(f"{out.stem}.disagreements.jsonl")
