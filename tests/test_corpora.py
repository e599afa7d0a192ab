"""One interface for every gold corpus: the seed article's gold, the multi-source corpus and imported gold sets
answer the same questions (splits, held-out reports, protected texts, training units), and the training set is
built from whatever corpora a run holds."""

from __future__ import annotations

import pytest
from helpers import GOLD, ROOT, compose

from kpstance.corpora import GoldCorpus, load_corpora


def rec(uid: str, report: str, split: str, text: str, actor: str = "china", stance: str = "conciliatory") -> dict:
    return {"id": uid, "report_id": report, "split": split, "text": text, "actor": actor, "stance": stance,
            "kind": "sentence", "phenomena": []}


def test_a_run_holds_the_seed_gold_then_the_held_out_corpora(tmp_path, scheme, units):
    from kpstance.config import validate

    cfg = validate(compose([], tmp_path))
    corpora = load_corpora(cfg, scheme, units)
    assert [c.name for c in corpora] == ["seed", "multisource", "contrast"]
    seed, ms, _ = corpora
    assert not seed.held_out and ms.held_out
    assert seed.train_part() is None  # the article trains through its silver labels, not its gold
    assert {r["id"] for r in seed.records} == {u.id for u in units} and seed.sources == (str(GOLD),)
    assert not seed.protected_texts() and seed.scored_texts()
    part = ms.train_part()
    assert part is not None and len(part.units) == len(part.labels) == len(part.reports) > 600
    assert not set(part.reports) & ms.held_out_reports()
    assert len(ms.protected_texts()) == len(ms.split("dev")) + len(ms.split("test")) + sum(
        len(a.gold) for a in ms.articles if a.split != "train")


def test_no_corpus_trains_on_a_report_another_corpus_holds_out(tmp_path, scheme, caplog):
    """A report held out for dev or test by any corpus stays out of every corpus's training whole, whichever corpus
    holds it out (an imported gold set can now hold out a multi-source train report too)."""
    from kpstance.config import validate
    from kpstance.weak.trainset import TrainingData

    a = GoldCorpus("a", [rec("a1", "r1", "train", "Beijing urged restraint on all sides."),
                         rec("a2", "r2", "train", "Tokyo sent two more destroyers north.", "japan", "hardline"),
                         rec("a3", "r3", "dev", "Moscow called for a freeze for freeze.", "russia")],
                   count_key="n_a")
    b = GoldCorpus("b", [rec("b1", "r2", "test", "A unit of our own about a second report."),
                         rec("b2", "r4", "train", "Seoul offered military talks at the border.", "south_korea")],
                   count_key="n_b", count_kept=True)
    cfg = validate(compose(["experiment=smoke", "data.synthetic.n=0"], tmp_path))
    corpora = [a, b]
    with caplog.at_level("WARNING", logger="kpstance"):
        data = TrainingData(cfg, scheme, [], lambda u: ("none", "neutral"),
                            [t for c in corpora for t in c.protected_texts()],
                            [c.train_part() for c in corpora], set().union(*(c.held_out_reports() for c in corpora)))
    assert {u.id for u in data.extra} == {"a1", "b2"}  # a2 is of report r2, which b holds out for test
    assert "a: 1 train unit(s) of reports held out" in caplog.text
    assert data.counts == {"n_synthetic": 0, "n_a": 1, "n_b": 1, "n_corpus": 0}


def test_a_training_unit_that_rewords_a_held_out_statement_of_the_same_actor_and_days_is_left_out(tmp_path, scheme):
    """Two outlets' wordings of one quote, one report in train and one in test, share about half their words: the
    exact guard (0.8) keeps them both; the statement guard drops the train one, whatever stance it was given (a
    twin labelled otherwise is a leak too), and only it (another actor, a date a month away, a dateline, an undated
    unit or a reversed member we wrote stay). The exact guard runs before any copy is made."""
    from kpstance.config import validate
    from kpstance.weak.trainset import TrainingData

    quote = "Haley added that Washington did not want war and that North Korea had not passed the point of no return."
    held = "Haley said Washington was not seeking war with North Korea and that Pyongyang had not passed the point of " \
           "no return."
    train = [rec("t1", "r1", "train", quote, "united_states"), rec("t2", "r2", "train", quote, "russia"),
             rec("t3", "r3", "train", quote, "united_states"), rec("t4", "r4", "train", quote, "united_states"),
             rec("t5", "r5", "train", "WASHINGTON (Reuters) -", "none", "neutral"),
             rec("t6", "r6", "train", "Seoul offered military talks at the border.", "south_korea"),
             rec("t7", "r7", "train", quote, "united_states", "neutral"),  # the same statement, labelled otherwise
             {**rec("t8", "r8", "train", quote, "united_states", "hardline"), "factual": False}]  # written reversed
    for r, date in zip(train, ("2017-09-12", "2017-09-12", "2017-10-20", "", "2017-09-11", "2017-09-11",
                               "2017-09-12", "2017-09-12")):
        r["date"] = date
    train[4]["kind"] = "dateline"
    test = [{**rec("h1", "r9", "test", held, "united_states"), "date": "2017-09-11"},
            {**rec("h2", "r9", "test", "WASHINGTON (Reuters) -", "none", "neutral"), "date": "2017-09-11"}]
    c = GoldCorpus("c", train + test, count_key="n_c")
    assert c.held_out_statements() == [("united_states", "2017-09-11", held), ("none", "2017-09-11", test[1]["text"])]
    cfg = validate(compose(["experiment=smoke", "data.synthetic.n=0"], tmp_path))

    def kept(*overrides):
        cfg_ = validate(compose(["experiment=smoke", "data.synthetic.n=0", *overrides], tmp_path))
        return {u.id for u in TrainingData(cfg_, scheme, [], lambda u: ("none", "neutral"), c.protected_texts(),
                                           [c.train_part()], c.held_out_reports(),
                                           held_statements=c.held_out_statements()).extra}

    assert kept() == {"t2", "t3", "t4", "t6", "t8"}  # t1, t7 reword h1; t5, the dateline, is the exact guard's
    assert kept("evaluation.reworded_overlap=0") == {"t1", "t2", "t3", "t4", "t6", "t7", "t8"}
    assert kept("evaluation.reworded_days=40") == {"t2", "t4", "t6", "t8"}
    part = c.train_part().without_leaks(c.protected_texts(), float(cfg.evaluation.max_overlap))
    assert [u.id for u in part.units] == ["t1", "t2", "t3", "t4", "t6", "t7", "t8"]
    assert part.dates == ["2017-09-12", "2017-09-12", "2017-10-20", "", "2017-09-11", "2017-09-12", "counterfactual"]
    assert len(part.reports) == 7


def test_a_corpus_reports_its_splits_and_a_missing_split_scores_nothing(tmp_path, scheme):
    from kpstance.config import validate
    from kpstance.eval.score import Scorer
    from kpstance.systems.baselines import MajoritySystem

    c = GoldCorpus("c", [rec("c1", "r1", "train", "One."), rec("c2", "r2", "dev", "Two.")], prefix="c_")
    assert c.held_out and [r["id"] for r in c.split("dev")] == ["c2"] and c.held_out_reports() == {"r2"}
    system = MajoritySystem(validate(compose([], tmp_path)), scheme, 0)
    system.fit([], [("china", "conciliatory")])
    scores = Scorer(c, scheme).score("model", c.prefix, system)
    assert set(scores) >= {"c_dev_joint_accuracy"} and not any(k.startswith("c_test_") for k in scores)
    assert scores["c_dev_joint_accuracy"] == pytest.approx(1.0)


def test_only_files_under_data_are_read_by_the_loaders(tmp_path, scheme, units):
    """A gold file outside the corpus folders is refused with its name when it is missing."""
    from kpstance.config import validate
    from kpstance.errors import KpstanceError

    cfg = validate(compose([f"data.extra_gold=[{tmp_path / 'nope.jsonl'}]"], tmp_path))
    with pytest.raises(KpstanceError, match="nope.jsonl"):
        load_corpora(cfg, scheme, units)
    assert (ROOT / "data" / "multisource" / "sentences.jsonl").is_file()


def test_the_contrast_set_loads_as_a_corpus_and_is_scored_by_pairs(tmp_path, scheme):
    import json

    from kpstance.corpora import load_contrast
    from kpstance.errors import KpstanceError
    from kpstance.eval.score import pair_scores

    c = load_contrast(ROOT / "data" / "contrast" / "pairs.jsonl", scheme)
    assert c.held_out and c.infix == "contrast_" and not c.calibrates and len(c.split("test")) >= 100
    part = c.train_part()
    assert part is not None and part.count_key == "n_contrast_train" and len(part.units) == len(c.split("train"))
    recs = [rec("p1-a", "e1", "test", "Seoul suspended the drills."), rec("p1-b", "e1", "test", "Seoul expanded them.",
                                                                         stance="hardline"),
            rec("p2-a", "e2", "test", "Tokyo lifted the ban."), rec("p2-b", "e2", "test", "Tokyo tightened the ban.",
                                                                    stance="hardline")]
    for r, pid in zip(recs, ("p1", "p1", "p2", "p2")):
        r["pair_id"] = pid
    pred = {"p1-a": ("china", "conciliatory"), "p1-b": ("china", "hardline"), "p2-a": ("china", "conciliatory"),
            "p2-b": ("china", "conciliatory")}
    assert pair_scores(recs, pred, "test_contrast_") == {"test_contrast_pair_accuracy": 0.5, "test_contrast_pairs": 2}
    assert pair_scores([{k: v for k, v in r.items() if k != "pair_id"} for r in recs], pred, "x_") == {}
    for r in recs:
        r["source_url"] = "https://example.org/report"
    recs[1]["split"] = "dev"
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    with pytest.raises(KpstanceError, match=r"pairs.jsonl:2: pair 'p1' is in split 'test' \(line 1\)"):
        load_contrast(path, scheme)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs[2:3]))
    with pytest.raises(KpstanceError, match="pair 'p2' has one member"):
        load_contrast(path, scheme)


def test_every_run_scores_the_contrast_pairs_and_trains_on_the_train_pairs(smoke_run):
    m = smoke_run["metrics"]
    for prefix in ("", "rules_"):
        for split in ("dev", "test"):
            assert 0 <= m[f"{prefix}{split}_contrast_pair_accuracy"] <= 1 and m[f"{prefix}{split}_contrast_pairs"] > 20
            assert 0 <= m[f"{prefix}{split}_contrast_stance_macro_f1"] <= 1
    assert m["n_contrast_train"] > 100
    rows = (smoke_run["tmp"] / "run" / "contrast_predictions.jsonl").read_text().splitlines()
    assert len(rows) == m["test_contrast_n"] + m["dev_contrast_n"]


def test_each_corpus_keeps_its_own_swap_keys(smoke_run):
    """The multi-source corpus and the contrast set are both swap-tested: their keys never collide (a metric written
    twice is refused), and each key counts its own corpus's copies."""
    import json

    from kpstance.eval.evaluate import Metrics

    m = smoke_run["metrics"]
    rows = [json.loads(line) for line in (smoke_run["tmp"] / "run" / "swap_predictions.jsonl").read_text().splitlines()]
    for corpus, key in (("multisource", "test_swap_n"), ("contrast", "test_contrast_swap_n")):
        assert m[key] == sum(r["corpus"] == corpus and r["split"] == "test" and r["system"] == "model" for r in rows) > 0
    guarded = Metrics(a=1)
    with pytest.raises(ValueError, match="'a' written twice"):
        guarded.update(a=2)
