"""``kpstance annotate``: which units each strategy picks, the Label Studio files it writes, and the gold it reads back.

The export read back here is ``tests/fixtures/labelstudio_export.json``, written by a real Label Studio
server in ``test_annotate_labelstudio.py``; the other exports are built in the tests in the same format.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml
from helpers import ARTICLE, ARTICLE_ID, LABELS, ROOT, run_here

FIXTURE = ROOT / "tests" / "fixtures" / "labelstudio_export.json"


def _cands(rows):
    from kpstance.annotate.select import Candidate

    return [Candidate(f"u{i}", art, m, d) for i, (art, m, d) in enumerate(rows)]


# ----------------------------------------------------------------------------------------------- select


def test_margin_is_the_weaker_head():
    from kpstance.annotate.select import margin, unit_margin

    assert margin({"a": 0.6, "b": 0.3, "c": 0.1}) == pytest.approx(0.3)
    assert margin([1.0]) == 1.0
    assert unit_margin({"a": 0.9, "b": 0.1}, {"x": 0.5, "y": 0.45, "z": 0.05}) == pytest.approx(0.05)


def test_uncertainty_takes_the_lowest_margin_first():
    from kpstance.annotate.select import pick

    cands = _cands([("a", 0.5, 0), ("b", 0.1, 0), ("c", 0.3, 0), ("d", 0.9, 0)])
    assert pick(cands, 3, "uncertainty") == [1, 2, 0]


def test_disagreement_first_then_by_margin():
    from kpstance.annotate.select import pick

    cands = _cands([("a", 0.1, 0), ("b", 0.6, 1), ("c", 0.2, 2), ("d", 0.3, 1), ("e", 0.05, 0)])
    # both heads differ, then one head (lower margin first), then agreement by margin
    assert pick(cands, 5, "disagreement") == [2, 3, 1, 4, 0]


def test_random_is_seeded():
    from kpstance.annotate.select import pick

    cands = _cands([(f"a{i}", i / 100, 0) for i in range(40)])
    first = pick(cands, 10, "random", seed=3)
    assert first == pick(cands, 10, "random", seed=3)
    assert first != pick(cands, 10, "random", seed=4)
    assert len(set(first)) == 10
    assert first != pick(cands, 10, "uncertainty")


def test_no_article_fills_the_batch():
    from kpstance.annotate.select import article_cap, pick

    # article a holds the ten most uncertain units; three articles, n=6: at most two each
    cands = _cands([("a", i / 100, 0) for i in range(10)] + [("b", 0.5, 0), ("b", 0.6, 0), ("c", 0.7, 0),
                                                             ("c", 0.8, 0)])
    assert article_cap(6, cands) == 2
    taken = pick(cands, 6, "uncertainty")
    assert [cands[i].article for i in taken] == ["a", "a", "b", "b", "c", "c"]
    assert taken[:2] == [0, 1]


def test_short_articles_leave_room_for_the_others():
    from kpstance.annotate.select import pick

    # b has one unit; its unused share goes to a's next units, in priority order
    cands = _cands([("a", i / 10, 0) for i in range(8)] + [("b", 0.05, 0)])
    taken = pick(cands, 6, "uncertainty")
    assert taken == [0, 8, 1, 2, 3, 4]


def test_bad_n_and_strategy():
    from kpstance.annotate.select import pick
    from kpstance.errors import KpstanceError

    cands = _cands([("a", 0.1, 0)])
    with pytest.raises(KpstanceError, match="at least 1"):
        pick(cands, 0, "uncertainty")
    with pytest.raises(KpstanceError, match="unknown strategy"):
        pick(cands, 1, "entropy")


# ---------------------------------------------------------------------------------- labeling config


@pytest.fixture(scope="module")
def other_conflict(tmp_path_factory) -> Path:
    """The project's label YAML with another conflict's actors and stance names."""
    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    data["name"] = "kashmir"
    data["actors"] = {"india": {"aliases": ["India", "New Delhi"]}, "pakistan": {"aliases": ["Pakistan", "Islamabad"]},
                      "un_mission": {"aliases": ["UNMOGIP"]}}
    data["stances"] = ["escalatory", "restrained", "neutral"]
    data["stance_roles"] = {"coercive": "escalatory", "deescalating": "restrained", "neutral": "neutral"}
    data.pop("names")  # the speaker-swap names table is per conflict (and optional); the peninsula's names no actor here
    path = tmp_path_factory.mktemp("labels") / "kashmir.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_labeling_config_follows_the_label_yaml(other_conflict):
    from kpstance.annotate.labelstudio import labeling_config
    from kpstance.weak.scheme import load_scheme

    view = ET.fromstring(labeling_config(load_scheme(other_conflict)))
    assert view.tag == "View"
    choices = {c.get("name"): c for c in view.iter("Choices")}
    assert set(choices) == {"actor", "stance"}
    assert [c.get("value") for c in choices["actor"]] == ["india", "pakistan", "un_mission", "none"]
    assert [c.get("value") for c in choices["stance"]] == ["escalatory", "restrained", "neutral"]
    assert all(c.get("toName") == "text" and c.get("choice") == "single" for c in choices.values())
    assert [t.get("value") for t in view.iter("Text") if t.get("name") == "text"] == ["$text"]
    notes = list(view.iter("TextArea"))
    assert [(n.get("name"), n.get("toName")) for n in notes] == [("note", "text")]
    # every $variable the config reads is a field every exported task has
    used = {el.get("value")[1:] for el in view.iter() if (el.get("value") or "").startswith("$")}
    assert used == {"context", "prev_text", "text", "next_text"}


# ------------------------------------------------------------------------------------------- export


@pytest.fixture(scope="module")
def two_articles(tmp_path_factory) -> Path:
    """Sentences of two small articles, written for these tests, as a .jsonl file with article ids."""
    path = tmp_path_factory.mktemp("inputs") / "briefs.jsonl"
    lines = [("brief-a", "Beijing urged all sides to return to talks on the peninsula."),
             ("brief-a", "The foreign ministry spokesman said sanctions alone would not solve the problem."),
             ("brief-a", "He added that China opposed the deployment of new missile defence systems."),
             ("brief-b", "Tokyo said it would tighten its own sanctions on Pyongyang."),
             ("brief-b", "The Japanese defence minister called the launch a grave threat."),
             ("brief-b", "Officials met in Seoul on Tuesday.")]
    path.write_text("".join(json.dumps({"id": f"{a}-{i}", "article_id": a, "text": t, "outlet": "test"}) + "\n"
                            for i, (a, t) in enumerate(lines)), encoding="utf-8")
    return path


def test_export_tasks_shape(capsys, smoke_run, two_articles, tmp_path):
    out = tmp_path / "batch" / "tasks.json"
    out.parent.mkdir()
    r = run_here(capsys, "annotate", "export", str(smoke_run["model_dir"]), "--input", str(ARTICLE), str(two_articles),
                "--n", "6", "--output", str(out), "--strategy", "disagreement")
    assert r.returncode == 0, r.stderr
    assert "6 of 47 units (3 articles)" in r.stdout
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 6
    for rank, t in enumerate(tasks, start=1):
        d = t["data"]
        assert {"id", "text", "article_id", "source", "kind", "speaker", "context", "prev_text", "next_text",
                "rules_actor", "rules_stance", "rules_fired", "margin"} <= set(d)
        assert d["rank"] == rank and d["strategy"] == "disagreement"
        (pred,) = t["predictions"]
        res = {x["from_name"]: x for x in pred["result"]}
        assert set(res) == {"actor", "stance"}
        assert all(x["type"] == "choices" and x["to_name"] == "text" and 0 <= x["score"] <= 1 for x in res.values())
        assert res["actor"]["value"]["choices"] == [d["model_actor"]]
        assert pred["score"] == min(res["actor"]["score"], res["stance"]["score"])
    # disagreement order: more heads on which rules and model differ first, then lower margin
    keys = [(-((d["rules_actor"] != d["model_actor"]) + (d["rules_stance"] != d["model_stance"])), d["margin"])
            for d in (t["data"] for t in tasks)]
    arts = [t["data"]["article_id"] for t in tasks]
    assert max(arts.count(a) for a in set(arts)) <= 2  # three articles, n=6: at most two each
    assert keys == sorted(keys)  # the batch is listed in priority order
    by_id = {t["data"]["id"]: t["data"] for t in tasks}
    if "brief-a-1" in by_id:  # neighbours stay within the article
        assert by_id["brief-a-1"]["prev_text"].startswith("Beijing") and by_id["brief-a-1"]["outlet"] == "test"
    assert ET.fromstring(out.with_suffix(".xml").read_text(encoding="utf-8")).tag == "View"


def test_export_does_not_carry_a_predictions_tables_labels_or_model(capsys, smoke_run, tmp_path):
    """A predictions table given to export: its labels, scores and model column stay out of the tasks, where they
    would pose as gold on import (the model column would mark the gold as another model's predictions)."""
    src = tmp_path / "pred.jsonl"
    src.write_text(json.dumps({"id": "u1", "text": "Moscow called for talks.", "actor": "china", "stance": "neutral",
                               "actor_score": 0.5, "model": "some_run", "outlet": "TASS"}) + "\n", encoding="utf-8")
    out = tmp_path / "tasks.json"
    r = run_here(capsys, "annotate", "export", str(smoke_run["model_dir"]), "--input", str(src), "--n", "1", "--output", str(out))
    assert r.returncode == 0, r.stderr
    (task,) = json.loads(out.read_text(encoding="utf-8"))
    assert task["data"]["outlet"] == "TASS"
    assert not {"actor", "stance", "actor_score", "model"} & set(task["data"]), task["data"]


def test_export_uncertainty_and_random(smoke_run, tmp_path):
    from kpstance.annotate.commands import export_tasks

    def ids(name, n, strategy, seed=0):
        export_tasks(str(smoke_run["model_dir"]), [str(ARTICLE)], n, str(tmp_path / name), strategy, seed)
        return [t["data"] for t in json.loads((tmp_path / name).read_text(encoding="utf-8"))]

    every = ids("all.json", 1000, "uncertainty")
    assert len(every) == 41 and len({d["id"] for d in every}) == 41
    margins = [d["margin"] for d in every]
    assert margins == sorted(margins)
    assert [d["id"] for d in ids("five.json", 5, "uncertainty")] == [d["id"] for d in every[:5]]
    first = [d["id"] for d in ids("r1.json", 5, "random", seed=1)]
    assert first == [d["id"] for d in ids("r1b.json", 5, "random", seed=1)]
    assert first != [d["id"] for d in ids("r2.json", 5, "random", seed=2)]
    unit = every[0]
    assert unit["speaker"] == "" or unit["context"].endswith(unit["speaker"])


def test_export_refuses_a_scheme_the_model_was_not_trained_on(capsys, smoke_run, other_conflict, tmp_path):
    r = run_here(capsys, "annotate", "export", str(smoke_run["model_dir"]), "--input", str(ARTICLE), "--n", "3",
                "--output", str(tmp_path / "t.json"), "--labels", str(other_conflict))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "do not match" in r.stderr and not (tmp_path / "t.json").exists()


def test_export_errors_name_the_file(capsys, smoke_run, two_articles, tmp_path):
    missing = tmp_path / "nope.txt"
    r = run_here(capsys, "annotate", "export", str(smoke_run["model_dir"]), "--input", str(missing), "--n", "3",
                "--output", str(tmp_path / "t.json"))
    assert r.returncode == 2 and str(missing) in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_here(capsys, "annotate", "export", str(smoke_run["model_dir"]), "--input", str(two_articles), str(two_articles),
                "--n", "3", "--output", str(tmp_path / "t.json"))
    assert r.returncode == 2 and "brief-a-0" in r.stderr and str(two_articles) in r.stderr


# ------------------------------------------------------------------------------------------- import


def test_import_the_real_servers_export(capsys, tmp_path):
    from kpstance.corpora import load_gold
    from kpstance.text.segment import segment_article
    from kpstance.weak.scheme import load_scheme

    out = tmp_path / "gold" / "lavrov.jsonl"
    out.parent.mkdir()
    r = run_here(capsys, "annotate", "import", str(FIXTURE), "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert "12 annotations of 8 tasks (1 without one, 1 cancelled skipped" in r.stdout
    assert "user-1 vs user-2 on 5 units: actor kappa 0.583 (agreement 0.80), stance kappa 0.545" in r.stdout
    units = segment_article(ARTICLE.read_text(encoding="utf-8"), ARTICLE_ID)
    gold = load_gold(out, load_scheme(LABELS), units)  # the segmenter's ids and texts, labels in the scheme
    assert len(gold) == 5
    first = gold["tass-2017-11-24-lavrov-032"]
    assert first["note"] == "checked against the guideline" and first["annotator"] == "user-1, user-2"
    assert first["source"] == "data/raw/tass-2017-11-24-lavrov.txt" and first["article_id"] == ARTICLE_ID
    assert not {"prev_text", "rules_actor", "model_actor", "margin"} & set(first)
    dis = [json.loads(x) for x in out.with_name("lavrov.disagreements.jsonl").read_text().splitlines()]
    assert [d["differs"] for d in dis] == [["actor"], ["stance"]]
    assert {x["annotator"] for x in dis[0]["labels"]} == {"user-1", "user-2"}


def _task(tid, uid, text, *anns):
    return {"id": tid, "data": {"id": uid, "text": text, "article_id": "toy", "source": "toy.txt", "kind": "sentence",
                                "prev_text": "", "next_text": "", "rules_actor": "none"},
            "annotations": list(anns)}


def _ann(who, actor, stance, note="", cancelled=False, at="2026-01-01T00:00:00Z"):
    result = [{"from_name": "actor", "to_name": "text", "type": "choices", "value": {"choices": [actor]}},
              {"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [stance]}}]
    if note:
        result.append({"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [note]}})
    return {"completed_by": who, "result": [] if cancelled else result, "was_cancelled": cancelled,
            "updated_at": at}


A = {"id": 7, "email": "ann@example.org"}
B = {"id": 9, "email": "ben@example.org"}


def test_kappa_and_disagreements_of_two_annotators(capsys, tmp_path):
    from sklearn.metrics import cohen_kappa_score

    pairs = [("china", "conciliatory", "china", "conciliatory"), ("russia", "neutral", "russia", "hardline"),
             ("none", "neutral", "none", "neutral"), ("japan", "hardline", "united_states", "hardline"),
             ("china", "hardline", "china", "hardline")]
    tasks = [_task(i + 1, f"toy-{i}", f"Sentence {i}.", _ann(A, a1, s1, note="a's note" if i == 2 else ""),
                   _ann(B, a2, s2)) for i, (a1, s1, a2, s2) in enumerate(pairs)]
    tasks.append(_task(6, "toy-5", "Only ann.", _ann(A, "united_nations", "neutral"), _ann(B, "none", "neutral",
                                                                                          cancelled=True)))
    tasks.append(_task(7, "toy-6", "Ann twice.", _ann(A, "none", "neutral", at="2026-01-01T00:00:00Z"),
                       _ann(A, "china", "neutral", at="2026-01-02T00:00:00Z")))
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    out = tmp_path / "toy.jsonl"
    r = run_here(capsys, "annotate", "import", str(export), "--output", str(out))
    assert r.returncode == 0, r.stderr
    ka = cohen_kappa_score([p[0] for p in pairs], [p[2] for p in pairs])
    ks = cohen_kappa_score([p[1] for p in pairs], [p[3] for p in pairs])
    assert f"ann@example.org vs ben@example.org on 5 units: actor kappa {ka:.3f}" in r.stdout
    assert f"stance kappa {ks:.3f}" in r.stdout
    assert "1 cancelled skipped, 1 replaced by a later one" in r.stdout
    gold = {g["id"]: g for g in map(json.loads, out.read_text().splitlines())}
    assert set(gold) == {"toy-0", "toy-2", "toy-4", "toy-5", "toy-6"}
    assert gold["toy-2"]["note"] == "a's note" and gold["toy-2"]["annotator"] == "ann@example.org, ben@example.org"
    assert gold["toy-5"]["annotator"] == "ann@example.org" and gold["toy-6"]["actor"] == "china"
    dis = [json.loads(x) for x in (tmp_path / "toy.disagreements.jsonl").read_text().splitlines()]
    assert [(d["id"], d["differs"]) for d in dis] == [("toy-1", ["stance"]), ("toy-3", ["actor"])]
    assert dis[1]["labels"] == [{"annotator": "ann@example.org", "actor": "japan", "stance": "hardline", "note": ""},
                                {"annotator": "ben@example.org", "actor": "united_states", "stance": "hardline",
                                 "note": ""}]


def test_one_annotator_writes_no_disagreements_file(capsys, tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([_task(1, "toy-0", "One.", _ann(A, "china", "neutral"))]), encoding="utf-8")
    r = run_here(capsys, "annotate", "import", str(export), "--output", str(tmp_path / "g.jsonl"))
    assert r.returncode == 0, r.stderr
    assert "kappa" not in r.stdout and not (tmp_path / "g.disagreements.jsonl").exists()


def test_a_reimport_without_overlap_removes_the_stale_disagreements_file(capsys, tmp_path):
    out = tmp_path / "g.jsonl"
    two = [_task(1, "toy-0", "One.", _ann(A, "china", "neutral"), _ann(B, "russia", "neutral"))]
    (tmp_path / "e1.json").write_text(json.dumps(two), encoding="utf-8")
    assert run_here(capsys, "annotate", "import", str(tmp_path / "e1.json"), "--output", str(out)).returncode == 0
    assert (tmp_path / "g.disagreements.jsonl").is_file()
    one = [_task(1, "toy-0", "One.", _ann(A, "china", "neutral"))]
    (tmp_path / "e2.json").write_text(json.dumps(one), encoding="utf-8")
    assert run_here(capsys, "annotate", "import", str(tmp_path / "e2.json"), "--output", str(out)).returncode == 0
    assert not (tmp_path / "g.disagreements.jsonl").exists()


@pytest.mark.parametrize("content, message", [
    (json.dumps([_task(41, "toy-0", "One.", _ann(A, "mars", "neutral"))]), "task 41 (unit toy-0): actor 'mars'"),
    (json.dumps([_task(45, "toy-0", "One.", _ann(A, "mars", "neutral"))]), "imported with --labels THAT_FILE"),
    (json.dumps([_task(42, "toy-0", "One.", _ann(A, "china", "furious"))]), "task 42 (unit toy-0): stance 'furious'"),
    (json.dumps([_task(43, "toy-0", "One.", {"completed_by": 1, "result": [
        {"from_name": "actor", "type": "choices", "value": {"choices": ["china"]}}]})]), "task 43 (unit toy-0): "
                                                                                          "annotation #1 has no stance"),
    ('[{"id": 1, "data": {"id": "x", "text": "y"}, "annotations": [', "not valid JSON"),
    ('{"tasks": []}', "expected a JSON list of tasks"),
    (json.dumps([{"id": 5, "data": {"text": "no id"}, "annotations": []}]), "task 5: data needs the unit's 'id'"),
    (json.dumps([_task(44, "toy-0", "   ", _ann(A, "china", "neutral"))]), "task 44 (unit toy-0): 'text' is empty"),
    (json.dumps([_task(1, "toy-0", "One.", _ann(A, "china", "neutral", cancelled=True))]), "no completed annotations"),
])
def test_import_errors_are_one_line_naming_the_file(capsys, tmp_path, content, message):
    export = tmp_path / "export.json"
    export.write_text(content, encoding="utf-8")
    out = tmp_path / "g.jsonl"
    r = run_here(capsys, "annotate", "import", str(export), "--output", str(out))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"kpstance: error: {export}") and message in r.stderr
    assert not out.exists()


def test_import_a_missing_export(capsys, tmp_path):
    r = run_here(capsys, "annotate", "import", str(tmp_path / "none.json"), "--output", str(tmp_path / "g.jsonl"))
    assert r.returncode == 2 and "none.json: file not found" in r.stderr


def test_task_fields_named_like_gold_labels_never_overwrite_the_annotators_labels(capsys, tmp_path):
    task = _task(1, "toy-0", "One.", _ann(A, "china", "conciliatory", note="mine"))
    task["data"].update(actor="russia", stance="hardline", note="from the task", annotator="nobody", outlet="Ours")
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task]), encoding="utf-8")
    r = run_here(capsys, "annotate", "import", str(export), "--output", str(tmp_path / "g.jsonl"))
    assert r.returncode == 0, r.stderr
    (gold,) = map(json.loads, (tmp_path / "g.jsonl").read_text().splitlines())
    assert (gold["actor"], gold["stance"], gold["note"], gold["annotator"]) == ("china", "conciliatory", "mine",
                                                                              "ann@example.org")
    assert gold["outlet"] == "Ours"  # other source fields are carried through
