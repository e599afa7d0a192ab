"""The multi-source gold corpus: files, labels, splits, phenomena coverage, wire formats, leak guard, scores."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers import ROOT, compose

from kpstance.errors import KpstanceError

MS = ROOT / "data" / "multisource"
PHENOMENA = ("dateline", "spokesperson", "north_south", "nested_report_neutral", "nested_report_judged", "negation",
             "passive", "headline_attributed", "headline_literal", "joined_agents", "un_ambassador",
             "unaffiliated_expert", "background_history", "condemnation_pressure", "condemnation_calm",
             "condemnation_bare", "defiance")
ARTICLE_PHENOMENA = ("quote_multi_sentence", "quote_continuation", "pronoun_speaker", "surname_alone", "title_alone",
                     "according_to", "nested_report_neutral", "subheading")


@pytest.fixture(scope="module")
def ms(scheme):
    from kpstance.corpora import load_multisource

    return load_multisource(MS, scheme)


def test_corpus_parses_with_labels_in_the_scheme_and_unique_ids(ms, scheme):
    ids = [r["id"] for r in ms.records] + [g["id"] for a in ms.articles for g in a.gold]
    assert len(ids) == len(set(ids))
    for r in ms.records + [g for a in ms.articles for g in a.gold]:
        assert r["actor"] in scheme.actor_labels and r["stance"] in scheme.stance_labels
        assert r["source_url"].startswith("http") and r["outlet"] and r["date"][:2] == "20"
        assert "2017" <= r["date"][:4] <= "2019"
        if r["actor"] == "none":
            assert r["stance"] == "neutral"


def test_size_and_balance(ms, scheme):
    assert len(ms.records) >= 480 and len({r["report_id"] for r in ms.records}) >= 60
    per_actor = Counter(r["actor"] for r in ms.records)
    assert all(per_actor[a] >= 50 for a in scheme.actor_labels), per_actor
    cells = Counter((r["actor"], r["stance"]) for r in ms.records)
    for a in scheme.actor_labels[:-1]:
        for s in scheme.stance_labels:
            assert cells[(a, s)] >= 8, (a, s, cells[(a, s)])


def test_every_phenomenon_is_covered_at_least_ten_times(ms):
    tags = Counter(t for r in ms.records + [g for a in ms.articles for g in a.gold] for t in r["phenomena"])
    short = {t: tags[t] for t in PHENOMENA if tags[t] < 10}
    assert not short, short
    art_tags = Counter(t for a in ms.articles for g in a.gold for t in g["phenomena"])
    assert all(art_tags[t] >= 1 for t in ARTICLE_PHENOMENA), art_tags


def test_splits_are_disjoint_by_report_and_roughly_half_a_fifth_and_the_rest(ms):
    by_report: dict[str, set[str]] = {}
    for r in ms.records:
        by_report.setdefault(r["report_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_report.values())
    # a source URL is one report: never in two splits, sentences and articles alike
    by_url: dict[str, set[str]] = {}
    for r in ms.records:
        by_url.setdefault(r["source_url"], set()).add(r["split"])
    for a in ms.articles:
        for g in a.gold:
            by_url.setdefault(g["source_url"], set()).add(a.split)
    assert all(len(s) == 1 for s in by_url.values()), [u for u, s in by_url.items() if len(s) > 1]
    # the training batches (ids ``tr…``) are written for training alone; the other units keep their split shares
    assert all(r["split"] == "train" for r in ms.records if r["id"].startswith("tr"))
    n = Counter(r["split"] for r in ms.records if not r["id"].startswith("tr"))
    total = sum(n.values())
    assert 0.4 <= n["train"] / total <= 0.6 and 0.15 <= n["dev"] / total <= 0.25 and 0.25 <= n["test"] / total <= 0.35
    arts = Counter(a.split for a in ms.articles)
    assert len(ms.articles) >= 8 and arts["test"] >= 3
    assert all(15 <= len(a.gold) <= 30 for a in ms.articles)
    assert max(Counter(a.id.split("-")[0] for a in ms.articles).values()) <= 2


def test_every_article_gold_unit_is_a_verbatim_part_of_its_text(ms):
    for a in ms.articles:
        text = " ".join(a.path.read_text(encoding="utf-8").split())
        for g in a.gold:
            assert " ".join(g["text"].split()) in text, (a.id, g["id"])


def test_segmenter_recovers_the_gold_units_of_every_wire_format(ms):
    from kpstance.eval.score import recovery_by_format

    rec = recovery_by_format(ms)
    assert {"TASS", "Reuters", "AP", "Xinhua", "Yonhap", "KCNA"} <= set(rec)
    for fmt, r in rec.items():
        assert r["recovered"] == r["gold_units"] and r["extra_units"] == 0, (fmt, r)


def test_a_unit_in_two_splits_is_refused(tmp_path, scheme):
    from kpstance.corpora import load_multisource

    rows = [json.loads(l) for l in (MS / "sentences.jsonl").read_text().splitlines()[:3]]
    rows[1]["report_id"] = rows[0]["report_id"]
    rows[1]["split"] = "test" if rows[0]["split"] != "test" else "dev"
    (tmp_path / "sentences.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(KpstanceError, match="has units in two splits"):
        load_multisource(tmp_path, scheme)


def test_unknown_label_in_the_corpus_names_file_and_line(tmp_path, scheme):
    from kpstance.corpora import load_multisource

    rows = [json.loads(l) for l in (MS / "sentences.jsonl").read_text().splitlines()[:2]]
    rows[1]["actor"] = "atlantis"
    (tmp_path / "sentences.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(KpstanceError, match=r"sentences.jsonl:2: unknown actor 'atlantis'"):
        load_multisource(tmp_path, scheme)


def test_leak_guard_drops_training_text_close_to_any_dev_or_test_unit(tmp_path, scheme, ms):
    from kpstance.config import validate
    from kpstance.text.segment import Unit
    from kpstance.weak.trainset import TrainingData

    cfg = validate(compose(["experiment=smoke"], tmp_path))
    dev, test = ms.split("dev")[0]["text"], ms.split("test")[0]["text"]
    train_text = ms.split("train")[0]["text"]
    data = TrainingData(cfg, scheme, [], lambda u: ("none", "neutral"), ms.protected_texts())
    units = [Unit.of_text(t, f"u{i}") for i, t in enumerate([dev, test + " Indeed.", train_text])]
    kept, _ = data.build(units, [])
    assert [u.text for u in kept[: 3 * data.repeat] if u.id.startswith("u")] == [train_text] * data.repeat
    assert all(u.text not in (dev, test) for u in data.extra)  # nor in the synthetic corpus


def test_smoke_run_writes_the_multisource_keys(smoke_run):
    m = smoke_run["metrics"]
    for prefix in ("", "rules_"):
        for part in ("dev_", "test_", "dev_articles_", "test_articles_"):
            for k in ("actor_macro_f1", "stance_macro_f1", "joint_accuracy"):
                assert 0 <= m[f"{prefix}{part}{k}"] <= 1
    assert m["rules_test_articles_recovered"] == m["rules_dev_articles_recovered"] == 1.0
    report = json.loads((smoke_run["tmp"] / "run" / "report.json").read_text())
    assert {"dev/model", "test/rules", "dev_articles/rules", "test_articles/model"} <= set(report["multisource"])
    assert report["multisource"]["test/rules"]["phenomena"]
    lf_table = (smoke_run["tmp"] / "run" / "lf_analysis.csv").read_text().splitlines()
    assert "dev_precision" in lf_table[0].split(",") and len(lf_table) > 10
    rows = (smoke_run["tmp"] / "run" / "multisource_predictions.jsonl").read_text().splitlines()
    assert len(rows) == len([1 for line in (MS / "sentences.jsonl").read_text().splitlines()
                             if json.loads(line)["split"] != "train"])


def test_scores_of_the_calibrated_model_are_those_the_saved_predictor_gives(smoke_run, smoke_predictor, scheme, ms):
    """The scorer predicts each split once and rescales the scores after calibration; the rows it writes
    must equal what the saved (calibrated) predictor gives for the same units."""
    from kpstance.corpora import sentence_units
    from kpstance.systems.context import contexts

    rows = {r["id"]: r for r in map(json.loads, (smoke_run["tmp"] / "run" / "multisource_predictions.jsonl")
                                    .read_text().splitlines())}
    recs = ms.split("dev")[:40]
    units = sentence_units(recs)
    ctx = contexts(units, scheme) if smoke_predictor.meta.get("context") else None
    assert smoke_predictor.temperature["actor"] != 1.0  # calibrated, so rescaling is under test
    preds = smoke_predictor.predict([u.text for u in units], contexts=ctx)
    for r, p in zip(recs, preds):
        row = rows[r["id"]]
        assert (row["model_actor"], row["model_stance"]) == (p["actor"], p["stance"])
        assert row["model_actor_score"] == pytest.approx(p["actor_score"], abs=1e-4)
        assert row["model_stance_score"] == pytest.approx(p["stance_score"], abs=1e-4)


def test_every_multisource_key_can_be_set_on_the_command_line(tmp_path):
    from kpstance.config import validate

    cfg = validate(compose(["data.multisource.repeat=3", "data.multisource.train=true"], tmp_path))
    assert (cfg.data.multisource.repeat, cfg.data.multisource.train) == (3, True)


def test_the_first_units_have_a_blind_second_label_and_the_recorded_kappa_recomputes_from_it(ms, scheme):
    """The first 1,453 units (sentences and the first eight articles' units), labelled again blind on 2026-12-07
    (their first second labelling was not kept): every one has a label, and κ recomputes from the files."""
    from sklearn.metrics import cohen_kappa_score

    second = {r["id"]: r for r in map(json.loads, (MS / "second_labels_first.jsonl").read_text().splitlines())}
    units = {r["id"]: r for r in ms.records + [g for a in ms.articles for g in a.gold]
             if not r["id"].startswith(("cp", "tr"))}
    assert set(second) == set(units) and len(units) == 1453
    assert all(s["actor"] in scheme.actor_labels and s["stance"] in scheme.stance_labels for s in second.values())
    recorded = json.loads((MS / "second_agreement.json").read_text())["first_part_relabelled"]
    ids = sorted(units)
    for head in ("actor", "stance"):
        kappa = cohen_kappa_score([units[i][head] for i in ids], [second[i][head] for i in ids])
        assert round(kappa, 3) == recorded[f"{head}_kappa"] and recorded["n"] == len(ids)
    assert recorded["actor_kappa"] >= 0.85 and recorded["stance_kappa"] >= 0.75


def test_the_counter_prior_and_training_units_have_a_blind_second_label_and_kappa_recorded(ms, scheme):
    """Issue 18's units and the training batch: every one (sentences and article units) has a second labelling;
    wherever the final label differs from it, the unit's note records the adjudication; κ is recorded per batch and
    meets the corpus goals."""
    second = {r["id"]: r for r in map(json.loads, (MS / "second_labels.jsonl").read_text().splitlines())}
    units = ms.records + [g for a in ms.articles for g in a.gold]
    new = [r for r in units if r["id"].startswith("cp")]
    batch = [r for r in units if r["id"].startswith("tr")]
    assert len(new) >= 600 and {r["id"] for r in new + batch} == set(second)
    agreement = json.loads((MS / "second_agreement.json").read_text())
    assert agreement["train_batch"]["n"] == len(batch)
    assert agreement["train_batch"]["actor_kappa"] >= 0.85 and agreement["train_batch"]["stance_kappa"] >= 0.75
    for r in new + batch:
        s = second[r["id"]]
        assert s["actor"] in scheme.actor_labels and s["stance"] in scheme.stance_labels
        if (s["actor"], s["stance"]) != (r["actor"], r["stance"]):
            assert "Adjudicated" in r["note"], r["id"]
    assert agreement["all"]["n"] == len(new)
    assert agreement["all"]["actor_kappa"] >= 0.85 and agreement["all"]["stance_kappa"] >= 0.75
    slices = Counter((r["actor"], r["stance"]) for r in new)
    for cell in [("united_states", "conciliatory"), ("japan", "conciliatory"), ("south_korea", "conciliatory"),
                 ("china", "hardline"), ("russia", "hardline"), ("north_korea", "conciliatory"),
                 ("united_nations", "hardline"), ("united_nations", "conciliatory")]:
        assert slices[cell] >= 60, (cell, slices[cell])
    assert len({r["report_id"] for r in ms.records if r["id"].startswith("cp")}) >= 150
    assert sum(a.split == "test" for a in ms.articles) >= 8
