"""Error analysis of a finished run as Markdown: where the model and the rules fail on a multi-source split.

A run folder holds ``report.json`` (per-class and per-phenomenon scores of every scored system) and
``multisource_predictions.jsonl`` (every dev and test unit with each system's labels and scores).
``kpstance report RUN_DIR`` turns them into the tables researchers read first: per-actor and
per-stance scores of the rules beside the model, per-phenomenon accuracy, confusion matrices, and
the model's most confident errors (the ones a user is least warned about).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import KpstanceError
from ..text.read import iter_jsonl

SYSTEMS = ("rules", "model")


ROW_FIELDS = ("id", "split", "text", "gold_actor", "gold_stance")  # what every table reads of a predictions row


def _not_a_run_folder(root: Path) -> None:
    """A model folder, or a run that stopped on an error, named for what it is rather than for a missing file."""
    meta = root / "kpstance.json"
    if meta.is_file() and (root / "model.safetensors").is_file():
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            run, run_dir = info.get("run_name"), info.get("run_dir")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            run = run_dir = None
        raise KpstanceError("a model folder, not a run folder" + (f": its run's folder is {run_dir}" if run_dir else
                                                                  f" (of run {run})" if run else ""), root)
    failed = root / "failed.json"
    if failed.is_file() and not (root / "run_info.json").is_file():
        try:
            why = json.loads(failed.read_text(encoding="utf-8"))
            why = f"{why.get('error', '')}: {why.get('message', '')}".strip(": ")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            why = ""
        raise KpstanceError("the run failed" + (f" ({why})" if why else "") + ", so it has no report", root)


def load_run(run_dir: str | Path) -> tuple[dict, list[dict]]:
    """``report.json``'s multi-source part and the rows of ``multisource_predictions.jsonl`` of a finished run.

    A run writes ``run_info.json`` last, so a folder without it is a run that was refused, crashed or killed
    (during the model save, say): its files may be missing or stale, and it is refused."""
    root = Path(run_dir)
    if not root.exists():
        raise KpstanceError("no such folder (give a run folder under outputs/, e.g. outputs/default/runs/<run>)", root)
    report_path, rows_path = root / "report.json", root / "multisource_predictions.jsonl"
    _not_a_run_folder(root)
    for p in (report_path, rows_path):
        if not p.is_file():
            raise KpstanceError("not a finished run folder scored on the multi-source corpus (missing "
                                f"{p.name})", root)
    try:
        report = json.loads(report_path.read_text(encoding="utf-8")).get("multisource", {})
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise KpstanceError("not a report.json written by train.py", report_path) from None
    if not (root / "run_info.json").is_file():
        # (a run marked failed.json was named for that above)
        raise KpstanceError("the run did not finish (no run_info.json): it was stopped before its end", root)
    rows = []
    for line, rec in iter_jsonl(rows_path):
        for system in SYSTEMS:  # a system's fields come all together, or not at all
            if any(f"{system}_{h}" in rec for h in ("actor", "stance")):
                need = [f"{system}_{h}{s}" for h in ("actor", "stance") for s in ("", "_score")]
                if missing := [k for k in need if k not in rec]:
                    raise KpstanceError(f"missing field(s) {', '.join(missing)}", rows_path, line)
        if missing := [k for k in ROW_FIELDS if k not in rec]:
            raise KpstanceError(f"missing field(s) {', '.join(missing)} (not a row train.py wrote)", rows_path, line)
        rows.append(rec)
    return report, rows


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])


def per_class_table(report: dict, split: str, head: str) -> str:
    """Precision, recall and F1 per label: rules beside model."""
    by = {s: {r["label"]: r for r in report[f"{split}/{s}"][head]} for s in SYSTEMS if f"{split}/{s}" in report}
    labels = [r["label"] for r in next(iter(report[f"{split}/{s}"][head] for s in by))]
    header = [head, "n"] + [f"{s} {m}" for s in by for m in ("P", "R", "F1")]
    rows = [[lab, next(iter(by.values()))[lab]["support"]]
            + [by[s][lab][m] for s in by for m in ("precision", "recall", "f1")] for lab in labels]
    return _table(header, rows)


def per_phenomenon_table(report: dict, split: str) -> str:
    """Actor, stance and joint accuracy per phenomenon tag: rules beside model."""
    by = {s: {r["phenomenon"]: r for r in report[f"{split}/{s}"]["phenomena"]} for s in SYSTEMS
          if f"{split}/{s}" in report}
    tags = sorted({t for rows in by.values() for t in rows})
    header = ["phenomenon", "n"] + [f"{s} {m}" for s in by for m in ("actor", "stance", "joint")]
    rows = [[t, next(r[t]["n"] for r in by.values() if t in r)]
            + [by[s][t][f"{m}_accuracy"] if t in by[s] else "–" for s in by for m in ("actor", "stance", "joint")]
            for t in tags]
    return _table(header, rows)


def confusion_table(rows: Sequence[dict], split: str, system: str, head: str, order: Sequence[str] = ()) -> str:
    """Gold in rows, prediction in columns (scikit-learn's confusion matrix), labels in the scheme's ``order``."""
    from sklearn.metrics import confusion_matrix

    sel = [r for r in rows if r["split"] == split and f"{system}_{head}" in r]
    seen = {r[f"gold_{head}"] for r in sel} | {r[f"{system}_{head}"] for r in sel}
    labels = [lab for lab in order if lab in seen] + sorted(seen - set(order))
    m = confusion_matrix([r[f"gold_{head}"] for r in sel], [r[f"{system}_{head}"] for r in sel], labels=labels)
    return _table([f"gold \\ {system}"] + labels, [[lab] + [int(v) for v in m[i]] for i, lab in enumerate(labels)])


def worst_errors(rows: Sequence[dict], split: str, n: int = 20, system: str = "model") -> list[dict]:
    """The system's wrong units, most confident first: the confidence of a wrong unit is the lower of its
    two heads' scores when both are wrong, else the wrong head's score."""
    out = []
    for r in rows:
        if r["split"] != split or f"{system}_actor" not in r:
            continue
        wrong = [h for h in ("actor", "stance") if r[f"{system}_{h}"] != r[f"gold_{h}"]]
        if wrong:
            out.append({**r, "wrong": wrong, "confidence": min(r[f"{system}_{h}_score"] for h in wrong)})
    return sorted(out, key=lambda r: (-r["confidence"], r["id"]))[:n]


def worst_errors_table(rows: Sequence[dict], split: str, n: int = 20, system: str = "model") -> str:
    errs = worst_errors(rows, split, n, system)
    return _table(["id", "text", "gold", system, "score"],
                  [[e["id"], e["text"], f"{e['gold_actor']}/{e['gold_stance']}",
                    f"{e[f'{system}_actor']}/{e[f'{system}_stance']}", round(e["confidence"], 3)] for e in errs])


def run_report(run_dir: str | Path, split: str = "test", worst: int = 20) -> str:
    """Every table for one split of one run, as one Markdown document."""
    if worst < 0:
        raise KpstanceError(f"--worst must be 0 or more, got {worst}")
    report, rows = load_run(run_dir)
    if f"{split}/model" not in report and f"{split}/rules" not in report:
        raise KpstanceError(f"the run has no scores on the '{split}' split", Path(run_dir) / "report.json")
    parts = [f"# Error analysis: {Path(run_dir).name}, multi-source {split} split", ""]
    for head in ("actor", "stance"):
        parts += [f"## Per {head}", "", per_class_table(report, split, head), ""]
    parts += ["## Per phenomenon (accuracy)", "", per_phenomenon_table(report, split), ""]
    for system in SYSTEMS:
        for head in ("actor", "stance"):
            if any(f"{system}_{head}" in r for r in rows):
                order = [r["label"] for r in report.get(f"{split}/{system}", {}).get(head, [])]
                parts += [f"## Confusion matrix: {system}, {head}", "",
                          confusion_table(rows, split, system, head, order), ""]
    if any("model_actor" in r for r in rows):
        parts += [f"## The model's {worst} most confident errors", "", worst_errors_table(rows, split, worst), ""]
    return "\n".join(parts)
