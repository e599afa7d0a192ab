"""The same answer whichever way you ask: ``kpstance predict`` at any chunk size, ``summarize``, ``annotate export``
and ``StancePredictor.predict_article`` label every unit alike, because they share one function that reads each
unit with its context (kind and carried speaker) before predicting.

The smoke model is barely trained, so its labels hardly move; its scores do move with the context, so the
tests compare labels and scores.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

# Three short articles; each has a "he said" whose speaker is the one named in an earlier sentence.
ARTICLES = {
    "lavrov": "Lavrov warns against new drills near Korea\n\n"
              "MOSCOW, November 24. /TASS/. Russian Foreign Minister Sergei Lavrov said on Friday that the drills "
              "must stop.\n\"The exercises only raise tension,\" he said.\nHe said Moscow was ready to help any "
              "talks.\nThe ministry did not give details.\n",
    "moon": "Seoul urges restraint after launch\n\n"
            "SEOUL (Reuters) - South Korean President Moon Jae-in called for calm on Wednesday.\n"
            "\"We must not give up on dialogue,\" he said.\n"
            "Japan's Prime Minister Shinzo Abe said the launch was a grave threat.\n"
            "He said Tokyo would raise sanctions at the United Nations.\n",
    "geng": "China calls for talks\n\n"
            "BEIJING, Nov. 29 (Xinhua) -- Chinese Foreign Ministry spokesman Geng Shuang said all sides should show "
            "restraint.\nHe said the dual suspension proposal remained on the table.\n",
}
KEYS = ("actor", "stance", "actor_score", "stance_score")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for name, text in ARTICLES.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


def predict_cli(capsys, model_dir: Path, corpus: Path, *extra: str) -> str:
    from kpstance.cli import main

    assert main(["predict", str(model_dir), "--input", str(corpus), "--quiet", *extra]) == 0
    return capsys.readouterr().out


def test_predict_does_not_depend_on_the_chunk_size(capsys, smoke_run, scheme, corpus):
    outs = {size: predict_cli(capsys, smoke_run["model_dir"], corpus, *(["--chunk-size", size] if size else []))
            for size in (None, "1", "3", "7")}
    assert len(outs[None].splitlines()) == 16
    for size in ("1", "3", "7"):
        assert outs[size] == outs[None], f"--chunk-size {size} changed the output"

    # A chunk boundary falls between "Sergei Lavrov said" and "he said": read with a fresh memory per chunk (as
    # before the fix), the "he said" loses its speaker, and the model scores it differently.
    from kpstance.systems.context import ContextReader, chunk_contexts
    from kpstance.text.read import iter_inputs

    rows = list(iter_inputs([str(corpus)]))
    whole = chunk_contexts(rows, scheme)
    fresh = [c for row in rows for c in chunk_contexts([row], scheme)]
    reader = ContextReader(scheme)
    carried = [c for row in rows for c in chunk_contexts([row], scheme, reader)]
    he_said = [i for i, (_, r, _) in enumerate(rows) if "he said" in r["text"] and whole[i] != fresh[i]]
    assert he_said and "Lavrov" in whole[he_said[0]] and "Lavrov" not in fresh[he_said[0]]
    assert carried == whole
    from kpstance.systems.predictor import StancePredictor

    p = StancePredictor.load(smoke_run["model_dir"])
    texts = [rows[i][1]["text"] for i in he_said]
    with_speaker = p.predict(texts, contexts=[whole[i] for i in he_said])
    assert with_speaker != p.predict(texts, contexts=[fresh[i] for i in he_said])


def test_predict_summarize_export_and_predict_article_agree_unit_for_unit(capsys, smoke_run, smoke_predictor, corpus,
                                                                         tmp_path):
    from kpstance.cli import main
    from kpstance.eval.summary import predicted_units, summarize

    predicted = {r["unit_id"]: tuple(r[k] for k in KEYS)
                 for r in map(json.loads, predict_cli(capsys, smoke_run["model_dir"], corpus).splitlines())}

    summarized = {r["unit_id"]: tuple(r[k] for k in KEYS) for r in predicted_units(smoke_predictor, [str(corpus)])}
    df = summarize(smoke_predictor, [str(corpus)], n_boot=20).set_index("actor")  # cc: counted labels
    kinds = {r["unit_id"]: r["kind"] for r in map(json.loads, predict_cli(capsys, smoke_run["model_dir"], corpus)
                                                   .splitlines())}
    news = Counter(v[:2] for u, v in predicted.items() if kinds[u] == "sentence" and v[0] != "none")
    counted = {(a, s): round(df.loc[a, s] * df.loc[a, "units"]) for a in df.index if df.loc[a, "units"]
               for s in smoke_predictor.stances if round(df.loc[a, s] * df.loc[a, "units"])}
    assert counted == dict(news) and sum(news.values()) > 0

    tasks_file = tmp_path / "tasks.json"
    assert main(["annotate", "export", str(smoke_run["model_dir"]), "--input", str(corpus), "--n", str(len(predicted)),
                 "--strategy", "random", "--output", str(tasks_file)]) == 0
    capsys.readouterr()
    exported = {}
    for t in json.loads(tasks_file.read_text(encoding="utf-8")):
        res = {r["from_name"]: r for r in t["predictions"][0]["result"]}
        exported[t["data"]["id"]] = (res["actor"]["value"]["choices"][0], res["stance"]["value"]["choices"][0],
                                     res["actor"]["score"], res["stance"]["score"])

    from kpstance import StancePredictor

    assert isinstance(smoke_predictor, StancePredictor)
    article = {}
    for name, text in ARTICLES.items():
        rows = smoke_predictor.predict_article(text, name)
        assert all(set(r) == {"id", "kind", "text", "speaker", "actor", "stance", "actor_score", "stance_score"}
                   for r in rows)
        article.update({r["id"]: tuple(r[k] for k in KEYS) for r in rows})
        if name == "lavrov":
            he = next(r for r in rows if r["text"].startswith('"The exercises'))
            assert "Lavrov" in he["speaker"] and rows[0]["kind"] == "title" and rows[0]["speaker"] is None

    assert len(predicted) == 16
    assert summarized == predicted
    assert exported == predicted
    assert article == predicted

    # The context matters to this model: a path that predicted without it (summarize did) would fail above.
    texts = [r["text"] for r in smoke_predictor.predict_article(ARTICLES["lavrov"], "lavrov")]
    bare = [tuple(p[k] for k in KEYS) for p in smoke_predictor.predict(texts)]
    assert bare != [predicted[f"lavrov-{i:03d}"] for i in range(len(texts))]


def test_predict_article_refuses_an_empty_article(smoke_predictor):
    from kpstance.errors import KpstanceError

    with pytest.raises(KpstanceError, match="the article is empty"):
        smoke_predictor.predict_article(" \n\t", "blank")


def test_sentences_given_to_predict_get_the_context_of_a_bare_jsonl_line(capsys, smoke_run, smoke_predictor, tmp_path):
    texts = ["He said the drills must stop.", "Seoul urged calm."]
    src = tmp_path / "s.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    out = predict_cli(capsys, smoke_run["model_dir"], src)
    cli = [tuple(r[k] for k in KEYS) for r in map(json.loads, out.splitlines())]
    assert [tuple(p[k] for k in KEYS) for p in smoke_predictor.predict(texts)] == cli
    assert [tuple(p[k] for k in KEYS) for p in smoke_predictor.predict_stream(iter(texts))] == cli


def test_a_predictor_with_a_memo_computes_each_input_once_and_gives_the_same_answer(smoke_predictor, monkeypatch):
    """A run's evaluation reads many sentences again (calibration, scores, the swap test's originals, the speaker
    copies): with ``memo`` set each input is computed once, and a later call with another temperature rescales the
    kept logits to what a fresh predictor gives."""
    import copy

    texts = ["Russian Foreign Minister Sergei Lavrov said the drills must stop.",
             "Japan's Prime Minister Shinzo Abe said Tokyo would raise sanctions.",
             "Russian Foreign Minister Sergei Lavrov said the drills must stop.",
             "The ministry did not give details."]
    plain = smoke_predictor.predict(texts)
    kept = copy.copy(smoke_predictor)  # shares the model; its own memo and temperature
    kept.memo = {}
    computed: list[str] = []
    logits = kept._logits
    monkeypatch.setattr(kept, "_logits", lambda t, *a: computed.extend(t) or logits(t, *a))
    first = kept.predict(texts)
    assert [[d[k] for k in ("actor", "stance")] for d in first] == [[d[k] for k in ("actor", "stance")] for d in plain]
    for a, b in zip(first, plain):
        assert a["actor_score"] == pytest.approx(b["actor_score"], abs=1e-5)
        assert a["stance_score"] == pytest.approx(b["stance_score"], abs=1e-5)
    assert len(computed) == len(set(computed)) and texts[0] in computed  # the repeated sentence once
    n = len(computed)
    assert len(kept.memo) == n
    kept.temperature = {"actor": 2.0, "stance": 3.0}
    hot = kept.predict(texts[1:3])
    assert len(computed) == n  # nothing computed again
    fresh = copy.copy(smoke_predictor)
    fresh.temperature = dict(kept.temperature)
    for a, b in zip(hot, fresh.predict(texts[1:3])):
        assert a["actor_probs"] == pytest.approx(b["actor_probs"], abs=1e-5)
        assert a["stance_probs"] == pytest.approx(b["stance_probs"], abs=1e-5)
