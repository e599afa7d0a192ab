"""``kpstance annotate export`` and ``import``: the saved model and the rules on one side, files on the other.

Export reads its inputs exactly as ``kpstance predict`` does (articles are segmented, ``.jsonl`` lines
are taken as given), so the ids in the tasks are the ids ``predict`` and the gold reader use.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..weak.scheme import load_scheme
from . import labelstudio as ls
from .select import Candidate, pick


def export_tasks(model_dir: str, inputs: Sequence[str], n: int, output: str, strategy: str = "uncertainty",
                 seed: int = 0, labels: str | None = None, batch_size: int = 64, device: str = "cpu") -> dict:
    """Write the ``n`` units most worth labelling as Label Studio tasks, and the labeling config beside them."""
    from ..files import check_outputs, json_text, write_together
    from ..systems.predictor import StancePredictor, model_scheme
    from ..text.read import file_units, iter_inputs
    from ..weak.label import label_units

    if n < 1:  # refused before the model is loaded and every input predicted
        raise KpstanceError(f"--n must be at least 1, got {n}")
    out = Path(output)
    config_path = out.with_suffix(".xml")
    if config_path == out:
        raise KpstanceError("the tasks file must not end in .xml (the labeling config is written beside it)", out)
    check_outputs([out, config_path], [*inputs, model_dir, labels])
    scheme = model_scheme(model_dir, labels)
    predictor = StancePredictor.load(model_dir, device=device, expected_labels={
        "actor": scheme.actor_labels, "stance": scheme.stance_labels})
    rows = list(iter_inputs(list(inputs)))
    if not rows:
        raise KpstanceError(f"no units in {', '.join(inputs)}")
    # the rules, per input file in order (as `kpstance label`): a .jsonl file's lines are one article
    units: list[Any] = []
    for path, group in itertools.groupby(rows, key=lambda row: row[0]):  # iter_inputs yields file by file
        units += file_units(path, [(r, w) for _, r, w in group])
    rules = label_units(units, scheme)
    preds: list[dict] = []
    truncated: list[int] = []
    for chunk in predictor.predict_rows(rows, scheme, batch_size):  # as `kpstance predict` reads them
        truncated += [len(preds) + i for i in predictor.truncated]
        preds += [p for _, p in chunk]
    if truncated:
        import sys

        print(f"kpstance: warning: {len(truncated)} unit(s) longer than {predictor.max_length} tokens were "
              f"truncated for the model (first: {rows[truncated[0]][1]['text'][:60]!r})", file=sys.stderr)

    ids: dict[str, str] = {}
    arts: list[str] = []
    for (path, rec, where), u in zip(rows, units):
        uid = str(rec.get("id") or u.id)
        loc = f"{path}:{where}" if isinstance(where, int) else path
        if uid in ids:
            raise KpstanceError(f"unit id '{uid}' also comes from {ids[uid]}; ids must be unique across inputs", loc)
        ids[uid] = loc
        arts.append(str(rec.get("article_id") or rec.get("report_id") or u.article_id))
    cands = [Candidate.of(uid, art, p, (s.actor, s.stance)) for uid, art, p, s in zip(ids, arts, preds, rules)]
    chosen = pick(cands, n, strategy, seed)

    def neighbour(i: int, step: int) -> str:
        j = i + step
        if 0 <= j < len(rows) and rows[j][0] == rows[i][0] and arts[j] == arts[i]:
            return rows[j][1]["text"]
        return ""

    version = str(predictor.meta.get("run_name") or Path(model_dir).resolve().name)
    tasks = []
    for rank, i in enumerate(chosen, start=1):
        path, rec, _ = rows[i]
        p, s, c = preds[i], rules[i], cands[i]
        kind = rec.get("kind") or units[i].kind
        speaker = p["speaker"]
        data = {k: v for k, v in rec.items() if k not in ls.NOT_CARRIED}
        data.update({
            "id": c.id, "text": rec["text"], "article_id": c.article, "source": str(path), "kind": kind,
            "speaker": speaker or "",
            "context": f"{kind} in {c.article}" + (f"; speaker: {speaker}" if speaker else ""),
            "prev_text": neighbour(i, -1), "next_text": neighbour(i, 1),
            "rules_actor": s.actor, "rules_stance": s.stance, "rules_fired": s.rules_fired,
            "model_actor": p["actor"], "model_stance": p["stance"],
            "model_actor_score": p["actor_score"], "model_stance_score": p["stance_score"],
            "margin": round(c.margin, 6), "strategy": strategy, "rank": rank,
        })
        tasks.append(ls.make_task(data, p, version))
    write_together({out: json_text(tasks), config_path: ls.labeling_config(scheme)})  # both or neither
    return {"tasks": len(tasks), "units": len(rows), "articles": len(set(arts)), "output": str(out),
            "config": str(config_path), "strategy": strategy}


def import_gold(export: str, output: str, labels: str | None = None) -> dict:
    """Write the gold JSON Lines (and the disagreements beside it) from a Label Studio JSON export."""
    from ..files import check_outputs, write_jsonl
    from ..weak.scheme import default_labels

    out = Path(output)
    dis_path = ls.disagreements_path(out)
    check_outputs([out, dis_path], [export, labels])
    scheme = load_scheme(labels or default_labels())
    annotations, counts = ls.read_export(export, scheme)
    if not annotations:
        raise KpstanceError("holds no completed annotations", export)
    gold, disagreements, agreement = ls.resolve(annotations, scheme)
    task_of = {a.unit: a.task for a in annotations}
    for g in gold:  # the rule training checks, here where the annotation can still be fixed
        if g["actor"] == scheme.none_actor and g["stance"] != scheme.neutral_stance:
            raise KpstanceError(f"task {task_of[g['id']]} (unit {g['id']}): actor '{scheme.none_actor}' goes with "
                                f"stance '{scheme.neutral_stance}', not '{g['stance']}' (training would refuse it; "
                                "fix the annotation in Label Studio and export again)", export)
    write_jsonl(out, gold)  # empty when every unit was disagreed on: the gold reader then says so
    removed = None
    if agreement:  # two annotators met on some unit: the disagreements file is written, empty or not
        write_jsonl(dis_path, disagreements)
    elif dis_path.is_file():  # left by an earlier import into the same gold file: it no longer describes it
        dis_path.unlink()
        removed = str(dis_path)
    return {**counts, "removed": removed, "annotations": len(annotations), "gold": len(gold),
            "disagreements": len(disagreements),
            "agreement": agreement, "output": str(out),
            "disagreements_file": str(dis_path) if agreement else None}
