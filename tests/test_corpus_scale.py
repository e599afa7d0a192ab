"""Corpus-scale prediction (issue 19): precision that fits the machine, corpus formats in and out, resume after
SIGKILL, the Ray engine against a real local Ray head."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, cli, run_cli

BODIES = [
    "Seoul urged calm on Monday. Moon said talks with the North must go on.",
    'Moscow criticised the new drills. "We call on Washington to stop provoking Pyongyang," Lavrov said.',
    "Tokyo backed tighter sanctions. Abe said pressure would continue until the North changed course.",
    "Beijing proposed a freeze for freeze. The foreign ministry said dialogue was the only way out.",
]


def articles(n: int) -> list[dict]:
    """``n`` short articles of our own sentences, with metadata; every third has its date only in a dateline."""
    out = []
    for i in range(n):
        body = BODIES[i % len(BODIES)]
        row = {"id": f"art{i:03d}", "outlet": ["Yonhap", "TASS", "Kyodo"][i % 3], "title": f"Headline {i}",
               "url": f"https://example.org/{i}", "date": f"2017-{1 + i % 12:02d}-{1 + i % 27:02d}"}
        if i % 3 == 0:
            row["date"] = None
            body = f"SEOUL, Nov. {1 + i % 28}, 2017 (Yonhap) -- {body}"
        row["text"] = body
        out.append(row)
    return out


def write_corpus(folder: Path, rows: list[dict]) -> dict[str, Path]:
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows)
    paths = {"csv": folder / "c.csv", "parquet": folder / "c.parquet", "jsonl": folder / "c.jsonl"}
    df.to_csv(paths["csv"], index=False)
    df.to_parquet(paths["parquet"], index=False)
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return paths


def read_table(path: Path) -> list[dict]:
    import pandas as pd

    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    elif path.suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]
    return df.to_dict("records")


def key(r: dict) -> tuple:
    return (r["article_id"], r["unit_id"], r["kind"], r["text"], r["actor"], r["stance"])


# --- precision -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags, n_units, expected", [
    ({"avx512_vnni", "avx512f"}, 20_000, "int8"),        # a Xeon with VNNI and no native bf16, a large job
    ({"avx512_vnni"}, 5_000, "fp32"),                    # VNNI, but too small a job to repay the compile
    ({"avx512_vnni"}, None, "fp32"),                     # job size unknown (the Python API): taken as small
    ({"avx512_vnni", "avx512_bf16"}, 20_000, "bf16"),    # an EPYC with native bf16: bf16 until int8 pays more
    ({"avx512_vnni", "avx512_bf16"}, 500_000, "int8"),
    ({"amx_int8", "amx_bf16", "avx512_bf16", "avx512_vnni"}, 500_000, "bf16"),  # AMX computes bf16: beat int8
    ({"amx_int8", "avx512_vnni"}, 500_000, "int8"),      # AMX for int8 alone (no amx_bf16): int8 for a large job
    ({"avx512_bf16"}, 500_000, "bf16"),                  # native bf16, no VNNI
    ({"avx2", "fma"}, 500_000, "fp32"),                  # neither
])
def test_auto_picks_by_cpu_flags_and_job_size(flags, n_units, expected):
    from kpstance.systems.precision import choose

    c = choose("auto", "cpu", n_units, flags=lambda: flags, compiler=lambda: True, torchao=lambda: True)
    assert c.precision == expected and c.reason.startswith("auto: ")


def test_auto_scales_the_job_int8_needs_by_the_models_work():
    """A model with more Linear work saves more a sentence in int8 and repays the compile sooner; a tiny one never
    does. The work is counted from the model's Linear layers, relative to MiniLM's."""
    from transformers import BertConfig, BertForSequenceClassification

    from kpstance.systems.precision import REFERENCE_WORK, choose, linear_work

    epyc = {"avx512_vnni", "avx512_bf16"}

    def pick(n_units, work):
        return choose("auto", "cpu", n_units, lambda: epyc, lambda: True, lambda: True, work=work).precision

    assert pick(20_000, 1.0) == "bf16" and pick(20_000, 7.94) == "int8"  # MiniLM; all-mpnet-base-v2's work
    assert pick(6_000, 7.94) == "bf16" and pick(500_000, 1.0) == "int8"
    assert pick(10**7, 0.001) == "bf16"  # a tiny model: never worth a compile
    amx = epyc | {"amx_bf16", "amx_int8"}  # bf16 in AMX tiles beat int8 at every size measured, mpnet's included
    assert all(choose("auto", "cpu", 10**7, lambda: amx, lambda: True, lambda: True, work=w).precision == "bf16"
               for w in (1.0, 7.94))
    model = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=64, num_labels=5))
    # per layer: query, key, value and output 32x32 each, then 32x64 and 64x32; the pooler 32x32; the head 32x5
    assert linear_work(model) == 2 * (4 * 32 * 32 + 2 * 32 * 64) + 32 * 32 + 32 * 5
    assert linear_work(model) / REFERENCE_WORK < 0.01


def test_auto_never_picks_int8_without_torchao_or_a_compiler_and_explicit_choices_are_checked(capsys):
    from kpstance.errors import KpstanceError
    from kpstance.systems import precision
    from kpstance.systems.precision import choose

    vnni = {"avx512_vnni"}
    assert choose("auto", "cpu", 10**6, lambda: vnni, lambda: True, lambda: True).precision == "int8"
    assert choose("auto", "cpu", 10**6, lambda: vnni, lambda: False, lambda: True).precision == "fp32"
    c = choose("auto", "cpu", 10**6, lambda: vnni, lambda: True, lambda: False)
    assert c.precision == "fp32" and "torchao is not installed" in c.reason
    with pytest.raises(KpstanceError, match="int8 needs torchao"):
        choose("int8", "cpu", None, lambda: vnni, lambda: True, lambda: False)
    with pytest.raises(KpstanceError, match="int8 is for CPU"):
        choose("int8", "cuda")
    with pytest.raises(KpstanceError, match="unknown precision"):
        choose("fp16", "cpu")
    precision._warned.discard("bf16")
    for _ in range(3):  # bf16 on a CPU that emulates it: warned, once
        assert choose("bf16", "cpu", flags=lambda: {"avx512_vnni"}).precision == "bf16"
    err = capsys.readouterr().err
    assert err.count("warning: bf16 on a CPU without native bf16") == 1 and "0.25x fp32" in err
    assert choose("bf16", "cpu", flags=lambda: {"avx512_bf16"}).precision == "bf16"
    assert capsys.readouterr().err == ""


def test_precision_env_default_and_bad_value(monkeypatch):
    from kpstance.errors import KpstanceError
    from kpstance.systems.precision import default_precision

    monkeypatch.setenv("KPSTANCE_PRECISION", "int8")
    assert default_precision() == "int8"
    monkeypatch.delenv("KPSTANCE_PRECISION")
    assert default_precision() == "auto"
    monkeypatch.setenv("KPSTANCE_PRECISION", "fast")
    with pytest.raises(KpstanceError, match="KPSTANCE_PRECISION"):
        default_precision()


def test_the_python_api_logs_autos_choice(smoke_run, caplog):
    """``kpstance predict`` prints what ``auto`` picked and why; ``StancePredictor.load`` logs the same."""
    import logging

    from kpstance import StancePredictor

    with caplog.at_level(logging.INFO, logger="kpstance.systems.predictor"):
        p = StancePredictor.load(smoke_run["model_dir"], precision="auto", n_units=10)
    assert f"precision {p.precision} ({p.choice.reason})" in caplog.text and "auto:" in p.choice.reason


def test_int8_agrees_with_fp32_on_a_tiny_model(smoke_run):
    """torchao int8 (quantised at load, compiled): the folder is unchanged, the probabilities stay close."""
    pytest.importorskip("torchao")
    import numpy as np

    from kpstance import StancePredictor

    folder = smoke_run["model_dir"]
    before = {f.name: f.stat().st_mtime_ns for f in folder.iterdir()}
    texts = [s for b in BODIES for s in b.split(". ")] * 3
    fp32 = StancePredictor.load(folder, precision="fp32")
    int8 = StancePredictor.load(folder, precision="int8")
    assert int8.precision == "int8" and int8.choice.reason == "asked for"
    pa, ps = fp32.predict_proba(texts)
    qa, qs = int8.predict_proba(texts)
    assert np.abs(pa - qa).max() < 0.05 and np.abs(ps - qs).max() < 0.05
    assert {f.name: f.stat().st_mtime_ns for f in folder.iterdir()} == before


def test_int8_compiles_in_one_attempt():
    """Left to torch's defaults, Dynamo traces a torchao-quantised BERT, fails to make a float scale a tensor and
    traces it all again (17 of 22 s for MiniLM); ``compile_int8`` specialises floats so one attempt suffices, on
    the first shape and on a new one, for the first-token view that the predictor compiles."""
    pytest.importorskip("torchao")
    import torch
    import torch._dynamo.utils as dynamo_utils
    from transformers import BertConfig, BertForSequenceClassification

    from kpstance.systems.first_token import first_token_view
    from kpstance.systems.precision import compile_int8, quantize_int8

    metrics = getattr(dynamo_utils, "compilation_time_metrics", None)
    if metrics is None:
        pytest.skip("this torch keeps no compile-time metrics")
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=64, num_labels=5))
    forward = compile_int8(first_token_view(quantize_int8(model.eval())))  # what the predictor compiles
    torch._dynamo.reset()
    metrics.clear()
    with torch.no_grad():
        for shape in ((4, 12), (8, 17)):
            ids = torch.randint(0, 100, shape)
            forward(input_ids=ids, attention_mask=torch.ones_like(ids))
    attempts = sorted(k for k in metrics if k.startswith("compile_attempt"))
    assert attempts == ["compile_attempt_0"], attempts


# --- formats ---------------------------------------------------------------------------------------------------


def test_every_input_format_gives_the_same_table_in_every_output_format(capsys, smoke_run, tmp_path):
    model = str(smoke_run["model_dir"])
    rows = articles(7)
    paths = write_corpus(tmp_path / "in", rows)
    txt = tmp_path / "txt" / "2017" / "11"
    txt.mkdir(parents=True)
    for r in rows:  # a folder of .txt articles: the title as first line, the id its path under the folder
        (txt / f"{r['id']}.txt").write_text(f"{r['title']}\n{r['text']}\n", encoding="utf-8")
    tables = {}
    for name, src, extra in (("csv", paths["csv"], []), ("parquet", paths["parquet"], []),
                             ("jsonl", paths["jsonl"], ["--rows", "articles"])):
        for out_ext in ("jsonl", "csv", "parquet"):
            out = tmp_path / f"{name}-out.{out_ext}"
            code, _, err = cli(capsys, "predict", model, "--input", str(src), "--output", str(out), "--min-score",
                               "0.5", *extra)
            assert code == 0, err
            tables[(name, out_ext)] = read_table(out)
    first = tables[("csv", "jsonl")]
    datelined = sum(r["date"] is None for r in rows)
    assert len(first) == 7 * 3 + datelined  # a title and two sentences each, and a dated dateline its own unit
    assert sum(r["kind"] == "dateline" for r in first) == datelined
    for t in tables.values():
        assert [key(r) for r in t] == [key(r) for r in first]
        assert [str(r["date"] or "") for r in t] == [str(r["date"] or "") for r in first]
    by_article = {r["article_id"]: r for r in first}
    assert set(by_article) == {r["id"] for r in rows}
    for r in rows:  # metadata carried; a date absent from the row is read from the dateline with a year
        got = by_article[r["id"]]
        assert got["outlet"] == r["outlet"] and got["url"] == r["url"] and got["title"] == r["title"]
        want = r["date"] or f"2017-11-{1 + int(r['id'][3:]) % 28:02d}"
        assert got["date"] == want
    assert first[0]["kind"] == "title" and first[0]["text"] == "Headline 0"
    assert all(isinstance(r["uncertain"], bool) for r in first)
    assert list(first[0])[:14] == ["article_id", "date", "outlet", "title", "url", "unit_id", "kind", "speaker",
                                   "text", "actor", "stance", "actor_score", "stance_score", "uncertain"]
    # the folder of .txt articles: recursive, ids are paths under the folder, same labels as the table inputs
    code, _, err = cli(capsys, "predict", model, "--input", str(tmp_path / "txt"), "--output",
                       str(tmp_path / "txt.parquet"))
    assert code == 0, err
    txt_rows = read_table(tmp_path / "txt.parquet")
    assert {r["article_id"] for r in txt_rows} == {f"2017/11/{r['id']}" for r in rows}
    assert sorted((r["text"], r["actor"], r["stance"]) for r in txt_rows) == \
        sorted((r["text"], r["actor"], r["stance"]) for r in first)
    assert {r["date"] for r in txt_rows if r["article_id"].endswith("art003")} == {"2017-11-04"}
    # the title column holds the .txt article's headline, as the table inputs' title column gives it
    assert sorted({(r["article_id"].rsplit("/", 1)[-1], r["title"]) for r in txt_rows}) == \
        sorted({(r["article_id"], r["title"]) for r in first})


def test_columns_are_mappable_and_jsonl_units_carry_their_fields(capsys, smoke_run, tmp_path):
    import pandas as pd

    model = str(smoke_run["model_dir"])
    df = pd.DataFrame(articles(3)).rename(columns={"id": "doc_id", "text": "body", "date": "published"})
    df.to_csv(tmp_path / "m.csv", index=False)
    code, _, err = cli(capsys, "predict", model, "--input", str(tmp_path / "m.csv"), "--output",
                       str(tmp_path / "m.parquet"), "--columns", "id=doc_id,text=body,date=published", "--probs")
    assert code == 0, err
    t = read_table(tmp_path / "m.parquet")
    assert {x["article_id"] for x in t} == {"art000", "art001", "art002"}
    assert {x["date"] for x in t if x["article_id"] == "art001"} == {"2017-02-02"}
    assert abs(sum(v for k, v in t[0].items() if k.startswith("stance_p_")) - 1) < 1e-4
    (tmp_path / "u.jsonl").write_text('{"text": "Seoul urged calm.", "date": "2018-04-27", "gold": "x"}\n'
                                      '{"text": "Tokyo agreed.", "id": "u2"}\n', encoding="utf-8")
    code, out, err = cli(capsys, "predict", model, "--input", str(tmp_path / "u.jsonl"))
    assert code == 0, err
    a, b = (json.loads(l) for l in out.splitlines())
    assert (a["unit_id"], a["date"], a["gold"], a["article_id"]) == ("u-1", "2018-04-27", "x", "u")
    assert b["unit_id"] == "u2" and b["date"] is None


def test_a_repeated_article_id_is_one_warning_and_the_table_is_written(capsys, smoke_run, tmp_path):
    """Two rows with one id (a reissued wire story) give repeated unit ids: said once, with the count and where."""
    rows = articles(4)
    rows[2]["id"] = rows[3]["id"] = rows[0]["id"]
    src = write_corpus(tmp_path / "in", rows)["csv"]
    out = tmp_path / "o.csv"
    code, _, err = cli(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src), "--output", str(out))
    assert code == 0, err
    assert err.strip().splitlines() == [
        f"kpstance: warning: 2 article(s) reuse an earlier article's id (first: 'art000' at {src}:4); "
        "their unit ids repeat in the table"]
    assert len({r["article_id"] for r in read_table(out)}) == 2
    code, _, err = cli(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src), "--output", str(out),
                       "--rows", "units")  # a CSV row is an article whatever --rows says
    assert code == 0 and "reuse an earlier article's id" in err
    rows = articles(4)
    write_corpus(tmp_path / "ok", rows)
    code, _, err = cli(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(tmp_path / "ok" / "c.csv"),
                       "--output", str(out))
    assert code == 0 and "warning" not in err


def test_a_header_with_a_trailing_comma_reads_rows_with_or_without_the_empty_cell(tmp_path):
    from kpstance.text.corpus import Columns, iter_items

    (tmp_path / "t.csv").write_text("id,text,date,outlet,\na1,Seoul urged talks.,2017-11-29,Yonhap\n"
                                    "a2,Tokyo urged calm.,2017-11-30,Kyodo,\n", encoding="utf-8")
    items = list(iter_items([str(tmp_path / "t.csv")], Columns()))
    assert [(it.article_id, it.meta["outlet"]) for it in items] == [("a1", "Yonhap"), ("a2", "Kyodo")]


def test_an_outlet_the_input_lacks_is_the_agency_its_dateline_names(tmp_path):
    from kpstance.text.corpus import Columns, dateline_agency, iter_items

    assert [dateline_agency(d) for d in ("SEOUL (Reuters) -", "SEOUL, South Korea (AP) —", "TOKYO, June 22 Kyodo -",
                                         "MOSCOW, November 24. /TASS/.", "MOSCOW, Nov. 29 (RIA Novosti) -",
                                         "TOKYO, 3 September 2017 -")] == [
        "Reuters", "AP", "Kyodo", "TASS", "RIA Novosti", None]
    (tmp_path / "a.txt").write_text("Seoul urges talks\n\nSEOUL, Nov. 29, 2017 (Yonhap) -- Seoul urged talks.\n")
    (tmp_path / "b.csv").write_text('id,outlet,text\nb1,Hankyoreh,"SEOUL (Yonhap) -- Seoul urged talks."\n'
                                    'b2,,"Seoul urged talks."\n')
    items = list(iter_items([str(tmp_path)], Columns()))
    for it in items:
        it.rows()
    assert [(it.article_id, it.meta["outlet"]) for it in items] == [("a", "Yonhap"), ("b1", "Hankyoreh"), ("b2", None)]


def test_dateline_dates_are_read_only_where_a_year_is_given(capsys):
    from kpstance.text.corpus import dateline_date

    assert dateline_date("SEOUL, Nov. 29, 2017 (Yonhap) -- North Korea fired") == "2017-11-29"
    assert dateline_date("MOSCOW, November 24, 2017 /TASS/. Lavrov said") == "2017-11-24"
    assert dateline_date("TOKYO, 3 September 2017 - Japan protested") == "2017-09-03"
    assert dateline_date("UNITED NATIONS, Dec. 22, 2017 (AP) --") == "2017-12-22"
    assert dateline_date("BEIJING, Sept. 3 (Xinhua) -- China condemned") is None  # no year: never guessed
    assert dateline_date("The council met on Nov. 29, 2017 in New York.") is None  # a date in the body
    # a body sentence whose words before a comma look like a place: only capitals make a dateline's place
    assert dateline_date("North Korea fired a missile on Wednesday, Nov. 29, 2017.") is None
    assert dateline_date("Kim Jong Un said in a speech on Monday, January 1, 2018, that") is None
    assert dateline_date("SEOUL, NOV. 29, 2017 (Yonhap) --") == "2017-11-29"  # month names in any case
    assert dateline_date("WASHINGTON, Tuesday, Jan. 2, 2018 (AP) --") == "2018-01-02"
    # KCNA's place in mixed case: read where the segmenter took the unit for a dateline (it names an agency)
    assert dateline_date("Pyongyang, September 22, 2017 (KCNA) --", dateline=True) == "2017-09-22"
    assert dateline_date("Pyongyang, September 22, 2017 (KCNA) --") is None
    from kpstance.text.corpus import fill_meta
    from kpstance.text.read import unit_rows
    meta: dict = {}
    fill_meta(meta, unit_rows("Headline\nPyongyang, September 22, 2017 (KCNA) -- The DPRK said it would respond.\n",
                              "k", "en", "kcna.txt", title_first=True), "kcna.txt")
    assert (meta["date"], meta["outlet"]) == ("2017-09-22", "KCNA")
    meta = {}  # the dateline on a line of its own (a dateline unit, not the subtitle it once was) gives its date too
    fill_meta(meta, unit_rows("Headline\nPyongyang, September 22, 2017 (KCNA) --\nThe DPRK said it would respond.\n",
                              "k", "en", "kcna.txt", title_first=True), "kcna.txt")
    assert meta["date"] == "2017-09-22"
    # a standfirst between the headline and the dateline (a README audit: the article went undated), in a .txt
    # article and in a table's row of a whole article
    for text in ("Headline\nSeoul offers talks as the Games near\nSEOUL, March 5, 2018 (Yonhap) -- Seoul said it "
                 "would send envoys.\n",
                 "Headline\nSeoul offers talks as the Games near\nSEOUL, March 5, 2018 (Yonhap) --\nSeoul said it "
                 "would send envoys.\n"):
        meta = {}
        rows = unit_rows(text, "s", "en", "s.txt", title_first=True)
        assert [r["kind"] for _, r, _ in rows][:2] == ["title", "subtitle"]
        fill_meta(meta, rows, "s.txt")
        assert (meta["date"], meta["outlet"]) == ("2018-03-05", "Yonhap")
    meta = {}  # a sentence ends the search: a date later in the body is never read as the article's
    fill_meta(meta, unit_rows("Headline\nSeoul said it would send envoys.\nSEOUL, March 5, 2018 (Yonhap) -- More.\n",
                              "s", "en", "s.txt", title_first=True), "s.txt")
    assert meta["date"] is None
    # not a date: the article goes undated, and the user is told which article and why
    assert capsys.readouterr().err == ""
    assert dateline_date("SEOUL, Tuesday, Feb. 30, 2018 (Yonhap) --", "wire/a.txt") is None
    assert capsys.readouterr().err == ("kpstance: warning: wire/a.txt: the dateline's date 'Feb. 30, 2018' does not "
                                       "exist; the article has no date\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is set on Linux only")
def test_segmenting_thread_runs_at_the_lowest_priority_and_leaves_the_callers(monkeypatch, tmp_path, scheme):
    """The thread that segments ahead of the model yields the cores to the model's threads (nice 19); the caller's
    own priority, which the model's threads share, is not touched."""
    import threading

    from kpstance.scale import local
    from kpstance.text.corpus import Columns, iter_items

    seen = {}
    groups = local.groups

    def spy(items, chunk_size):
        seen[threading.get_native_id()] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        yield from groups(items, chunk_size)

    monkeypatch.setattr(local, "groups", spy)
    (tmp_path / "a.txt").write_text("Lavrov met Tillerson.\n\nHe said talks must resume.\n", encoding="utf-8")
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    out = list(local.prepared(iter_items([str(tmp_path / "a.txt")], Columns()), 4, scheme))
    assert sum(len(rows) for _, rows, _ in out) == 2
    (tid, nice), = seen.items()
    assert tid != threading.get_native_id() and nice == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


@pytest.mark.parametrize("case, expected", [
    ("csv-no-text", 'c.csv:1: missing column "text"'),
    ("csv-empty-text", 'c.csv:3: column "text" is empty or not text; every row must hold its article text'),
    ("csv-bad-date", 'c.csv:3: column "date": cannot read \'29/11/2017\' as a date'),
    # an unquoted comma in a text used to cut the article short and drop the rest, silently; an unclosed quote
    # swallowed the rows after it
    ("csv-extra-cells", "c.csv:3: 3 cells but the header has 2 (a comma in a text that is not quoted?"),
    # an unquoted line break in a text made a short row and a row of its rest, read as another article
    ("csv-short-row", "c.csv:3: 2 cells but the header has 3 (a line break in a text that is not quoted?"),
    ("csv-open-quote", "c.csv:3: a quoted field opened in this row is never closed"),
    ("csv-empty", "c.csv: the file is empty"),
    ("parquet-no-id", 'c.parquet: missing column "id"'),
    ("parquet-damaged", "c.parquet: not a readable Parquet file"),
    ("unwritable", "cannot write"),
    # a Parquet output in a folder that exists but cannot be written: refused before the model is loaded (the
    # writer used to open its path lazily, after the first chunk, and fail with a traceback)
    ("unwritable-parquet", "kpstance-test-o.parquet: cannot write"),
    # --resume stops on a bad date after a shard is written: the shards go too, since the mended input's fingerprint
    # would refuse them
    ("resume-bad-date", 'c.csv:3: column "date": cannot read \'29/11/2017\' as a date'),
    ("bad-extension", "cannot tell the output format from the extension"),
    ("bad-columns", "--columns: cannot read 'txt=body'"),
])
def test_corpus_errors_are_one_line_exit_2_and_nothing_half_written(capsys, smoke_run, tmp_path, case, expected):
    import pandas as pd

    rows = articles(3)
    src = tmp_path / ("c.parquet" if case.startswith("parquet") else "c.csv")
    out = tmp_path / "out" / "o.parquet"
    out.parent.mkdir()
    extra: list[str] = []
    if case == "csv-no-text":
        pd.DataFrame(rows).drop(columns=["text"]).to_csv(src, index=False)
    elif case == "csv-empty-text":
        rows[1]["text"] = " "
        pd.DataFrame(rows).to_csv(src, index=False)
    elif case in ("csv-bad-date", "resume-bad-date"):
        rows[1]["date"] = "29/11/2017"
        pd.DataFrame(rows).to_csv(src, index=False)
        if case == "resume-bad-date":
            extra = ["--resume", "--chunk-size", "1"]
    elif case == "csv-extra-cells":
        src.write_text("id,text\na1,Seoul urged talks.\na2,Seoul, Tokyo and Washington agreed to talk.\n")
    elif case == "csv-short-row":
        src.write_text("id,text,date\na1,Seoul urged talks.,2017-11-29\na2,Tokyo said it would\nkeep sanctions.,2017-11-30\n")
    elif case == "csv-open-quote":
        src.write_text('id,text\na1,Seoul urged talks.\na2,"Tokyo said it would\na3,keep sanctions.\n')
    elif case == "csv-empty":
        src.write_text("")
    elif case == "parquet-no-id":
        pd.DataFrame(rows).drop(columns=["id"]).to_parquet(src)
    elif case == "parquet-damaged":
        pd.DataFrame(rows).to_parquet(src)
        src.write_bytes(src.read_bytes()[: len(src.read_bytes()) // 2])
    else:
        pd.DataFrame(rows).to_csv(src, index=False)
        if case == "unwritable":
            out = tmp_path / "no" / "such" / "folder" / "o.csv"
        elif case == "unwritable-parquet":
            out = Path("/sys/kpstance-test-o.parquet")  # sysfs: no new files, not even for root
            if not sys.platform.startswith("linux") or not out.parent.is_dir():
                pytest.skip("needs Linux's /sys")
        elif case == "bad-extension":
            out = out.with_suffix(".xlsx")
        else:
            extra = ["--columns", "txt=body"]
    code, _, err = cli(capsys, "predict", str(smoke_run["model_dir"]), "--input", str(src), "--output", str(out),
                       *extra)
    assert code == 2, err
    assert err.startswith("kpstance: error: ") and err.count("\n") == 1 and expected in err
    assert not out.exists()
    if out.parent.exists() and case != "unwritable-parquet":  # no temporary file or parts folder left behind either
        assert list(out.parent.iterdir()) == []


# --- resume ----------------------------------------------------------------------------------------------------


def test_resume_after_sigkill_writes_every_unit_exactly_once(capsys, smoke_run, tmp_path):
    """A run killed with SIGKILL at each point in turn (a shard written but not listed in the manifest, one listed,
    while joining the shards, after joining but before the parts are removed), each time started again with
    --resume, ends with exactly the table a straight run writes."""
    model = str(smoke_run["model_dir"])
    src = write_corpus(tmp_path / "in", articles(24))["parquet"]
    whole = tmp_path / "whole.csv"
    code, _, err = cli(capsys, "predict", model, "--input", str(src), "--output", str(whole))
    assert code == 0, err
    out, parts = tmp_path / "out.csv", tmp_path / "out.csv.parts"
    cmd = [sys.executable, "-m", "kpstance.cli", "predict", model, "--input", str(src), "--output", str(out),
           "--resume", "--chunk-size", "20"]
    for fault in ("shard-1-written", "shard-3-listed", "joining", "joined"):
        killed = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                                env={**os.environ, "KPSTANCE_FAULT": fault})
        assert killed.returncode == -9, (fault, killed.stderr)  # SIGKILL
        assert (parts / "manifest.json").is_file()
        assert out.exists() == (fault == "joined")
        manifest = json.loads((parts / "manifest.json").read_text())
        if fault == "shard-1-written":  # shard 1 is whole but unlisted: it is done again
            assert [x["file"] for x in manifest["shards"]] == ["part-000000.csv"] and (parts / "part-000001.csv").exists()
            first = (parts / "part-000000.csv").stat().st_mtime_ns
        if fault == "shard-3-listed":  # it went on from shard 1, not from the start
            assert "kpstance: resuming: 6 items (20 units) were written before" in killed.stderr  # shard 0
            assert len(manifest["shards"]) == 4 and (parts / "part-000000.csv").stat().st_mtime_ns == first
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8") == whole.read_text(encoding="utf-8")
    assert not parts.exists()


def test_resume_refuses_other_inputs_and_needs_a_file(capsys, smoke_run, tmp_path):
    model = str(smoke_run["model_dir"])
    paths = write_corpus(tmp_path / "in", articles(6))
    out = tmp_path / "o.jsonl"
    env = {**os.environ, "KPSTANCE_FAULT": "shard-0-listed"}
    cmd = [sys.executable, "-m", "kpstance.cli", "predict", model, "--input", str(paths["csv"]), "--output",
           str(out), "--resume", "--chunk-size", "5"]
    assert subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300).returncode == -9
    code, _, err = cli(capsys, "predict", model, "--input", str(paths["parquet"]), "--output", str(out), "--resume")
    assert code == 2 and "written for other inputs" in err
    code, _, err = cli(capsys, "predict", model, "--input", str(paths["csv"]), "--resume")
    assert code == 2 and "--resume needs --output" in err
    # shards another kpstance wrote with other columns (before the model column, say) are not joined to new ones
    manifest = out.with_name(out.name + ".parts") / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    assert data["fingerprint"]["columns"][:15][-1] == "model"
    data["fingerprint"]["columns"].remove("model")
    manifest.write_text(json.dumps(data), encoding="utf-8")
    code, _, err = cli(capsys, "predict", model, "--input", str(paths["csv"]), "--output", str(out), "--resume")
    assert code == 2 and "other options or columns" in err


# --- Ray -------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ray_engine_on_a_real_local_cluster_gives_the_local_labels(capsys, smoke_run, tmp_path):
    """A real Ray head on 127.0.0.1 with two CPUs; the CLI sends a corpus of CSV and .txt articles to it (each kind
    of file is a dataset with its own replicas; Parquet, the simplest reader, is what benchmarks/bench_table.py ray
    compares)."""
    pytest.importorskip("ray.data")
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        ray_bin = Path(shutil.which("ray") or "ray")
    model = str(smoke_run["model_dir"])
    paths = write_corpus(tmp_path / "in", articles(12))
    txt = tmp_path / "in" / "txt"
    txt.mkdir()
    for r in articles(3):
        (txt / f"{r['id']}.txt").write_text(f"{r['title']}\n{r['text']}\n", encoding="utf-8")
    inputs = [str(paths["csv"]), str(txt)]
    local = tmp_path / "local.parquet"
    code, _, err = cli(capsys, "predict", model, "--input", *inputs, "--output", str(local), "--explain")
    assert code == 0, err
    port = _free_port()
    env = {**os.environ, "RAY_NODE_IP_ADDRESS": "127.0.0.1", "RAY_USAGE_STATS_ENABLED": "0"}
    start = subprocess.run([str(ray_bin), "start", "--head", "--num-cpus", "2", "--node-ip-address", "127.0.0.1",
                            "--port", str(port), "--include-dashboard=false", "--disable-usage-stats"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        out = tmp_path / "ray.parquet"
        r = run_cli("predict", model, "--engine", "ray", "--address", f"127.0.0.1:{port}", "--input", *inputs,
                    "--output", str(out), "--explain")
        assert r.returncode == 0, r.stderr[-3000:]
        got, want = read_table(out), read_table(local)
        assert len(got) == len(want) > 12 * 3
        assert [key(x) + (x["date"],) for x in got] == [key(x) + (x["date"],) for x in want]
        why = ("context", "rules_actor", "rules_stance", "rules_fired")  # --explain: the replicas' rules are the local ones
        assert [tuple(x[k] for k in why) for x in got] == [tuple(x[k] for k in why) for x in want]
        assert any(x["rules_fired"] for x in got)
        assert max(abs(a["stance_score"] - b["stance_score"]) for a, b in zip(got, want)) < 1e-5
        code, _, err = cli(capsys, "predict", model, "--engine", "ray", "--address", f"127.0.0.1:{port}", "--input",
                           *inputs, "--output", str(tmp_path / "ray.csv"))
        assert code == 2 and "--engine ray writes Parquet" in err
    finally:
        subprocess.run([str(ray_bin), "stop", "--force"], capture_output=True, timeout=120)


def test_training_precision_auto_is_bf16_only_where_the_cpu_computes_it(monkeypatch, capsys):
    from kpstance.errors import KpstanceError
    from kpstance.systems import precision
    from kpstance.systems.precision import choose_training

    monkeypatch.delenv("KPSTANCE_PRECISION", raising=False)
    assert choose_training("auto", "cpu", flags=lambda: {"avx512_bf16", "avx512_vnni"}).precision == "bf16"
    assert choose_training("auto", "cpu", flags=lambda: {"amx_bf16"}).precision == "bf16"
    assert choose_training("auto", "cpu", flags=lambda: {"avx512_vnni", "avx512f"}).precision == "fp32"
    assert choose_training("fp32", "cpu", flags=lambda: {"avx512_bf16"}).precision == "fp32"
    precision._warned.discard("bf16")
    assert choose_training("bf16", "cpu", flags=lambda: {"avx512_vnni"}).precision == "bf16"
    assert "0.25x fp32" in capsys.readouterr().err
    monkeypatch.setenv("KPSTANCE_PRECISION", "fp32")  # what the tests set, so results do not depend on the machine
    assert choose_training("auto", "cpu", flags=lambda: {"avx512_bf16"}).precision == "fp32"
    monkeypatch.setenv("KPSTANCE_PRECISION", "int8")  # a prediction-only choice: auto decides for training
    assert choose_training("auto", "cpu", flags=lambda: {"avx512_bf16"}).precision == "bf16"
    with pytest.raises(KpstanceError, match="unknown training precision"):
        choose_training("int8", "cpu")


@pytest.mark.parametrize("resources,actors,actor_cpus,expected", [
    ({"CPU": 2.0}, None, 1, ("cpu", 2, 1, 0)),  # this machine: a replica per core
    ({"CPU": 64.0}, None, 4, ("cpu", 16, 4, 0)),  # four machines of 16 cores, 4 cores a replica
    ({"CPU": 3.0}, None, 4, ("cpu", 1, 4, 0)),  # fewer cores than a replica asks for: still one
    ({"CPU": 64.0}, 5, 2, ("cpu", 5, 2, 0)),  # --actors decides the count
    ({"CPU": 32.0, "GPU": 4.0}, None, 2, ("cuda", 4, 2, 1)),  # a replica per GPU, each with its cores
    ({"CPU": 32.0, "GPU": 4.0}, 2, 1, ("cuda", 2, 1, 1)),
])
def test_ray_replicas_follow_the_clusters_cpus_and_gpus(resources, actors, actor_cpus, expected):
    """The replica plan for clusters this machine is not: GPUs get a replica each (no GPU is lent to the tests)."""
    from kpstance.scale.ray_engine import replica_plan

    assert tuple(replica_plan(resources, actors, actor_cpus)) == expected


def test_the_heap_is_trimmed_once_per_chunk(capsys, monkeypatch, smoke_run, tmp_path):
    """Freed pages go back to the system after each chunk, so a long corpus does not creep up in resident memory
    (glibc keeps freed pages otherwise; measured in docs/benchmarks.md)."""
    from kpstance.cli import main
    from kpstance.scale import local

    if platform.libc_ver()[0] == "glibc":
        assert local._malloc_trim() is not None  # glibc: the call is there
    calls = []
    trim = local.trim_heap
    monkeypatch.setattr(local, "trim_heap", lambda: (calls.append(1), trim()))
    for i in range(3):
        (tmp_path / f"a{i}.txt").write_text(f"Lavrov met Tillerson {i}.\n\nHe said talks must resume.\n",
                                            encoding="utf-8")
    assert main(["predict", str(smoke_run["model_dir"]), "--input", str(tmp_path), "--quiet",
                 "--chunk-size", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 6 and len(calls) == 3  # three articles, a chunk each


def test_a_jsonl_line_is_named_a_line_with_fields_not_a_row_with_columns(tmp_path):
    from kpstance.errors import KpstanceError
    from kpstance.text.corpus import Columns, iter_items

    p = tmp_path / "u.jsonl"
    for body, expected in (('{"text": " "}', f'{p}:1: field "text" is empty or not text; every line must hold its '
                                              'sentence text'),
                           ('{"body": "x"}', f'{p}:1: missing field "text" (the sentence text;')):
        p.write_text(body + "\n", encoding="utf-8")
        with pytest.raises(KpstanceError) as e:
            list(iter_items([str(p)], Columns()))
        assert str(e.value).startswith(expected), str(e.value)


def test_the_ray_engine_checks_every_row_before_a_cluster_starts(tmp_path):
    """Ray's own CSV reader and its tasks failed with 164 lines of Ray tracebacks naming neither line nor cause."""
    from kpstance.errors import KpstanceError
    from kpstance.scale.ray_engine import _user_error
    from kpstance.text.corpus import Columns, check_inputs

    good, cells, date = tmp_path / "good.csv", tmp_path / "cells.csv", tmp_path / "date.csv"
    good.write_text("id,text,date\n1,Seoul urged calm.,2017-11-29\n", encoding="utf-8")
    cells.write_text("id,text\n1,Seoul urged calm.\n2,Tokyo, said.\n", encoding="utf-8")
    date.write_text("id,text,date\n1,Seoul urged calm.,2018-02-30\n", encoding="utf-8")
    check_inputs([str(good), str(cells), str(date)], Columns())  # headers only: each passes
    check_inputs([str(good)], Columns(), every_row=True)
    for bad, expected in ((cells, f"{cells}:3: 3 cells but the header has 2"),
                          (date, f'{date}:2: column "date": cannot read \'2018-02-30\'')):
        with pytest.raises(KpstanceError) as e:
            check_inputs([str(good), str(bad)], Columns(), every_row=True)
        assert str(e.value).startswith(expected)
    # an error raised in a task comes back as the text of its traceback: its one line is found there
    wrapped = RuntimeError("Traceback (most recent call last):\n  ...\nkpstance.errors.KpstanceError: x.csv:3: bad\n"
                           "To change retry attempts, configure it")
    assert str(_user_error(wrapped)) == "x.csv:3: bad"
    assert str(_user_error(RuntimeError("boom\nTo change retry attempts, …"))) == "the Ray job failed: boom"


def test_a_title_column_is_the_headline_whatever_its_punctuation(tmp_path):
    """"Will talks resume?" in a title column used to become a sentence, labelled and counted as news."""
    from kpstance.text.corpus import Columns, iter_items

    src = tmp_path / "t.csv"
    src.write_text('id,title,text\n1,Will talks resume?,Seoul urged calm. Tokyo agreed.\n'
                   '2,Given title. With stop.,Seoul urged calm.\n3,,"Plain headline\nSeoul urged calm."\n',
                   encoding="utf-8")
    kinds = [[(rec["kind"], rec["text"]) for _, rec, _ in it.rows()] for it in iter_items([str(src)], Columns())]
    assert kinds == [[("title", "Will talks resume?"), ("sentence", "Seoul urged calm."), ("sentence", "Tokyo agreed.")],
                     [("title", "Given title. With stop."), ("sentence", "Seoul urged calm.")],
                     [("title", "Plain headline"), ("sentence", "Seoul urged calm.")]]


def test_a_csv_that_is_not_utf8_names_the_line_and_the_byte_in_it(tmp_path):
    """The decoder reads ahead in blocks: it used to name line 1 and an offset in the file."""
    from kpstance.errors import KpstanceError
    from kpstance.text.corpus import Columns, iter_items

    src = tmp_path / "l1.csv"
    src.write_bytes(b"id,text\n1,Seoul urged calm.\n2,Tokyo.\n3,Caf\xe9 talk.\n")
    with pytest.raises(KpstanceError) as e:
        list(iter_items([str(src)], Columns()))
    assert str(e.value) == f"{src}:4: not valid UTF-8 (byte 5 of the line)"


def test_hidden_files_and_folders_of_an_input_folder_are_left_out(tmp_path):
    """A notebook's .ipynb_checkpoints copy or a .git folder used to be read as articles."""
    from kpstance.text.corpus import expand

    (tmp_path / "wire" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "wire" / "2017").mkdir()
    for rel in ("2017/a.txt", ".ipynb_checkpoints/a-checkpoint.txt", "2017/.b.txt", "c.csv"):
        (tmp_path / "wire" / rel).write_text("x\n", encoding="utf-8")
    assert [str(Path(f).relative_to(tmp_path / "wire")) for f in expand([str(tmp_path / "wire")])] == [
        "2017/a.txt", "c.csv"]
    hidden = tmp_path / ".hidden.txt"  # named directly: read
    hidden.write_text("x\n", encoding="utf-8")
    assert expand([str(hidden)]) == [str(hidden)]


def test_shards_a_run_still_writes_are_not_taken_for_stale(tmp_path):
    import time

    from kpstance.scale.table import ShardedTable

    parts = tmp_path / "o.parquet.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text("{}", encoding="utf-8")
    table = ShardedTable(tmp_path / "o.parquet", ["text"], {})
    started_before = time.time() - 60
    assert table.discard_stale(started_before) is None and parts.is_dir()  # written since this run began
    assert table.discard_stale(time.time() + 1) == str(parts) and not parts.exists()
