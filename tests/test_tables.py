"""``kpstance report``: the error analysis of a run folder."""

from __future__ import annotations

import json

from helpers import run_here


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "multisource_predictions.jsonl").read_text().splitlines()]


def test_confusion_matrix_counts_every_unit_of_the_split_once(smoke_run):
    from kpstance.eval.tables import confusion_table

    rows = _rows(smoke_run["tmp"] / "run")
    table = confusion_table(rows, "dev", "model", "stance", ["hardline", "conciliatory", "neutral"])
    body = [line.split("|")[2:-1] for line in table.splitlines()[2:]]
    assert sum(int(v) for r in body for v in r) == sum(r["split"] == "dev" for r in rows)
    diag = sum(int(r[i]) for i, r in enumerate(body))
    assert diag == sum(r["split"] == "dev" and r["model_stance"] == r["gold_stance"] for r in rows)


def test_worst_errors_are_wrong_and_most_confident_first():
    from kpstance.eval.tables import worst_errors

    def row(i, gold, pred, score):
        return {"id": i, "split": "test", "text": i, "gold_actor": gold, "gold_stance": "neutral",
                "model_actor": pred, "model_stance": "neutral", "model_actor_score": score, "model_stance_score": 0.9}

    rows = [row("a", "china", "china", 0.99), row("b", "china", "russia", 0.6), row("c", "japan", "none", 0.95),
            {**row("d", "japan", "japan", 0.9), "split": "dev", "model_actor": "none"}]
    assert [e["id"] for e in worst_errors(rows, "test")] == ["c", "b"]
    assert worst_errors(rows, "test", 1)[0]["wrong"] == ["actor"]


def test_report_command_writes_every_table(capsys, smoke_run, tmp_path):
    out = tmp_path / "report.md"
    r = run_here(capsys, "report", str(smoke_run["tmp"] / "run"), "--split", "dev", "--worst", "5", "--output", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    for title in ("## Per actor", "## Per stance", "## Per phenomenon", "## Confusion matrix: rules, actor",
                  "## Confusion matrix: model, stance", "most confident errors"):
        assert title in text


def test_report_on_a_folder_that_is_not_a_run_is_one_line(capsys, tmp_path):
    r = run_here(capsys, "report", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "report.json" in r.stderr and str(tmp_path) in r.stderr


def test_a_corrupt_report_is_one_line(capsys, tmp_path):
    (tmp_path / "report.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "multisource_predictions.jsonl").write_text("", encoding="utf-8")
    r = run_here(capsys, "report", str(tmp_path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "report.json" in r.stderr


def test_a_predictions_row_without_a_field_the_tables_read_is_one_line(capsys, smoke_run, tmp_path):
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(smoke_run["tmp"] / "run", run)
    rows = (run / "multisource_predictions.jsonl").read_text(encoding="utf-8").splitlines()
    for field, line in (("gold_actor", 2), ("model_stance_score", 3)):
        broken = [json.loads(r) for r in rows]
        del broken[line - 1][field]
        (run / "multisource_predictions.jsonl").write_text("\n".join(map(json.dumps, broken)) + "\n", encoding="utf-8")
        r = run_here(capsys, "report", str(run), "--split", "dev")
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert f"multisource_predictions.jsonl:{line}: missing field(s) {field}" in r.stderr
