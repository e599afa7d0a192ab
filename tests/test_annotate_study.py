"""The simulated annotation study (kpstance.annotate.study and scripts/annotation_study.py) on the tiny smoke model."""

from __future__ import annotations

import json

import pytest
from helpers import ROOT, load_script


@pytest.fixture(scope="module")
def parts(scheme):
    """A small pool (train split), dev and replay set, and the smoke model as the base."""
    from kpstance.annotate.study import Labelled, Pool
    from kpstance.corpora import load_multisource, sentence_units
    from kpstance.systems.context import contexts
    from kpstance.text.segment import Unit
    from kpstance.weak.label import label_units

    ms = load_multisource(ROOT / "data" / "multisource", scheme)
    train, dev = ms.split("train")[:30], ms.split("dev")[:24]
    units = sentence_units(train)
    rule_labels = [(s.actor, s.stance) for s in label_units(units, scheme)]
    # articles are source reports, as in the study: these 30 units come from 5 reports, so a batch of 5 may take
    # one unit of each (annotate.select.article_cap)
    pool = Pool(units, [(r["actor"], r["stance"]) for r in train], contexts(units, scheme),
                [r["report_id"] for r in train], rule_labels)
    dev_units = sentence_units(dev)
    dev_set = Labelled(dev_units, [(r["actor"], r["stance"]) for r in dev], contexts(dev_units, scheme))
    replay_units = [Unit.of_text(f"Officials met for round {i} of the talks.", f"s{i}") for i in range(8)]
    replay = Labelled(replay_units, [("none", "neutral")] * 8, contexts(replay_units, scheme))
    return pool, dev_set, replay


@pytest.fixture(scope="module")
def curves(smoke_run, scheme, parts):
    from kpstance.annotate.study import StudySettings, simulate
    from kpstance.systems.predictor import StancePredictor

    pool, dev, replay = parts
    loads = []

    def base():
        loads.append(1)
        p = StancePredictor.load(smoke_run["model_dir"])
        return p.model, p.tokenizer

    settings = StudySettings(rounds=2, batch=5, epochs=1, replay=4, batch_size=8)
    out = simulate(base, pool, dev, replay, scheme, smoke_run["cfg"].trainer, settings, seed=0)
    return out, len(loads)


def test_every_strategy_labels_new_units_each_round_from_the_base(curves, parts):
    out, loads = curves
    pool = parts[0]
    ids = {u.id for u in pool.units}
    assert set(out) == {"uncertainty", "disagreement", "random", "all"}
    for strategy in ("uncertainty", "disagreement", "random"):
        curve = out[strategy]
        assert [row["labels"] for row in curve] == [0, 5, 10]
        first, second = curve[1]["batch"], curve[2]["batch"]
        assert len(set(first + second)) == 10 and set(first + second) <= ids
        for row in curve:
            assert all(0 <= row[k] <= 1 for k in ("dev_actor_macro_f1", "dev_stance_macro_f1", "dev_joint_accuracy"))
    assert out["all"][0]["labels"] == len(pool.units)
    assert loads == 1 + 3 * 2 + 1  # the base, then one fresh copy of it per retraining


def test_uncertainty_and_disagreement_take_what_they_promise(smoke_run, scheme, parts, curves):
    """The first batch, recomputed from the base model's calibrated predictions outside the study."""
    from kpstance.annotate.select import unit_margin
    from kpstance.annotate.study import calibrated
    from kpstance.systems.predictor import StancePredictor

    pool, dev, _ = parts
    out, _ = curves
    base = StancePredictor.load(smoke_run["model_dir"])
    calibrated(base, dev, scheme)
    preds = base.predict([u.text for u in pool.units], contexts=pool.contexts)
    margins = {u.id: unit_margin(p["actor_probs"], p["stance_probs"]) for u, p in zip(pool.units, preds)}
    differs = {u.id: (r[0] != p["actor"]) + (r[1] != p["stance"]) for u, r, p in zip(pool.units, pool.rules, preds)}
    report = dict(zip((u.id for u in pool.units), pool.articles))
    assert len(set(pool.articles)) == 5
    for strategy, key in (("uncertainty", lambda i: margins[i]), ("disagreement", lambda i: (-differs[i], margins[i]))):
        taken = out[strategy][1]["batch"]
        assert sorted(report[i] for i in taken) == sorted(set(pool.articles))  # one unit of each report
        for i in taken:  # and the first of its report in the strategy's order
            assert key(i) == min(key(j) for j in report if report[j] == report[i])


def test_mean_curves_and_labels_to_reach():
    from kpstance.annotate.study import labels_to_reach, mean_curves

    def curve(values):
        return [{"labels": 25 * k, "m": v} for k, v in enumerate(values)]

    runs = [{"random": curve([0.5, 0.6, 0.7]), "uncertainty": curve([0.5, 0.7, 0.8]), "all": curve([0.9])},
            {"random": curve([0.5, 0.6, 0.7]), "uncertainty": curve([0.5, 0.66, 0.7]), "all": curve([0.9])}]
    mc = mean_curves(runs, "m")
    assert set(mc) == {"random", "uncertainty"}
    assert mc["uncertainty"][1] == (25, pytest.approx(0.68), pytest.approx(0.02 * 2**0.5))  # sample std
    assert labels_to_reach(mc["uncertainty"], mc["random"][-1][1]) == 50  # the mean at 25 is 0.68 < 0.7
    assert labels_to_reach(mc["uncertainty"], 0.68) == 25
    assert labels_to_reach(mc["random"], mc["random"][-1][1]) == 50
    assert labels_to_reach(mc["random"], 0.95) is None


def test_the_report_merges_seeds_into_a_table_and_a_plot(tmp_path):
    study = load_script(ROOT / "scripts" / "annotation_study.py")

    def curve(values):
        return [{"labels": 25 * k, "dev_actor_macro_f1": v, "dev_stance_macro_f1": v / 2, "dev_joint_accuracy": v / 3}
                for k, v in enumerate(values)]

    for seed, bump in ((0, 0.0), (1, 0.02)):
        (tmp_path / f"seed_{seed}.json").write_text(json.dumps({
            "seed": seed, "pool": 100, "dev": 50, "settings": {"batch": 25},
            "curves": {"random": curve([0.5, 0.6 + bump, 0.7]), "uncertainty": curve([0.5, 0.72, 0.8 + bump]),
                       "all": [{**curve([0.9])[0], "labels": 100}]}}))
    plot, table = tmp_path / "plot.png", tmp_path / "table.md"
    assert study.main(["report", str(tmp_path), "--plot", str(plot), "--table", str(table)]) == 0
    text = table.read_text()
    assert plot.stat().st_size > 1000
    assert "| 25 | 0.610 ± 0.014 | 0.720 ± 0.000 |" in text  # sample std of 0.60 and 0.62
    assert "- uncertainty: 25 (25 fewer than random)" in text  # random's final actor F1 0.7, uncertainty 0.72 at 25
    assert "Whole pool (100 labels): 0.900 ± 0.000" in text
    assert "Mean over the labelled rounds: random 0.655 ± 0.007; uncertainty 0.765 ± 0.007" in text
    assert study.main(["report", str(tmp_path / "empty")]) == 2
    other = json.loads((tmp_path / "seed_1.json").read_text())
    other["settings"]["batch"] = 50
    (tmp_path / "seed_2.json").write_text(json.dumps({**other, "seed": 2}))
    assert study.main(["report", str(tmp_path)]) == 2  # seeds of two different studies are not averaged
