"""Prediction over many inputs: several files, folders, stdin, streaming; summaries of who stands where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import ARTICLE, run_cli, run_here


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


def test_a_csv_table_piped_on_stdin_is_refused_not_read_as_one_article(monkeypatch):
    """'head articles.csv | kpstance predict ...' would segment the table as one article titled by its header,
    its dates and outlets lost unsaid: one line says what to do instead; an article whose first line has commas is
    still an article."""
    import io

    from kpstance.errors import KpstanceError
    from kpstance.text.read import records

    def stdin(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(text.encode()))))

    stdin('id,date,outlet,title,text\na1,2017-09-04,TASS,Talks,"Lavrov urged talks."\n')
    with pytest.raises(KpstanceError, match=r"<stdin>: looks like a CSV table \(header id,date,outlet,title,text\).*"
                                            r"--input FILE.csv"):
        list(records("-"))
    stdin('id,date,body\na1,2017-09-04,"Lavrov urged talks."\n')  # its text column mapped with --columns text=body
    with pytest.raises(KpstanceError, match=r"looks like a CSV table \(header id,date,body\)"):
        list(records("-", text_column="body"))
    stdin("Moscow, Beijing urge talks\nMOSCOW, May 2. /TASS/. Moscow urged talks.\n")
    assert [r["kind"] for r, _ in records("-")] == ["title", "dateline", "sentence"]


def test_a_jsonl_of_whole_articles_read_as_units_is_one_warning_naming_rows_articles(tmp_path, capsys, monkeypatch):
    import io

    from kpstance.text.corpus import iter_items

    f = tmp_path / "arts.jsonl"
    f.write_text('{"id": "a1", "text": "Talks urged\\nMOSCOW, Nov. 24 /TASS/. Lavrov urged talks.\\n\\nHe said more."}\n'
                 '{"id": "a2", "text": "Seoul urged calm."}\n{"id": "a3", "text": "Two\\nlines."}\n', encoding="utf-8")
    assert len(list(iter_items([str(f)]))) == 3  # read as asked: one unit a row
    assert capsys.readouterr().err.splitlines() == [  # once, at the first such row
        f"kpstance: warning: {f}:1: a row's text runs over several lines (a whole article?); each row is read as one "
        "unit: to segment each row as an article, run kpstance predict --rows articles (and summarize its output)"]
    assert len(list(iter_items([str(f)], rows="articles"))) == 3 and capsys.readouterr().err == ""
    # the same lines piped on stdin: the same warning, naming stdin
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(f.read_bytes()))))
    assert len(list(iter_items(["-"]))) == 3
    assert capsys.readouterr().err.startswith("kpstance: warning: <stdin>:1: a row's text runs over several lines")


def test_predict_quiet_when_not_a_terminal(smoke_run):
    r = run_cli("predict", str(smoke_run["model_dir"]), "--input", str(ARTICLE))
    assert r.returncode == 0 and r.stderr == ""


def test_articles_left_without_a_date_among_dated_ones_are_one_warning(capsys, smoke_run, tmp_path):
    """A dateline without its year ("MOSCOW, September 4. /TASS/.") gives no date: among dated articles, predict
    says so, since a summary by period would leave those units out (a researcher's trial, 2026-12-07)."""
    arts = tmp_path / "arts.csv"
    arts.write_text("id,date,text\nd1,2017-09-04,Moscow urged talks. Seoul agreed.\n"
                    "u1,,Tokyo warned Pyongyang. Beijing urged calm. Seoul agreed.\n", encoding="utf-8")
    r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(arts), "--output", str(tmp_path / "p.jsonl"))
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [
        "kpstance: warning: 3 of 5 news units have no date (no date field, and no dateline that gives the year; "
        "first: 'u1'); a summary by period leaves them out"]
    dated = tmp_path / "dated.csv"
    dated.write_text("id,date,text\nd1,2017-09-04,Moscow urged talks.\n", encoding="utf-8")
    r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(dated), "--output", str(tmp_path / "q.jsonl"))
    assert r.returncode == 0 and r.stderr == ""  # every unit dated (or none): nothing to say


def test_empty_folder_is_a_clear_error(capsys, smoke_run, tmp_path):
    r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(tmp_path))
    assert r.returncode == 2 and "folder holds no .txt, .jsonl, .csv or .parquet files" in r.stderr


def test_summarize_predicts_articles_through_the_predict_path(capsys, smoke_run, tmp_path):
    """Articles given to summarize are predicted as predict predicts them; only news units with an actor count."""
    from kpstance.eval.summary import summarize

    r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(ARTICLE))
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    news = [x for x in rows if x["kind"] == "sentence" and x["actor"] != "none"]
    df = summarize(smoke_run["model_dir"], [str(ARTICLE)], n_boot=20)
    assert df.units.sum() == len(news) and df.attrs["counted"] == len(news)
    assert df.attrs["left_out"].get("title") == sum(x["kind"] == "title" for x in rows)
    png = tmp_path / "chart.png"
    r = run_here(capsys, "summarize", str(smoke_run["model_dir"]), "--input", str(ARTICLE), "--plot", str(png),
                "--bootstrap", "20")
    assert r.returncode == 0, r.stderr
    assert f"{len(news)} news units counted" in r.stdout and "stance shares over the whole input" in r.stdout
    assert png.read_bytes()[:4] == b"\x89PNG" and f"kpstance: chart -> {png}" in r.stderr
    r = run_here(capsys, "summarize", str(smoke_run["model_dir"]), "--input", str(ARTICLE), "--format", "json",
                "--bootstrap", "20")
    assert sum(x["units"] for x in json.loads(r.stdout)) == len(news)
    # the table alone on stdout; what was counted and left out on stderr, as with the other formats
    run = json.loads((Path(smoke_run["model_dir"]) / "kpstance.json").read_text(encoding="utf-8"))["run_name"]
    assert {x["model"] for x in rows} == {run}  # each row names the model that labelled it
    assert f"kpstance: {len(news)} news units counted (labels of model {run}); left out:" in r.stderr


SENTENCES = [
    "Seoul urged calm.",
    "Moscow said the joint drills near the peninsula only raised tension and called for talks without conditions.",
    "Tokyo agreed.",
    "Pyongyang fired another missile over the sea early on Wednesday, the military said.",
    "Beijing proposed a freeze for freeze.",
    "The UN Security Council met behind closed doors to discuss new sanctions on the North.",
    "Washington warned that all options were on the table.",
]


def test_batches_are_sorted_by_tokens_padded_to_their_own_longest_and_put_back_in_order(smoke_predictor):
    """Each batch is as wide as its longest sentence, batches never overlap in length, and the
    outputs come back in input order: the same as predicting every sentence alone."""
    import numpy as np

    p = smoke_predictor
    widths, lengths = [], []
    forward = p._forward  # the one callable the predictor runs its batches through

    def spy(**kw):
        mask = kw["attention_mask"]
        widths.append(mask.shape[1])
        lengths.append(sorted(mask.sum(1).tolist()))
        return forward(**kw)

    p._forward, averaged, p.speaker_average = spy, p.speaker_average, 0  # one pass: no copies read after it
    try:
        pa, ps = p.predict_proba(SENTENCES, batch_size=2, workers=1)
        p._forward = forward
        alone = [p.predict_proba([s], batch_size=1, workers=1) for s in SENTENCES]
    finally:
        p._forward = forward  # the spy, if an error came before it was removed
        p.speaker_average = averaged
    assert widths == [max(batch) for batch in lengths]  # dynamic padding, never max_length
    assert all(a[-1] <= b[0] for a, b in zip(lengths, lengths[1:]))  # sorted by token count
    np.testing.assert_allclose(pa, np.concatenate([a for a, _ in alone]), atol=1e-5)
    np.testing.assert_allclose(ps, np.concatenate([s for _, s in alone]), atol=1e-5)


def test_widths_rounded_to_a_multiple_are_masked_and_give_the_same_probabilities(smoke_predictor):
    """bf16 pads each batch to a multiple of 8 tokens (less memory over a long job): the extra columns are
    masked padding, so the probabilities equal exact padding's; fp32 keeps exact padding."""
    import numpy as np

    from kpstance import StancePredictor

    p = smoke_predictor
    assert p.precision == "fp32" and p.pad_multiple == 1
    exact = p.predict_proba(SENTENCES, batch_size=2, workers=1)
    widths: list[tuple[int, int]] = []
    forward = p._forward  # the one callable the predictor runs its batches through

    def spy(**kw):
        mask = kw["attention_mask"]
        widths.append((mask.shape[1], int(mask.sum(1).max())))
        assert (kw["input_ids"][mask == 0] == p.tokenizer.pad_token_id).all()
        return forward(**kw)

    p._forward, p.pad_multiple = spy, 8
    try:
        rounded = p.predict_proba(SENTENCES, batch_size=2, workers=1)
    finally:
        p._forward = forward
        p.pad_multiple = 1
    assert all(w % 8 == 0 and longest <= w < longest + 8 for w, longest in widths)
    assert any(w > longest for w, longest in widths)  # some batch did get extra columns
    for a, b in zip(exact, rounded):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert StancePredictor(p.model, p.tokenizer, precision="bf16").pad_multiple == 8


def test_cpu_workers_agree_with_one_worker_and_restore_the_thread_count(smoke_predictor):
    import numpy as np
    import torch

    texts = SENTENCES * 5
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # so each of two workers runs single-threaded, whatever the machine
    try:
        one = smoke_predictor.predict_proba(texts, batch_size=3, workers=1)
        two = smoke_predictor.predict_proba(texts, batch_size=3, workers=2)
        again = smoke_predictor.predict_proba(texts, batch_size=3, workers=2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    for a, b, c in zip(one, two, again):
        np.testing.assert_allclose(a, b, atol=1e-5)
        assert np.array_equal(b, c)  # deterministic whichever thread ran which batch
    pa, ps = smoke_predictor.predict_proba([], workers=2)
    assert pa.shape == (0, len(smoke_predictor.actors)) and ps.shape == (0, len(smoke_predictor.stances))


def test_bf16_prediction_stays_close_to_fp32(capsys, smoke_run):
    import numpy as np

    from kpstance import StancePredictor

    p32 = StancePredictor.load(smoke_run["model_dir"])
    p16 = StancePredictor.load(smoke_run["model_dir"], precision="bf16")
    for a, b in zip(p32.predict_proba(SENTENCES), p16.predict_proba(SENTENCES)):
        assert not np.array_equal(a, b)  # autocast did run
        np.testing.assert_allclose(a, b, atol=0.02)  # bf16 keeps 8 bits of mantissa
        np.testing.assert_allclose(b.sum(1), 1, atol=1e-5)
    r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(ARTICLE), "--precision", "bf16")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 41


def test_bad_workers_or_batch_size_is_a_clear_error(smoke_run):
    r = run_cli("predict", str(smoke_run["model_dir"]), "--input", str(ARTICLE), "--workers", "0")
    assert r.returncode == 2 and "workers must be at least 1" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("predict", str(smoke_run["model_dir"]), "--input", str(ARTICLE), "--batch-size", "0")
    assert r.returncode == 2 and "batch size must be at least 1" in r.stderr


def test_predict_cli_workers_option(smoke_run):
    outs = []
    for w in ("1", "2"):
        r = run_cli("predict", str(smoke_run["model_dir"]), "--input", str(ARTICLE), "--workers", w, "--probs",
                    "--batch-size", "4")  # 11 batches, so two workers really share them
        assert r.returncode == 0, r.stderr
        outs.append([json.loads(l) for l in r.stdout.splitlines()])
    assert len(outs[0]) == len(outs[1]) == 41
    for a, b in zip(*outs):
        assert a["unit_id"] == b["unit_id"]
        assert all(abs(a["actor_probs"][k] - b["actor_probs"][k]) < 1e-4 for k in a["actor_probs"])



def test_speaker_average_option_overrides_the_models_own_and_a_negative_count_is_one_line(capsys, smoke_run, tmp_path):
    """The saved model keeps its speaker averaging (the default's 2 copies); --speaker-average N reads with N instead,
    the labels those of the Python API loaded with the same N."""
    from kpstance import StancePredictor

    model = str(smoke_run["model_dir"])
    assert json.loads((smoke_run["model_dir"] / "kpstance.json").read_text())["speaker_average"] == 2
    src = tmp_path / "units.jsonl"
    src.write_text("".join(json.dumps({"id": f"u{i}", "text": t}) + "\n" for i, t in enumerate(SENTENCES)),
                   encoding="utf-8")
    for n in (0, 2, 6):
        r = run_here(capsys, "predict", model, "--input", str(src), "--speaker-average", str(n), "--precision", "fp32")
        assert r.returncode == 0, r.stderr
        got = [(row["actor"], row["stance"], row["stance_score"]) for row in map(json.loads, r.stdout.splitlines())]
        p = StancePredictor.load(model, precision="fp32", speaker_average=n)
        want = [(o["actor"], o["stance"], round(o["stance_score"], 2)) for o in p.predict(SENTENCES)]
        assert [(a, s, round(x, 2)) for a, s, x in got] == want, n
        if n == 0:
            plain = got
        elif n == 6:
            assert [x for *_, x in got] != [x for *_, x in plain]  # the copies did move the stance scores
    r = run_here(capsys, "predict", model, "--input", str(src), "--speaker-average", "-1")
    assert r.returncode == 2 and "--speaker-average must be 0 or more, got -1" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_speaker_averaging_keeps_the_units_own_truncation_list(smoke_predictor):
    """The copies' pass must not overwrite which of the caller's units were cut to max_length (predict_rows reports
    those rows by index)."""
    p = smoke_predictor
    names = ["Moscow", "Tokyo", "Beijing", "Washington", "Seoul", "Pyongyang"]
    texts = [f"{n} said {'the talks must go on ' * 40}today." if i % 2 == 0 else f"{n} urged calm."
             for i, n in enumerate(names)]
    rows: list[int] = []
    forward = p._forward  # the one callable the predictor runs its batches through
    p._forward = lambda **kw: (rows.append(kw["input_ids"].shape[0]), forward(**kw))[1]
    try:
        p.predict_proba(texts, batch_size=64, workers=1)
    finally:
        p._forward = forward
    assert p.speaker_average == 2 and sum(rows) > len(texts)  # copies were read after the units
    assert p.truncated == [0, 2, 4]


def test_the_kernel_cache_is_capped_unless_the_user_set_it(monkeypatch, smoke_run):
    """oneDNN's cache of compiled kernels grows with every new batch shape over a long job (docs/benchmarks.md):
    loading a predictor caps it, and a capacity the user chose is kept."""
    import os

    from kpstance.systems.predictor import ONEDNN_CACHE, StancePredictor

    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    StancePredictor.load(smoke_run["model_dir"], precision="fp32")
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == ONEDNN_CACHE
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "512")
    StancePredictor.load(smoke_run["model_dir"], precision="fp32")
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "512"


def test_label_predict_and_annotate_give_one_id_to_each_article_of_a_folder(capsys, smoke_run, tmp_path):
    """A nested corpus reuses file names (2017/01/story.txt, 2017/02/story.txt): every command must tell them apart
    by their path under the folder, the same way, so that their outputs join on the ids."""
    corpus = tmp_path / "wire"
    for month, text in (("01", "Seoul proposed talks with the North."), ("02", "Tokyo said it would keep sanctions.")):
        (corpus / "2017" / month).mkdir(parents=True)
        (corpus / "2017" / month / "story.txt").write_text(f"A headline\n{text}\n", encoding="utf-8")
    labelled = run_here(capsys, "label", "--input", str(corpus))
    predicted = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(corpus))
    assert labelled.returncode == 0 and predicted.returncode == 0, labelled.stderr + predicted.stderr
    label_ids = [(r["id"], r["article_id"]) for r in map(json.loads, labelled.stdout.splitlines())]
    predict_ids = [(r["unit_id"], r["article_id"]) for r in map(json.loads, predicted.stdout.splitlines())]
    assert label_ids == predict_ids
    assert label_ids[0] == ("2017/01/story-000", "2017/01/story") and label_ids[-1][1] == "2017/02/story"
    tasks = tmp_path / "tasks.json"
    r = run_here(capsys, "annotate", "export", str(smoke_run["model_dir"]), "--input", str(corpus), "--n", "4",
                "--output", str(tasks))
    assert r.returncode == 0, r.stderr
    assert {t["data"]["article_id"] for t in json.loads(tasks.read_text(encoding="utf-8"))} <= {
        "2017/01/story", "2017/02/story"}


def test_the_rules_read_a_jsonl_lines_article_and_speaker_and_ids_match_predict(smoke_run, tmp_path):
    """A line's speaker is read, as the model reads it; an earlier article's speaker never reaches the next
    article's "he"; lines without an id get the ids `kpstance predict` and `annotate export` give them."""
    units = tmp_path / "u.jsonl"
    lines = [{"article_id": "r1", "text": "Moscow called the new sanctions a dead end."},
             {"article_id": "r2", "text": '"We will never give up our deterrent," he said.', "speaker": "Kim Jong Un"},
             {"article_id": "r3", "text": '"We will never give up our deterrent," he said.'},
             {"article_id": "r3", "text": "Moscow called the new sanctions a dead end."},
             {"article_id": "r3", "text": '"The pressure must stop," he said.'},
             {"text": "Seoul suspended the loudspeaker broadcasts", "kind": "title"},
             {"article_id": "r4", "text": '"We will never give up our deterrent."', "speaker": "Kim Jong Un"}]
    units.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    labelled = run_cli("label", "--input", str(units))
    assert labelled.returncode == 0, labelled.stderr
    rows = [json.loads(x) for x in labelled.stdout.splitlines()]
    assert [r["actor"] for r in rows] == ["russia", "north_korea", "none", "russia", "russia", "south_korea",
                                          "north_korea"]
    assert rows[1]["rules_fired"][0] == "actor:trailing_attribution"
    assert rows[6]["rules_fired"][0] == "actor:quote_attribution"  # a quote given with its speaker
    assert [r["id"] for r in rows] == [f"u-{i}" for i in range(1, 8)]
    predicted = run_cli("predict", str(smoke_run["model_dir"]), "--input", str(units), "--explain")
    assert predicted.returncode == 0, predicted.stderr
    pred = [json.loads(x) for x in predicted.stdout.splitlines()]
    assert [r["unit_id"] for r in pred] == [r["id"] for r in rows]
    assert [(r["rules_actor"], r["rules_stance"]) for r in pred] == [(r["actor"], r["stance"]) for r in rows]
    tasks = tmp_path / "tasks.json"
    r = run_cli("annotate", "export", str(smoke_run["model_dir"]), "--input", str(units), "--n", "7",
                "--output", str(tasks))
    assert r.returncode == 0, r.stderr
    exported = {t["data"]["id"]: t["data"]["rules_actor"] for t in json.loads(tasks.read_text(encoding="utf-8"))}
    assert exported == {r["id"]: r["actor"] for r in rows}
    line = json.dumps(lines[0]) + "\n"  # stdin: the ids predict gives its lines
    assert json.loads(run_cli("label", "--input", "-", stdin=line).stdout)["id"] == json.loads(
        run_cli("predict", str(smoke_run["model_dir"]), "--input", "-", stdin=line).stdout)["unit_id"] == "stdin-1"


def test_an_empty_input_and_repeated_unit_ids_are_each_one_warning(capsys, smoke_run, tmp_path):
    """An empty JSON Lines file or a CSV of a header alone gives nothing to predict: said, naming the file, where
    it used to pass in silence; units of a JSON Lines file that share an id are counted, as articles are."""
    model = str(smoke_run["model_dir"])
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "header.csv").write_text("id,text\n", encoding="utf-8")
    (tmp_path / "dup.jsonl").write_text('{"id": "u1", "text": "Seoul urged calm."}\n'
                                        '{"id": "u1", "text": "Tokyo agreed."}\n', encoding="utf-8")
    for name in ("empty.jsonl", "header.csv"):
        r = run_here(capsys, "predict", model, "--input", str(tmp_path / name), "--output", str(tmp_path / "o.jsonl"))
        assert r.returncode == 0 and r.stderr == f"kpstance: warning: {tmp_path / name}: no units (the file holds " \
                                                 "no rows); nothing predicted from it\n"
    r = run_here(capsys, "predict", model, "--input", str(tmp_path / "dup.jsonl"), str(tmp_path / "empty.jsonl"))
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2
    assert f"1 unit(s) reuse an earlier unit's id (first: 'u1' at {tmp_path / 'dup.jsonl'}:2)" in r.stderr
    assert r.stderr.count("\n") == 2 and "empty.jsonl: no units" in r.stderr
    r = run_here(capsys, "label", "--input", str(tmp_path / "empty.jsonl"))
    assert r.returncode == 0 and r.stdout == "" and "empty.jsonl: no units" in r.stderr


def test_fields_a_table_cannot_keep_and_colliding_ids_are_each_one_warning(capsys, smoke_run, tmp_path):
    """A gold ``actor`` field replaced by the prediction, fields a CSV table leaves out, and two inputs holding one
    .txt path used to pass in silence."""
    model = str(smoke_run["model_dir"])
    units = tmp_path / "e.jsonl"
    units.write_text('{"id": "u0", "text": "Seoul urged calm.", "outlet": "AP", "extra": 0, "actor": "japan"}\n'
                     '{"id": "u1", "text": "Tokyo urged calm.", "late": 1}\n', encoding="utf-8")
    r = run_here(capsys, "predict", model, "--input", str(units), "--output", str(tmp_path / "e.csv"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "kpstance: warning: input field(s) actor are named like output columns and are not kept (rename them to "
        "keep them)",
        "kpstance: warning: input field(s) extra, late are not columns of a .csv table and were left out (a .jsonl "
        "output keeps them)"]
    r = run_here(capsys, "predict", model, "--input", str(units), "--output", str(tmp_path / "o.jsonl"), "--quiet")
    assert "left out" not in r.stderr and "are not kept" in r.stderr
    assert [json.loads(x).get("late") for x in (tmp_path / "o.jsonl").read_text().splitlines()] == [None, 1]
    mapped = tmp_path / "m.jsonl"  # fields --columns reads into the table are neither left out nor replaced
    mapped.write_text('{"doc_id": "d1", "body": "Seoul urged calm.", "published": "2017-11-29"}\n', encoding="utf-8")
    r = run_here(capsys, "predict", model, "--input", str(mapped), "--columns", "id=doc_id,text=body,date=published",
                "--output", str(tmp_path / "m.csv"), "--quiet")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    for folder in ("f2", "f3"):
        (tmp_path / folder / "a").mkdir(parents=True)
        (tmp_path / folder / "a" / "x.txt").write_text("Seoul urged calm.\n", encoding="utf-8")
    r = run_here(capsys, "predict", model, "--input", str(tmp_path / "f2"), str(tmp_path / "f3"), "--quiet")
    assert r.returncode == 0 and r.stderr == ("kpstance: warning: 1 article(s) reuse an earlier article's id (first: "
                                              f"'a/x' at {tmp_path / 'f3' / 'a' / 'x.txt'}); their unit ids repeat in "
                                              "the table\n")


def test_a_column_mapped_with_columns_must_exist(capsys, smoke_run, tmp_path):
    """``--columns date=published`` on a table without that column left every date empty, in silence."""
    src = tmp_path / "c.csv"
    src.write_text("id,text,date\n1,Seoul urged calm.,2017-11-29\n", encoding="utf-8")
    r = run_here(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src), "--columns", "date=published")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == (
        f'kpstance: error: {src}:1: missing column "published" (columns: id, text, date; you mapped date=published)')


def test_bad_input_after_a_parquet_table_began_is_one_line_and_a_fresh_run_clears_stale_shards(capsys, smoke_run, tmp_path):
    """The Parquet writer's finaliser used to print a traceback after the one-line error; shards a refused
    --resume left blocked every later --resume, though the refusal said to start over without it."""
    model = str(smoke_run["model_dir"])
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"a{i}.txt").write_text("Headline\nSeoul urged calm on Monday.\n", encoding="utf-8")
    (tmp_path / "in" / "z.csv").write_text("id,text,date\n1,Seoul urged calm.,2018-02-30\n", encoding="utf-8")
    out = tmp_path / "o.parquet"
    # a process of its own: the finaliser's traceback came at the interpreter's exit
    r = run_cli("predict", model, "--input", str(tmp_path / "in"), "--output", str(out), "--chunk-size", "1", "--quiet")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "cannot read '2018-02-30' as a date" in r.stderr and not out.exists()
    (tmp_path / "in" / "z.csv").unlink()
    parts = tmp_path / "o.parquet.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text('{"fingerprint": {}, "items_done": 0, "shards": []}', encoding="utf-8")
    r = run_here(capsys, "predict", model, "--input", str(tmp_path / "in"), "--output", str(out), "--quiet")
    assert r.returncode == 0 and out.is_file() and not parts.exists()
    assert f"removed {parts}, the shards of an earlier --resume run this run replaced" in r.stderr
