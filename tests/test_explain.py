"""``kpstance predict --explain``: the context the model read and the rules' labels, beside the model's, in every
output format and on the resumable path; the rules agree unit by unit with ``kpstance label``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import LABELS, ROOT, cli

EXPLAIN = ["context", "rules_actor", "rules_stance", "rules_fired"]

# our own sentences: reported speech whose speaker carries into "He added ..." (the rules and the context need it)
ARTICLE = """Moscow warns against new drills near Korea
MOSCOW, Nov. 24, 2017 -- Russian Foreign Minister Sergei Lavrov said on Friday that the joint drills near the \
Korean Peninsula only fuel tensions.
He added that Moscow backs the freeze-for-freeze proposal put forward by Beijing.
"We call on Washington to stop provoking Pyongyang," Lavrov told reporters.
Japanese Prime Minister Shinzo Abe said pressure on North Korea must continue.
He also urged tighter sanctions against the North.
"""
UNITS = [
    {"text": "Chinese Foreign Ministry spokesman Geng Shuang said dialogue was the only way out.", "id": "g1"},
    {"text": "He added that China opposes any military option on the peninsula.", "id": "g2"},
    {"text": "South Korea's President Moon Jae-in urged calm.", "id": "g3", "speaker": "Moon Jae-in"},
    {"text": "Seoul will keep the door to talks open, he said."},
]


def read_table(path: Path) -> list[dict]:
    import csv

    import pyarrow.parquet as pq

    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def corpus(tmp_path) -> list[str]:
    """A .txt article and a .jsonl file of units, as the inputs of one run."""
    (tmp_path / "lavrov.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "units.jsonl").write_text("".join(json.dumps(u) + "\n" for u in UNITS), encoding="utf-8")
    return [str(tmp_path / "lavrov.txt"), str(tmp_path / "units.jsonl")]


def predict(capsys, model: str, inputs: list[str], out: Path | None, *extra: str) -> list[dict]:
    args = ["predict", model, "--input", *inputs, "--labels", str(LABELS), *extra]
    code, stdout, err = cli(capsys, *args, *(["--output", str(out)] if out else []))
    assert code == 0, err
    return read_table(out) if out else [json.loads(line) for line in stdout.splitlines()]


def test_explain_columns_in_every_format_and_only_with_the_flag(capsys, smoke_run, tmp_path, corpus):
    model = str(smoke_run["model_dir"])
    tables = {ext: predict(capsys, model, corpus, tmp_path / f"o.{ext}", "--explain", "--probs")
              for ext in ("jsonl", "csv", "parquet")}
    tables["stdout"] = predict(capsys, model, corpus, None, "--explain")
    n = 7 + len(UNITS)  # the title, the dateline and five sentences
    for name, t in tables.items():
        assert len(t) == n, name
        if name != "jsonl" and name != "stdout":  # after the fixed columns, before the probabilities
            cols = list(t[0])
            assert cols[15:19] == EXPLAIN and cols[19].startswith("actor_p_"), cols
    jl = tables["jsonl"]
    assert list(jl[0])[14:20] == ["model", *EXPLAIN, "actor_probs"]
    assert all(isinstance(r["rules_fired"], list) and r["rules_fired"] for r in jl)
    for name in ("csv", "parquet", "stdout"):
        for a, b in zip(jl, tables[name]):
            assert (a["context"], a["rules_actor"], a["rules_stance"]) == \
                (b["context"], b["rules_actor"], b["rules_stance"]), name
            fired = b["rules_fired"] if name == "stdout" else b["rules_fired"].split(";")
            assert fired == a["rules_fired"], name
    for ext in ("jsonl", "csv", "parquet"):  # without the flag: not a column
        plain = predict(capsys, model, corpus, tmp_path / f"p.{ext}")
        assert not set(EXPLAIN) & set(plain[0]), ext
        assert [r["actor"] for r in plain] == [r["actor"] for r in jl]


def test_rules_agree_unit_by_unit_with_kpstance_label(capsys, smoke_run, tmp_path, corpus):
    rows = predict(capsys, str(smoke_run["model_dir"]), corpus, tmp_path / "o.jsonl", "--explain")
    code, out, err = cli(capsys, "label", "--input", *corpus, "--labels", str(LABELS))
    assert code == 0, err
    silver = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in rows] == [s["text"] for s in silver]
    assert [(r["rules_actor"], r["rules_stance"], r["rules_fired"]) for r in rows] == \
        [(s["actor"], s["stance"], s["rules_fired"]) for s in silver]
    by_text = {r["text"]: r for r in rows}
    # "He added ..." is labelled by who spoke before it, in the article and among the .jsonl file's lines alike
    assert by_text[UNITS[1]["text"]]["rules_actor"] == "china"
    assert by_text["He also urged tighter sanctions against the North."]["rules_actor"] == "japan"


def test_context_is_what_the_model_read(capsys, smoke_run, tmp_path, corpus):
    from kpstance.systems.context import format_context

    model = smoke_run["model_dir"]
    assert json.loads((model / "kpstance.json").read_text(encoding="utf-8"))["context"] is True
    rows = predict(capsys, str(model), corpus, tmp_path / "o.parquet", "--explain")
    assert [r["context"] for r in rows] == [format_context(r["kind"], r["speaker"]) for r in rows]
    by_text = {r["text"]: r for r in rows}
    carried = by_text["He also urged tighter sanctions against the North."]
    assert "Shinzo Abe" in carried["speaker"] and carried["context"] == f"sentence; speaker: {carried['speaker']}"
    assert by_text[UNITS[2]["text"]]["context"] == "sentence; speaker: Moon Jae-in"  # a .jsonl line's own speaker
    assert rows[0]["context"] == "title; speaker: -"
    blind = tmp_path / "blind"  # the same model, trained without context: nothing was read besides the text
    shutil.copytree(model, blind)
    meta = json.loads((blind / "kpstance.json").read_text(encoding="utf-8"))
    (blind / "kpstance.json").write_text(json.dumps({**meta, "context": False}), encoding="utf-8")
    for ext in ("jsonl", "csv"):
        rows = predict(capsys, str(blind), corpus, tmp_path / f"b.{ext}", "--explain")
        assert {r["context"] for r in rows} == ({None} if ext == "jsonl" else {""})
        assert all(r["rules_actor"] for r in rows)


def test_resume_writes_the_same_explain_columns(capsys, smoke_run, tmp_path):
    model = str(smoke_run["model_dir"])
    src = tmp_path / "txt"
    src.mkdir()
    for i, body in enumerate(ARTICLE.split("\n")[1:-1]):  # an article per sentence, the first line its title
        (src / f"a{i}.txt").write_text(f"Headline {i}\n{body}\n", encoding="utf-8")
    whole = predict(capsys, model, [str(src)], tmp_path / "whole.csv", "--explain")
    out = tmp_path / "out.csv"
    cmd = [sys.executable, "-m", "kpstance.cli", "predict", model, "--input", str(src), "--labels", str(LABELS),
           "--output", str(out), "--resume", "--chunk-size", "2", "--explain"]
    killed = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={**os.environ, "KPSTANCE_FAULT": "shard-1-listed"})
    assert killed.returncode == -9, killed.stderr  # SIGKILL after two shards
    # the shards were written with --explain: a run without it must not resume them
    code, _, err = cli(capsys, "predict", model, "--input", str(src), "--labels", str(LABELS), "--output", str(out),
                       "--resume", "--chunk-size", "2")
    assert code == 2 and "other options" in err
    code, _, err = cli(capsys, *cmd[3:])
    assert code == 0, err
    assert "resuming: 2 items" in err
    assert out.read_text(encoding="utf-8") == (tmp_path / "whole.csv").read_text(encoding="utf-8")
    assert list(whole[0])[14:19] == ["model", *EXPLAIN] and all(r["rules_fired"] for r in whole)
