"""Bad input: one line on stderr naming the file (and line), exit code 2, no traceback, nothing written."""

from __future__ import annotations

import json

import pytest
from helpers import run_here


@pytest.mark.parametrize("content, message", [
    (b"", "the article is empty"),
    (b"   \n\t\n", "the article is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
    (b"Caf\xe9 au lait\n", "not valid UTF-8"),
])
def test_bad_article(capsys, tmp_path, content, message):
    src = tmp_path / "a.txt"
    src.write_bytes(content)
    out = tmp_path / "out.jsonl"
    r = run_here(capsys, "label", "--input", str(src), "--output", str(out))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert str(src) in r.stderr and message in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("line, message", [
    ("{not json", "a.jsonl:2: not valid JSON"),
    ('{"txt": "x"}', 'a.jsonl:2: missing field "text"'),
    ('{"text": 5}', 'a.jsonl:2: field "text" must be a string'),
])
def test_bad_jsonl_line(capsys, tmp_path, line, message):
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"text": "Seoul urged calm."}) + "\n" + line + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = run_here(capsys, "label", "--input", str(src), "--output", str(out))
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_missing_and_incomplete_model_folder(capsys, tmp_path):
    src = tmp_path / "a.jsonl"
    src.write_text('{"text": "Seoul urged calm."}\n', encoding="utf-8")
    r = run_here(capsys, "predict", str(tmp_path / "nope"), "--input", str(src))
    assert r.returncode == 2 and "model folder not found" in r.stderr
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    r = run_here(capsys, "predict", str(tmp_path / "m"), "--input", str(src))
    assert r.returncode == 2 and "incomplete model folder" in r.stderr and "Traceback" not in r.stderr


def test_a_tasks_folder_names_its_newest_model(capsys, smoke_run, tmp_path):
    """``models/<task_name>`` holds a ``latest`` link to its newest run's model; pointing at the task is a slip."""
    task = tmp_path / "task"
    task.mkdir()
    (task / "latest").symlink_to(smoke_run["model_dir"], target_is_directory=True)
    src = tmp_path / "a.jsonl"
    src.write_text('{"text": "Seoul urged calm."}\n', encoding="utf-8")
    r = run_here(capsys, "predict", str(task), "--input", str(src))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "incomplete model folder" in r.stderr and f"(a folder of models: the newest is {task / 'latest'})" in r.stderr
    r = run_here(capsys, "summarize", str(task), "--input", str(src))  # a table's labels are read from the model folder
    assert r.returncode == 2 and f"(a folder of models: the newest is {task / 'latest'})" in r.stderr
    r = run_here(capsys, "predict", str(task / "latest" / "config.json"), "--input", str(src))
    assert r.returncode == 2 and "a file, not a model folder (the model is the folder that holds it: " in r.stderr


def test_pickle_only_model_is_refused(capsys, smoke_run, tmp_path):
    import shutil

    m = tmp_path / "m"
    shutil.copytree(smoke_run["model_dir"], m)
    (m / "model.safetensors").unlink()
    (m / "pytorch_model.bin").write_bytes(b"not loaded")
    src = tmp_path / "a.jsonl"
    src.write_text('{"text": "Seoul urged calm."}\n', encoding="utf-8")
    r = run_here(capsys, "predict", str(m), "--input", str(src))
    assert r.returncode == 2 and "only pickle weights (pytorch_model.bin)" in r.stderr


def test_model_labels_must_match_scheme(capsys, smoke_run, tmp_path):
    import yaml
    from helpers import LABELS

    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    data["actors"]["atlantis"] = {"aliases": ["Atlantis"]}
    lab = tmp_path / "labels.yaml"
    lab.write_text(yaml.safe_dump(data), encoding="utf-8")
    src = tmp_path / "a.jsonl"
    src.write_text('{"text": "Seoul urged calm."}\n', encoding="utf-8")
    r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src), "--labels", str(lab))
    assert r.returncode == 2 and "do not match the configured scheme" in r.stderr and "another order" not in r.stderr
    data["actors"].pop("atlantis")
    data["actors"] = dict(reversed(list(data["actors"].items())))  # the same actors, listed the other way round
    lab.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src), "--labels", str(lab))
    assert r.returncode == 2 and "the same labels in another order: list them in the model's order" in r.stderr


def test_bom_and_crlf_jsonl_work(capsys, smoke_run, tmp_path):
    src = tmp_path / "a.jsonl"
    src.write_bytes(b'\xef\xbb\xbf{"text": "Seoul urged calm."}\r\n{"text": "Tokyo agreed."}\r\n')
    r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src))
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2
