"""Prediction over many inputs: several files, folders, stdin, streaming; summaries of who stands where."""

from __future__ import annotations

import json

from conftest import ARTICLE, run_cli


def test_predict_several_files_folder_and_stdin(smoke_run, tmp_path):
    model = str(smoke_run["model_dir"])
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_text(ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    (corpus / "sub" / "b.jsonl").write_text('{"text": "Seoul urged calm."}\n{"text": "Tokyo agreed."}\n', encoding="utf-8")
    (corpus / "notes.md").write_text("ignored", encoding="utf-8")
    r = run_cli("predict", model, "--input", str(corpus), str(corpus / "sub" / "b.jsonl"), "--chunk-size", "7")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert len(rows) == 41 + 2 + 2
    assert rows[0]["article_id"] == "a" and rows[41]["text"] == "Seoul urged calm."
    r = run_cli("predict", model, "--input", "-", stdin='{"text": "Beijing urged restraint.", "k": 1}\n')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["k"] == 1
    r = run_cli("predict", model, "--input", "-", stdin="A headline\nMOSCOW, May 2. /TASS/. Moscow urged talks. Seoul agreed.\n")
    assert r.returncode == 0, r.stderr
    assert [json.loads(l)["kind"] for l in r.stdout.splitlines()] == ["title", "dateline", "sentence", "sentence"]


def test_predict_quiet_when_not_a_terminal(smoke_run):
    r = run_cli("predict", str(smoke_run["model_dir"]), "--input", str(ARTICLE))
    assert r.returncode == 0 and r.stderr == ""


def test_empty_folder_is_a_clear_error(smoke_run, tmp_path):
    r = run_cli("predict", str(smoke_run["model_dir"]), "--input", str(tmp_path))
    assert r.returncode == 2 and "folder holds no .txt or .jsonl files" in r.stderr


def test_summarize_tables_dataframe_and_chart(smoke_run, tmp_path):
    from kpstance.summarize import CORPUS, summarize, summarize_predictions

    rows = [{"article_id": "a", "actor": "russia", "stance": "hardline", "text": "x1"},
            {"article_id": "a", "actor": "russia", "stance": "hardline", "text": "x2"},
            {"article_id": "b", "actor": "china", "stance": "neutral", "text": "y1"}]
    df = summarize_predictions(rows)
    corpus = df[df.scope == CORPUS].set_index(["actor", "stance"])
    assert corpus.loc[("russia", "hardline"), "count"] == 2
    assert abs(corpus.loc[("russia", "hardline"), "share"] - 2 / 3) < 1e-9
    assert corpus.loc[("russia", "hardline"), "example"] == "x1"
    assert set(df.scope) == {CORPUS, "a", "b"}

    df = summarize(smoke_run["model_dir"], [str(ARTICLE)])
    assert df[df.scope == CORPUS]["count"].sum() == 41
    png = tmp_path / "chart.png"
    r = run_cli("summarize", str(smoke_run["model_dir"]), "--input", str(ARTICLE), "--plot", str(png))
    assert r.returncode == 0, r.stderr
    assert "(corpus): 41 sentences" in r.stdout and "tass-2017-11-24-lavrov: 41 sentences" in r.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"
    r = run_cli("summarize", str(smoke_run["model_dir"]), "--input", str(ARTICLE), "--format", "json")
    assert sum(x["count"] for x in json.loads(r.stdout) if x["scope"] == CORPUS) == 41
