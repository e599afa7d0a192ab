"""Imported gold sets in training (data.extra_gold): split by source report, kept out by the leak guard, scored."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from helpers import ROOT, compose

from kpstance.errors import KpstanceError

# our own sentences: four reports, two for training, one each for dev and test
REPORTS = {
    "r1": ("train", [
        ("Japan's defence ministry said it would send two more destroyers to the Sea of Japan next month.",
         "japan", "hardline"),
        ("Tokyo also asked Beijing to press Pyongyang harder over the missile launches.", "japan", "hardline"),
        ("The ministry gave no date for the deployment.", "japan", "neutral")]),
    "r2": ("train", [
        ("China's foreign ministry urged all sides to return to talks and avoid steps that raise tension.",
         "china", "conciliatory"),
        ("The spokesman said Beijing firmly opposes any military action on the peninsula.", "china", "conciliatory"),
        ("He spoke at a regular briefing in the Chinese capital.", "china", "neutral")]),
    "r3": ("dev", [
        ("South Korea's president proposed a military hotline with the North to prevent clashes.",
         "south_korea", "conciliatory"),
        ("Seoul will send a delegation to the border village for working-level contacts.",
         "south_korea", "conciliatory"),
        ("The unification ministry released the schedule on Tuesday.", "south_korea", "neutral")]),
    "r4": ("test", [
        ("The US ambassador said Washington would push for a full oil embargo on the North.",
         "united_states", "hardline"),
        ("She told reporters the council had run out of patience.", "united_states", "hardline"),
        ("The vote is expected later this week.", "none", "neutral")]),
}


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def imported(explicit_split: bool = True) -> list[dict]:
    """Rows as `kpstance annotate import` writes them (article_id, source, annotator), with or without a split."""
    rows = []
    for report, (split, units) in REPORTS.items():
        for i, (text, actor, stance) in enumerate(units):
            rows.append({"id": f"{report}-{i}", "text": text, "actor": actor, "stance": stance, "note": "",
                         "annotator": "a@example.org", "article_id": report, "source": f"{report}.txt",
                         **({"split": split} if explicit_split else {})})
    return rows


def test_units_of_one_report_share_a_split_that_later_imports_do_not_move(tmp_path, scheme):
    from kpstance.corpora import load_extra_gold

    rows = [{"id": f"u{r}-{i}", "text": f"Unit {i} of report {r}.", "actor": "none", "stance": "neutral",
             "article_id": f"report-{r}"} for r in range(60) for i in range(3)]
    first = load_extra_gold([write(tmp_path / "a.jsonl", rows)], scheme, 0.2, 0.2)
    split_of: dict[str, set[str]] = defaultdict(set)
    for r in first.records:
        split_of[r["report_id"]].add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())
    counts = {s: sum(1 for v in split_of.values() if v == {s}) for s in ("train", "dev", "test")}
    assert counts["train"] > counts["dev"] > 0 and counts["test"] > 0, counts  # shares of 60, 20 % and 20 %
    # more gold later, in a second file: every old report keeps its split
    more = [{"id": f"v{r}", "text": f"Another unit of report {r}.", "actor": "none", "stance": "neutral",
             "article_id": f"report-{r}"} for r in range(60, 90)]
    both = load_extra_gold([tmp_path / "a.jsonl", write(tmp_path / "b.jsonl", more)], scheme, 0.2, 0.2)
    assert {r["id"]: r["split"] for r in both.records if r["id"].startswith("u")} == \
        {r["id"]: r["split"] for r in first.records}
    # nothing held out: everything trains
    assert {r["split"] for r in load_extra_gold([tmp_path / "a.jsonl"], scheme, 0.0, 0.0).records} == {"train"}


def test_a_units_own_split_wins_and_without_a_report_the_unit_is_its_own(tmp_path, scheme):
    from kpstance.corpora import load_extra_gold

    ms = load_extra_gold([write(tmp_path / "g.jsonl", imported())], scheme, 0.5, 0.5)
    assert {r["report_id"]: r["split"] for r in ms.records} == {k: v[0] for k, v in REPORTS.items()}
    bare = [{"id": "lone", "text": "A sentence with no source fields.", "actor": "none", "stance": "neutral"}]
    assert load_extra_gold([write(tmp_path / "b.jsonl", bare)], scheme, 0.2, 0.2).records[0]["report_id"] == "lone"


def test_a_report_given_a_split_by_one_unit_keeps_all_its_units_there(tmp_path, scheme):
    from kpstance.corpora import hash_split, load_extra_gold

    report = next(f"rep-{i}" for i in range(100) if hash_split(f"rep-{i}", 0.2, 0.2) == "train")
    rows = [{"id": f"x{i}", "text": f"Unit {i}.", "actor": "none", "stance": "neutral", "article_id": report,
             "split": split} for i, split in enumerate([None, "", "test", None])]
    ms = load_extra_gold([write(tmp_path / "g.jsonl", rows)], scheme, 0.2, 0.2)
    assert [r["split"] for r in ms.records] == ["test"] * 4  # the hash would have said train


def test_a_single_report_warns_that_a_split_is_empty(tmp_path, scheme, caplog):
    from kpstance.corpora import load_extra_gold

    rows = [{"id": f"x{i}", "text": f"Unit {i}.", "actor": "none", "stance": "neutral", "article_id": "lines"}
            for i in range(5)]
    with caplog.at_level("WARNING", logger="kpstance"):
        load_extra_gold([write(tmp_path / "g.jsonl", rows)], scheme, 0.2, 0.2)
    assert "no report landed in" in caplog.text and "1 report(s) in all" in caplog.text


def test_an_imported_speaker_reaches_the_models_context(scheme):
    from kpstance.corpora import sentence_units
    from kpstance.systems.context import contexts, format_context

    units = sentence_units([{"id": "a", "text": "He spoke at a regular briefing.", "speaker": "Wang Yi"},
                            {"id": "b", "text": "He spoke at a regular briefing."}])
    ctx = contexts(units, scheme)
    assert ctx[0] == format_context("sentence", "Wang Yi") and "Wang Yi" not in ctx[1]


@pytest.mark.parametrize(("change", "message"), [
    (lambda rows: rows[4].update(split="test"), r"g\.jsonl:5: report 'r2' is in split 'train' \(.*g\.jsonl:4\)"),
    (lambda rows: rows[2].update(stance="furious"), r"g\.jsonl:3: unknown stance 'furious'"),
    (lambda rows: rows[1].pop("actor"), r"g\.jsonl:2: missing field \"actor\""),
    (lambda rows: rows[3].update(id="r1-0"), r"g\.jsonl:4: duplicate id 'r1-0'"),
    (lambda rows: rows[0].update(split="holdout"), r"g\.jsonl:1: unknown split 'holdout'"),
])
def test_bad_units_are_refused_with_file_and_line(tmp_path, scheme, change, message):
    from kpstance.corpora import load_extra_gold

    rows = imported()
    change(rows)
    with pytest.raises(KpstanceError, match=message) as e:
        load_extra_gold([write(tmp_path / "g.jsonl", rows)], scheme, 0.2, 0.2)
    assert "\n" not in str(e.value)


def test_a_missing_file_and_bad_shares_are_refused(tmp_path, scheme):
    from kpstance.config import validate
    from kpstance.corpora import load_extra_gold

    with pytest.raises(KpstanceError, match="nope.jsonl: extra gold file not found"):
        load_extra_gold([tmp_path / "nope.jsonl"], scheme, 0.2, 0.2)
    with pytest.raises(KpstanceError, match="data.extra_gold_dev.*got 0.7 and 0.5"):
        validate(compose(["data.extra_gold_dev=0.7", "data.extra_gold_test=0.5"], tmp_path))
    with pytest.raises(KpstanceError, match="data.extra_gold_repeat"):
        validate(compose(["data.extra_gold_repeat=0"], tmp_path))


def test_leak_guard_keeps_training_away_from_held_out_units_of_both_corpora(tmp_path, scheme):
    from kpstance.config import validate
    from kpstance.corpora import load_extra_gold, load_multisource
    from kpstance.weak.trainset import TrainingData

    ms = load_multisource(ROOT / "data" / "multisource", scheme)
    rows = imported()
    ms_test = ms.split("test")[0]["text"]
    rows.append({"id": "leak-1", "text": ms_test, "actor": "none", "stance": "neutral", "article_id": "r1",
                 "split": "train"})  # a multi-source test sentence imported as your own training gold
    rows.append({"id": "leak-2", "text": REPORTS["r3"][1][0][0] + " Officials agreed.", "actor": "south_korea",
                 "stance": "conciliatory", "article_id": "r2", "split": "train"})  # near your own dev unit
    extra = load_extra_gold([write(tmp_path / "g.jsonl", rows)], scheme, 0.2, 0.2, repeat=2)
    cfg = validate(compose(["experiment=smoke"], tmp_path))
    data = TrainingData(cfg, scheme, [], lambda u: ("none", "neutral"),
                        [*ms.protected_texts(), *extra.protected_texts()], [extra.train_part()])
    texts = [u.text for u in data.extra]
    assert ms_test not in texts and rows[-1]["text"] not in texts
    assert texts.count(REPORTS["r1"][1][0][0]) == 2  # the rest joins training, repeated
    assert data.counts["n_extra_gold_train"] == 6  # the two leaks are not counted as training units


def test_a_run_trains_on_the_train_reports_and_scores_the_held_out_ones(tmp_path, scheme):
    from kpstance.corpora import load_multisource
    from kpstance.run.pipeline import train

    ms = load_multisource(ROOT / "data" / "multisource", scheme)
    held = ms.split("dev")[0]["report_id"]
    rows = imported() + [
        # a copy of your own dev unit in a train report: the leak guard drops it
        {"id": "copy", "text": REPORTS["r3"][1][0][0], "actor": "south_korea", "stance": "conciliatory",
         "article_id": "r1", "split": "train"},
        # a unit of a report the multi-source corpus holds out for dev: left out of training whole
        {"id": "held", "text": "A line of our own from that dev report's story.", "actor": "none",
         "stance": "neutral", "article_id": held, "split": "train"}]
    path = write(tmp_path / "mine.jsonl", rows)
    m = train(compose(["experiment=smoke", "evaluation.swap=true", f"data.extra_gold=[{path}]"], tmp_path))
    assert (m["n_extra_gold_train"], m["n_extra_gold_dev"], m["n_extra_gold_test"]) == (6, 3, 3)
    for prefix in ("extra_", "rules_extra_"):
        for part in ("dev_", "test_"):
            assert 0 <= m[f"{prefix}{part}joint_accuracy"] <= 1
    assert "extra_test_swap_n" in m and "test_swap_n" in m  # each corpus keeps its own swap keys
    rows = [json.loads(line) for line in (tmp_path / "run" / "extra_gold_predictions.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rows} == {"r3-0", "r3-1", "r3-2", "r4-0", "r4-1", "r4-2"}
    assert {r["split"] for r in rows} == {"dev", "test"}
    assert json.loads((tmp_path / "run" / "report.json").read_text())["extra_gold"]["test/model"]["actor"]
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert str(path) in saved  # the resolved config names the gold, so the run can be reproduced
    assert len(m["extra_gold_sha256"]) == 64


def test_without_the_multisource_corpus_your_own_dev_calibrates_the_model(tmp_path):
    from kpstance.run.pipeline import train
    from kpstance.systems.predictor import StancePredictor

    path = write(tmp_path / "mine.jsonl", imported())
    m = train(compose(["experiment=smoke", "evaluation.cv=false", "data.multisource=null",
                       f"data.extra_gold=[{path}]"], tmp_path))
    assert "test_joint_accuracy" not in m and 0 <= m["extra_test_joint_accuracy"] <= 1
    assert 0 <= m["extra_test_actor_ece"] <= 1 and "extra_test_confident80_joint_accuracy" in m
    saved = StancePredictor.load(m["model_dir"]).temperature
    assert saved == {"actor": m["actor_temperature"], "stance": m["stance_temperature"]} != {"actor": 1.0, "stance": 1.0}


def test_what_annotate_import_writes_trains_as_it_is(tmp_path):
    """The hand-off of the loop: the real Label Studio export, imported by the CLI, listed in data.extra_gold."""
    from helpers import run_cli

    from kpstance.run.pipeline import train

    gold = tmp_path / "lavrov.jsonl"
    r = run_cli("annotate", "import", str(ROOT / "tests" / "fixtures" / "labelstudio_export.json"),
                "--output", str(gold))
    assert r.returncode == 0, r.stderr
    m = train(compose(["experiment=smoke", "evaluation.cv=false", f"data.extra_gold=[{gold}]",
                       "data.extra_gold_dev=0", "data.extra_gold_test=0"], tmp_path))
    assert m["n_extra_gold_train"] == 5 and "n_extra_gold_dev" in m and m["n_extra_gold_dev"] == 0
