"""The reliability promise for files: an output never replaces an input, a folder or a damaged model folder is one
line, a bad option or field is one line, and an interrupted ``predict`` leaves nothing behind.

The CLI runs in-process (``kpstance.cli.main``) wherever it can, so these tests stay fast.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, cli


def one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert err.startswith("kpstance: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob(".*") if p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------------- 1. an output is an input

GOLD_LINE = json.dumps({"id": "g-1", "text": "Seoul urged calm.", "actor": "south_korea", "stance": "conciliatory"})


def _same(tmp: Path) -> tuple[Path, Path]:
    """The output is the input itself."""
    src = tmp / "gold.jsonl"
    return src, src


def _symlink(tmp: Path) -> tuple[Path, Path]:
    src = tmp / "gold.jsonl"
    (tmp / "link.jsonl").symlink_to(src)
    return src, tmp / "link.jsonl"


def _hardlink(tmp: Path) -> tuple[Path, Path]:
    src = tmp / "gold.jsonl"
    os.link(src, tmp / "hard.jsonl")
    return src, tmp / "hard.jsonl"


def _inside_folder(tmp: Path) -> tuple[Path, Path]:
    """The input is a folder, the output one of its files."""
    return tmp, tmp / "gold.jsonl"


@pytest.mark.parametrize("command", ["predict", "label", "summarize"])
@pytest.mark.parametrize("how", [_same, _symlink, _hardlink, _inside_folder])
def test_an_output_that_is_an_input_is_refused_before_anything_is_read(capsys, tmp_path, command, how):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(GOLD_LINE + "\n", encoding="utf-8")
    before = gold.read_bytes()
    inp, out = how(tmp_path)
    args = {"predict": ["predict", tmp_path / "no-model", "--input", inp, "--output", out],
            "label": ["label", "--input", inp, "--output", out],
            "summarize": ["summarize", tmp_path / "no-model", "--input", inp, "--plot", out]}[command]
    rc, _, err = cli(capsys, *args)
    one_line_error(rc, err, str(out), "the output is also an input")  # not "model folder not found": checked first
    assert gold.read_bytes() == before and no_temp_files(tmp_path)


def test_annotate_export_never_writes_its_tasks_or_labeling_config_over_an_input(capsys, tmp_path):
    notes = tmp_path / "notes.xml"  # an article the user keeps as .xml: the labeling config would land on it
    notes.write_text("Seoul urged calm.\n", encoding="utf-8")
    rc, _, err = cli(capsys, "annotate", "export", tmp_path / "no-model", "--input", notes, "--n", 1,
                     "--output", tmp_path / "notes.json")
    one_line_error(rc, err, str(notes), "the output is also an input")
    assert notes.read_text(encoding="utf-8") == "Seoul urged calm.\n"
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(GOLD_LINE + "\n", encoding="utf-8")
    rc, _, err = cli(capsys, "annotate", "export", tmp_path / "no-model", "--input", jsonl, "--n", 1, "--output", jsonl)
    one_line_error(rc, err, "the output is also an input")
    assert jsonl.read_text(encoding="utf-8") == GOLD_LINE + "\n"


@pytest.mark.parametrize("output", ["export.json", "g.jsonl"])
def test_annotate_import_never_writes_gold_or_disagreements_over_the_export(capsys, tmp_path, output):
    export = tmp_path / "export.json"  # "g.jsonl": its disagreements file would be g.disagreements.jsonl
    if output == "g.jsonl":
        export = tmp_path / "g.disagreements.jsonl"
    export.write_text("[]", encoding="utf-8")
    rc, _, err = cli(capsys, "annotate", "import", export, "--output", tmp_path / output)
    one_line_error(rc, err, "the output is also an input")
    assert export.read_text(encoding="utf-8") == "[]"


def test_report_output_inside_the_run_folder_is_refused(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}", encoding="utf-8")
    rc, _, err = cli(capsys, "report", run, "--output", run / "metrics.json")
    one_line_error(rc, err, "the output is also an input")
    assert (run / "metrics.json").read_text(encoding="utf-8") == "{}"


# ------------------------------------------------------------------------------ 2. folders and damaged models


@pytest.mark.parametrize("command", ["predict", "label", "annotate export", "annotate import"])
def test_an_output_that_is_a_folder_is_one_line(capsys, tmp_path, command):
    src = tmp_path / "a.jsonl"
    src.write_text(GOLD_LINE + "\n", encoding="utf-8")
    folder = tmp_path / "out"
    folder.mkdir()
    args = {"predict": ["predict", tmp_path / "no-model", "--input", src, "--output", folder],
            "label": ["label", "--input", src, "--output", folder],
            "annotate export": ["annotate", "export", tmp_path / "no-model", "--input", src, "--n", 1, "--output",
                                folder],
            "annotate import": ["annotate", "import", src, "--output", folder]}[command]
    rc, _, err = cli(capsys, *args)
    one_line_error(rc, err, str(folder), "is a folder")
    assert not list(folder.iterdir()) and no_temp_files(tmp_path)


def test_annotate_export_writes_its_two_files_both_or_neither(capsys, smoke_run, tmp_path):
    src = tmp_path / "a.jsonl"
    src.write_text(GOLD_LINE + "\n", encoding="utf-8")
    (tmp_path / "tasks.xml").mkdir()  # the labeling config's place is taken by a folder
    rc, _, err = cli(capsys, "annotate", "export", smoke_run["model_dir"], "--input", src, "--n", 1,
                     "--output", tmp_path / "tasks.json")
    one_line_error(rc, err, "tasks.xml", "is a folder")
    assert not (tmp_path / "tasks.json").exists()


def test_files_written_together_are_renamed_only_when_all_are_complete(tmp_path):
    from kpstance.errors import KpstanceError
    from kpstance.files import write_together

    first, second = tmp_path / "tasks.json", tmp_path / "missing-folder" / "tasks.xml"
    with pytest.raises(KpstanceError, match="cannot write"):
        write_together({first: "[]\n", second: "<View/>\n"})
    assert not first.exists() and no_temp_files(tmp_path)
    write_together({first: "[]\n", tmp_path / "tasks.xml": "<View/>\n"})
    assert first.read_text() == "[]\n" and (tmp_path / "tasks.xml").read_text() == "<View/>\n"


def _truncate(f: Path) -> None:
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])


def _small_vocab(f: Path) -> None:
    tok = json.loads(f.read_text(encoding="utf-8"))
    tok["model"]["vocab"] = {t: i for t, i in tok["model"]["vocab"].items() if i < 5}
    f.write_text(json.dumps(tok), encoding="utf-8")


@pytest.mark.parametrize("file, damage, message", [
    ("kpstance.json", _truncate, "kpstance.json: not valid JSON"),
    ("kpstance.json", lambda f: f.write_text("[1, 2]"), "kpstance.json: expected a JSON object"),
    ("model.safetensors", _truncate, "model.safetensors: not a readable safetensors file"),
    ("model.safetensors", lambda f: f.write_bytes(os.urandom(4096)), "model.safetensors: not a readable safetensors"),
    ("tokenizer.json", lambda f: f.unlink(), "incomplete model folder: missing tokenizer.json"),
    ("tokenizer.json", _small_vocab, "incomplete tokenizer: it knows 5 tokens"),
    ("tokenizer.json", _truncate, "tokenizer.json: cannot load the tokenizer"),
])
def test_a_damaged_model_folder_is_one_line_naming_the_file(capsys, smoke_run, tmp_path, file, damage, message):
    model = tmp_path / "m"
    shutil.copytree(smoke_run["model_dir"], model)
    damage(model / file)
    src = tmp_path / "a.jsonl"
    src.write_text(GOLD_LINE + "\n", encoding="utf-8")
    rc, out, err = cli(capsys, "predict", model, "--input", src)
    one_line_error(rc, err, str(model), message)
    assert out == ""


# --------------------------------------------------------------------------------------- 3. wrong success


@pytest.mark.parametrize("line, message", [
    ({"text": "Seoul urged calm.", "kind": 3}, 'a.jsonl:2: field "kind" must be a string, got 3'),
    ({"text": "Seoul urged calm.", "kind": ["title"]}, 'a.jsonl:2: field "kind" must be a string'),
    ({"text": "Seoul urged calm.", "speaker": {"name": "Moon"}}, 'a.jsonl:2: field "speaker" must be a string'),
    ({"text": "Seoul urged calm.", "kind": "headline"}, "a.jsonl:2: field \"kind\" is 'headline', expected one of"),
    ({"text": ""}, 'a.jsonl:2: field "text" is empty'),
    ({"text": "  \t "}, 'a.jsonl:2: field "text" is empty'),
])
def test_a_jsonl_field_that_would_be_misread_is_refused_with_file_and_line(capsys, tmp_path, line, message):
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"text": "Tokyo protested.", "kind": "title", "speaker": None}) + "\n"
                   + json.dumps(line) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    rc, _, err = cli(capsys, "label", "--input", src, "--output", out)
    one_line_error(rc, err, message)
    assert not out.exists() and no_temp_files(tmp_path)


def test_the_accepted_kinds_are_the_segmenters(units):
    from kpstance.text.segment import KINDS, segment_article

    produced = {u.kind for u in units}
    produced |= {u.kind for u in segment_article("Title here\n\nA subtitle that runs on a while\n\nBody.\n", "t")}
    assert produced <= set(KINDS) and {"title", "dateline", "sentence"} <= produced


def test_annotate_import_refuses_actor_none_with_a_stance(capsys, tmp_path):
    result = [{"from_name": "actor", "to_name": "text", "type": "choices", "value": {"choices": ["none"]}},
              {"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": ["hardline"]}}]
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 12, "data": {"id": "toy-0", "text": "Drills began."},
                                   "annotations": [{"completed_by": 1, "result": result}]}]), encoding="utf-8")
    out = tmp_path / "g.jsonl"
    rc, _, err = cli(capsys, "annotate", "import", export, "--output", out)
    one_line_error(rc, err, str(export), "task 12 (unit toy-0)", "actor 'none' goes with stance 'neutral'")
    assert not out.exists()


# ------------------------------------------------------------------------------------- 4. unclear messages


@pytest.mark.parametrize("args, needles", [
    (["predict", "m", "--input", "a.jsonl", "--min-score", "high"], ["--min-score", "invalid float value: 'high'"]),
    (["annotate", "export", "m", "--input", "a", "--output", "t.json", "--n", "ten"], ["--n", "invalid int value"]),
    (["annotate", "export", "m", "--input", "a", "--output", "t.json", "--n", "3", "--strategy", "entropy"],
     ["--strategy", "invalid choice: 'entropy'", "'uncertainty', 'random', 'disagreement'"]),
    (["summarize", "m", "--input", "a", "--format", "xml"], ["--format", "'table', 'csv', 'json'"]),
    (["predict", "m", "--input", "a", "--chunk-size", "0"], ["--chunk-size must be at least 1"]),
    (["predict", "m"], ["required: --input"]),
])
def test_a_bad_option_is_one_line_naming_it(capsys, args, needles):
    rc, _, err = cli(capsys, *args)
    one_line_error(rc, err, *needles)
    assert "usage:" not in err


def test_a_reimport_that_removes_the_old_disagreements_file_says_so(capsys, tmp_path):
    def ann(who, actor):
        return {"completed_by": who, "result": [
            {"from_name": "actor", "to_name": "text", "type": "choices", "value": {"choices": [actor]}},
            {"from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": ["neutral"]}}]}

    out, dis = tmp_path / "g.jsonl", tmp_path / "g.disagreements.jsonl"
    e1, e2 = tmp_path / "e1.json", tmp_path / "e2.json"
    e1.write_text(json.dumps([{"id": 1, "data": {"id": "u", "text": "One."}, "annotations": [ann(1, "china"),
                                                                                              ann(2, "russia")]}]))
    e2.write_text(json.dumps([{"id": 1, "data": {"id": "u", "text": "One."}, "annotations": [ann(1, "china")]}]))
    assert cli(capsys, "annotate", "import", e1, "--output", out)[0] == 0 and dis.is_file()
    rc, _, err = cli(capsys, "annotate", "import", e2, "--output", out)
    assert rc == 0 and not dis.exists()
    assert f"removed {dis}" in err and "earlier import" in err


# ------------------------------------------------------------------------------------------ 7. SIGTERM


def test_sigterm_during_predict_leaves_no_output_and_no_temp_file(smoke_run, tmp_path):
    src = tmp_path / "big.jsonl"
    line = json.dumps({"text": "Russian Foreign Minister Sergei Lavrov said the drills near Korea must stop now."})
    src.write_text("\n".join([line] * 100_000) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "pred.jsonl"
    out.parent.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "kpstance.cli", "predict", str(smoke_run["model_dir"]), "--input",
                             str(src), "--output", str(out), "--chunk-size", "64", "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not list(out.parent.iterdir()) and time.monotonic() < deadline:  # the temp file: predicting has begun
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert list(out.parent.iterdir()), "predict never started writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["kpstance: terminated (SIGTERM); nothing was written"]
    assert not list(out.parent.iterdir())


def test_an_interruption_while_the_table_writer_starts_leaves_no_temp_file(tmp_path, monkeypatch):
    """SIGTERM lands where the process is: when predict has just created its temporary file and the writer is
    still starting (the moment the test above sends it), the temporary file goes too."""
    from kpstance.errors import Terminated
    from kpstance.scale import table

    def starting(*args, **kwargs):
        raise Terminated

    monkeypatch.setattr(table, "Writer", starting)
    for ext in ("jsonl", "csv", "parquet"):
        with pytest.raises(Terminated):
            table.AtomicTable(tmp_path / f"pred.{ext}", ["text"])
        assert not list(tmp_path.iterdir()), ext


@pytest.mark.parametrize("where", ["opening", "after"])
def test_a_sigterm_landing_just_after_the_temp_file_is_created_leaves_nothing(smoke_run, tmp_path, monkeypatch,
                                                                              capsys, where):
    """The window CI once hit: the signal lands after the temporary file exists but before any ``try`` that would
    remove it (inside the open, or between the table's creation and the loop). The command still says "nothing
    was written", so nothing may be left."""
    from kpstance.errors import Terminated
    from kpstance.scale import local, table

    if where == "opening":
        real_open = table.open_file

        def open_then_signal(path, *args):
            real_open(path, *args).close()
            raise Terminated
        monkeypatch.setattr(table, "open_file", open_then_signal)
    else:
        class SignalledTable(table.AtomicTable):
            def __init__(self, *args):
                super().__init__(*args)
                raise Terminated
        monkeypatch.setattr(local, "AtomicTable", SignalledTable)
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "Lavrov said the drills must stop."}) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "pred.jsonl"
    out.parent.mkdir()
    rc, _, err = cli(capsys, "predict", smoke_run["model_dir"], "--input", src, "--output", out, "--workers", "1")
    assert rc == 143 and err.strip().splitlines() == ["kpstance: terminated (SIGTERM); nothing was written"]
    assert not list(out.parent.iterdir())


def test_a_temporary_that_cannot_be_removed_on_the_way_out_is_no_traceback(tmp_path):
    """remove_temporaries runs inside the handlers of Ctrl-C and SIGTERM: an OSError there would turn exit 130 or
    143 into a traceback."""
    from kpstance import files

    blocked = files.temp_name(tmp_path / "out.csv")
    blocked.mkdir()  # a folder where the file was: unlink fails
    gone = files.temp_name(tmp_path / "other.csv")
    gone.write_text("x")
    files.remove_temporaries()
    assert blocked.is_dir() and not gone.exists() and not files._PENDING


# ---------------------------------------------------------------------------- 8. compare's default store


def test_compare_reads_the_store_at_the_project_root_as_its_help_says(capsys, monkeypatch, tmp_path):
    import kpstance.track.compare as compare_mod
    from kpstance.cli import build_parser

    seen = {}
    monkeypatch.setattr(compare_mod, "compare", lambda args: seen.setdefault("store", args.store) and "")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "train.yaml").write_text("{}")
    (tmp_path / "outputs").mkdir()
    monkeypatch.delenv("KPSTANCE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path / "outputs")
    assert cli(capsys, "compare")[0] == 0
    assert Path(seen.pop("store")) == tmp_path / "mlflow.db"  # walked up from outputs/ to configs/train.yaml
    monkeypatch.chdir(tmp_path.parent)  # no configs/train.yaml at or above: the current folder
    assert cli(capsys, "compare")[0] == 0 and Path(seen.pop("store")) == tmp_path.parent / "mlflow.db"
    monkeypatch.setenv("KPSTANCE_ROOT", str(tmp_path / "outputs"))
    assert cli(capsys, "compare")[0] == 0 and Path(seen.pop("store")) == tmp_path / "outputs" / "mlflow.db"
    cmp_help = next(a for a in build_parser()._subparsers._group_actions[0].choices["compare"]._actions
                    if "--store" in a.option_strings).help
    assert "KPSTANCE_ROOT" in cmp_help and "configs/train.yaml" in cmp_help

