"""The counterfactual speaker swap (issue 18): the names table, the swapper on sentences of our own, the swap keys of
every run, a confounded toy model caught by the test and helped by augmentation, and ``kpstance probe swap``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import LABELS, compose

from kpstance.errors import KpstanceError
from kpstance.weak.scheme import load_scheme
from kpstance.weak.swap import Swapper, Unclean


@pytest.fixture(scope="module")
def swapper(scheme):
    return Swapper(scheme)


def swap(swapper, text, source, target, kind="sentence"):
    return swapper.swap([text], source, target, "t", [kind])[0]


# -- the names table


def test_the_names_table_loads_with_every_role_of_every_state(scheme):
    names = scheme.names
    states = [a for a, roles in names.actors.items() if "country" in roles]
    assert sorted(states) == sorted(a for a in scheme.actor_labels if a not in ("united_nations", "none"))
    for actor in states:
        assert set(names.required) <= set(names.actors[actor])
    assert "country" not in names.actors["united_nations"] and "secretary_general" in names.actors["united_nations"]
    us = names.actors["united_states"]
    assert [n.short for n in us["foreign_minister"]] == ["Tillerson", "Pompeo"]
    assert us["foreign_minister"][0].title == ("Secretary of State",)
    assert names.actors["north_korea"]["leader"][0].short == ""  # "Kim" alone is ambiguous


def _bad(tmp_path: Path, old: str, new: str) -> Path:
    """The label YAML with one edit."""
    text = LABELS.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "labels.yaml"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


@pytest.mark.parametrize(("old", "new", "at", "message"), [
    ("    united_nations:\n      body:", "    atlantis:\n      body:", "    atlantis:",
     "names.actors: unknown actor 'atlantis'"),
    ("      capital: [Moscow]", "      capitol: [Moscow]", "      capitol: [Moscow]",
     "names.actors.russia: unknown role 'capitol'"),
    ("      demonym: [Japanese]\n", "", "    japan:", "names.actors.japan: missing role(s) demonym"),
])
def test_a_bad_names_table_is_one_line_naming_file_and_line(tmp_path, old, new, at, message):
    p = _bad(tmp_path, old, new)
    lines = p.read_text(encoding="utf-8").splitlines()
    line = lines.index(at, lines.index("names:")) + 1  # the line of the key at fault
    with pytest.raises(KpstanceError) as e:
        load_scheme(p)
    assert str(e.value).startswith(f"{p}:{line}: {message}") and "\n" not in str(e.value)
    # composed by Hydra, the mapping is checked the same way, naming the file it came from
    with pytest.raises(KpstanceError, match=rf"^{p}:{line}: "):
        load_scheme(yaml.safe_load(p.read_text(encoding="utf-8")), str(p))


def test_a_bad_names_table_stops_the_cli_in_one_line(tmp_path, capsys):
    from kpstance.cli import main

    p = _bad(tmp_path, "      capital: [Tokyo]", "      capital: [{nmae: Tokyo}]")
    text = tmp_path / "a.txt"
    text.write_text("Tokyo urged restraint\n", encoding="utf-8")
    assert main(["label", "--input", str(text), "--labels", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kpstance: error: {p}:") and "names.actors.japan.capital" in err and "\n" not in err


# -- the swapper, on sentences of our own


@pytest.mark.parametrize(("text", "source", "target", "kind", "expected"), [
    # possessives, both ways round
    ("Lavrov's warning came a day after the talks ended.", "russia", "china", "sentence",
     "Wang Yi's warning came a day after the talks ended."),
    ("Russia's envoy called the vote a mistake.", "russia", "united_states", "sentence",
     "The United States' envoy called the vote a mistake."),
    # compounds keep a compact form; a country before an official noun becomes the demonym
    ("US officials said the US-drafted text was final.", "united_states", "russia", "sentence",
     "Russian officials said the Russia-drafted text was final."),
    ("Japan stayed out of the U.S.-led exercise.", "united_states", "china", "sentence",
     "Japan stayed out of the China-led exercise."),
    # a title before a person goes with the person
    ("Secretary of State Rex Tillerson said the door to talks stayed open.", "united_states", "russia", "sentence",
     "Foreign Minister Sergey Lavrov said the door to talks stayed open."),
    # quotes: the words inside are swapped too
    ('"Russia will not accept new drills," Lavrov told reporters.', "russia", "japan", "sentence",
     '"Japan will not accept new drills," Kishida told reporters.'),
    # headlines take no article
    ("Lavrov says Russia ready to talk", "russia", "united_states", "title", "Tillerson says US ready to talk"),
    # an article for a name that takes one, and none for one that does not; a/an agrees
    ("Talks are the only way, Russia said.", "russia", "united_states", "sentence",
     "Talks are the only way, the United States said."),
    ("The United States said it would wait.", "united_states", "japan", "sentence", "Japan said it would wait."),
    ("An American envoy said Washington wanted talks.", "united_states", "russia", "sentence",
     "A Russian envoy said Moscow wanted talks."),
])
def test_swaps_role_for_role(swapper, text, source, target, kind, expected):
    assert swap(swapper, text, source, target, kind) == expected


def test_a_name_inside_a_longer_name_is_left_alone(swapper):
    # "Republic of Korea" (the South) inside the North's full name; "Korea" inside "North Korea"
    out = swap(swapper, "South Korea urged the Democratic People's Republic of Korea to return to talks.",
               "south_korea", "japan")
    assert out == "Japan urged the Democratic People's Republic of Korea to return to talks."
    # a capital inside a newspaper's name is not the capital
    out = swap(swapper, "Lavrov told the Washington Post that Moscow favoured talks.", "russia", "china")
    assert out == "Wang Yi told the Washington Post that Beijing favoured talks."
    # "Sea of Japan" is a sea: a Japanese unit naming it cannot be swapped cleanly
    with pytest.raises(Unclean):
        swap(swapper, "Tokyo said the missile fell into the Sea of Japan.", "japan", "china")


@pytest.mark.parametrize(("text", "source", "why"), [
    # "Kim" alone after "Kim Jong Un": a name part of the North left over
    ("Kim Jong Un met envoys, and Kim said he wanted peace.", "north_korea", "unclean"),
    # a name with no counterpart in the table
    ("Treasury Secretary Steven Mnuchin said Washington would add sanctions.", "united_states", "unclean"),
    # a name the scheme counts for no actor (a non-state source to the rules)
    ("Xinhua said Beijing opposed the drills.", "china", "unclean"),
    # no name of the actor at all
    ("He said the drills must stop.", "russia", "no_mention"),
    # every other actor already named
    ("Russia, the United States, Japan, China, South Korea, North Korea and the UN met.", "russia", "no_target"),
])
def test_an_unclean_unit_is_skipped_with_its_reason(swapper, text, source, why):
    assert swapper.copies([text], source, "k", 2) == ([], why)


def test_copies_are_seeded_and_for_two_other_actors(swapper):
    text = "Lavrov said Russia was ready to talk without preconditions."
    first, why = swapper.copies([text], "russia", "u1", 2)
    again, _ = Swapper(swapper.scheme).copies([text], "russia", "u1", 2)  # another swapper: not its memo
    assert why is None and first == again and len(first) == 2
    assert len({c.target for c in first}) == 2 and "russia" not in {c.target for c in first}
    for c in first:
        swapper.check_clean(c.texts[0], "russia")
        assert "ready to talk without preconditions" in c.texts[0]


def test_copies_and_mentions_are_made_once_and_the_memo_stays_bounded(scheme, monkeypatch):
    """The model and the rules are swap-tested on the same copies, and the rules read the same sentences many
    times: each is made once per swapper, and a stream of unique texts never grows the memo past its size."""
    from kpstance.weak import aliases

    swapper = Swapper(scheme)
    made = []
    real = Swapper.swap

    def counted(self, *args, **kwargs):
        made.append(args[2])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Swapper, "swap", counted)
    texts = ["Lavrov said Moscow opposed the drills.", ""]
    first = swapper.copies(texts, "russia", "u1", 2)
    calls = len(made)
    assert calls >= 2 and swapper.copies(list(texts), "russia", "u1", 2) == first and len(made) == calls
    assert swapper.copies(texts, "russia", "u2", 2) and len(made) > calls  # another key: other seeded targets
    # one key per text whether the default is given or not, and a keyword still works
    assert swapper.mentions(texts[0]) == swapper.mentions(texts[0], headline=False)
    assert len([k for k in swapper.__dict__["_memo_Swapper._mentions"] if k[0] == texts[0]]) == 1
    # a predictor's swapper reads each sentence of a corpus once: it keeps nothing, and gives the same copies
    once = Swapper(scheme, remember=False)
    made.clear()
    assert once.copies(texts, "russia", "u1", 2) == first and once.copies(texts, "russia", "u1", 2) == first
    assert len(made) == 2 * calls and not [k for k in once.__dict__ if k.startswith("_memo_")]
    monkeypatch.setattr(aliases, "MEMO_SIZE", 3)
    matcher = aliases.AliasMatcher(scheme)
    for i in range(10):
        assert [m.actor for m in matcher.mentions(f"Moscow said {i}.")] == ["russia"]
        assert len(matcher.__dict__["_memo_AliasMatcher.mentions"]) <= 3


def test_swap_units_carries_the_speaker_and_marks_the_copy(scheme, swapper):
    from kpstance.text.segment import Unit
    from kpstance.weak.swap import swap_units

    u = Unit.of_text('"We want talks," he added.', "q1")
    copies, skipped = swap_units(swapper, [u], ["russia"], 2, speakers=["Sergey Lavrov"])
    assert not skipped and len(copies) == 2
    for c in copies:
        assert c.unit.text == u.text and c.unit.extra["swap_of"] == "q1" and c.unit.id == f"q1~{c.target}"
        assert c.unit.extra["speaker"] != "Sergey Lavrov"
        assert {m.actor for m in swapper.matcher.mentions(c.unit.extra["speaker"])} == {c.target}


def test_an_article_unit_with_no_clean_copy_is_skipped_once_whatever_the_targets(scheme, swapper):
    """``swap_skipped`` counts units, in articles as in sentences: a unit unclean for every target counts once (it
    counted once per target), and one that is unclean for one target but copied for another is not skipped."""
    from kpstance.eval.swap import probe_article

    class Japanese:  # every unit Japan's, conciliatory: only the counting is under test
        def predict(self, units):
            return [{"actor": "japan", "stance": "conciliatory"} for _ in units]

    text = ("Japan urges calm\nTOKYO (Kyodo) - Japan said on Monday that it wanted calm.\n"
            "Tokyo said the missile fell into the Sea of Japan.\n"
            "Japan and China agreed to keep talking, the Japanese foreign ministry said.\n")
    res, source = probe_article(Japanese(), text, "a1", swapper, scheme, n=2)
    assert source == "japan" and res.rows
    copied = {r["text"] for r in res.rows}
    assert not any("Sea of" in t for t in copied)  # a sea, not Japan: never swapped
    assert any(t.startswith("Japan and China") for t in copied)  # copied for the target that is not China
    assert "TOKYO (Kyodo) -" not in copied  # a dateline names nobody the swap changes: no copy of itself
    assert res.skipped == 2  # the dateline and the Sea of Japan sentence, once each


# -- every run measures it


def test_a_run_measures_the_swap_after_its_other_keys(smoke_run):
    m = json.loads((smoke_run["model_dir"] / "metrics.json").read_text(encoding="utf-8"))
    keys = list(m)
    for prefix in ("", "rules_"):
        for split in ("dev_", "test_", "dev_articles_", "test_articles_"):
            for k in ("swap_stance_flip", "swap_actor_follow", "swap_stance_macro_f1", "swap_n", "swap_skipped"):
                assert f"{prefix}{split}{k}" in m, f"{prefix}{split}{k}"
            assert m[f"{prefix}{split}swap_n"] > 0 and 0 <= m[f"{prefix}{split}swap_stance_flip"] <= 1
        assert m[f"{prefix}test_counter_n"] > 0 and 0 <= m[f"{prefix}test_counter_stance_macro_f1"] <= 1
        assert m[f"{prefix}dev_counter_n"] > 0 and 0 <= m[f"{prefix}dev_counter_stance_macro_f1"] <= 1
    # the rules read stance from the words: the names hardly move them
    assert m["rules_test_swap_stance_flip"] < 0.05 and m["rules_test_swap_actor_follow"] > 0.8
    assert m["n_swap_train"] > 0  # speaker-swapped copies of the training units by default (two each)
    # new keys come after every earlier one, so metrics.json keeps its order
    assert keys.index("dev_swap_stance_flip") > keys.index("labels_sha256")
    rows = (smoke_run["tmp"] / "run" / "swap_predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == sum(v for k, v in m.items() if k.endswith("swap_n"))  # every corpus's copies, its own keys


# -- a model that reads stance from the speaker, and augmentation


SPEAKERS = {"russia": ["Putin", "Lavrov", "Moscow"], "china": ["Xi", "Geng", "Beijing"],
            "united_states": ["Trump", "Tillerson", "Washington"], "japan": ["Abe", "Kono", "Tokyo"]}
PRIOR = {"russia": "conciliatory", "china": "conciliatory", "united_states": "hardline", "japan": "hardline"}
SAYS = {"conciliatory": ["wants talks", "urges restraint"], "hardline": ["wants sanctions", "urges drills"]}
VAGUE = ["spoke", "commented", "met reporters", "gave a speech"]  # only the speaker tells these apart


def _toy(train: bool):
    """Every actor always takes one stance. In training each name says one telling thing and four vague ones, so
    the name is the surest cue; in the test each name says both telling things of its stance."""
    from kpstance.text.segment import Unit

    units, labels = [], []
    for actor, names in SPEAKERS.items():
        for i, name in enumerate(names):
            says = [SAYS[PRIOR[actor]][i % 2], *VAGUE] if train else SAYS[PRIOR[actor]]
            for j, what in enumerate(says):
                units.append(Unit.of_text(f"{name} {what}.", f"{actor}-{i}-{j}"))
                labels.append((actor, PRIOR[actor]))
    return units, labels


def test_a_confounded_model_flips_and_augmentation_lowers_it(scheme, swapper, tmp_path):
    """A model that reads stance from the speaker is caught by the swap test; trained with swapped copies (the actor
    follows the swap, the stance stays) it reads the words instead. The model is the project's TF-IDF system, fitted
    through the same path as any system: the tiny random BERT of the smoke experiment does not learn this toy set
    reliably in a few steps (its flip rate moved between 0 and 0.6 with the seed, with and without augmentation)."""
    from kpstance.config import validate
    from kpstance.eval.swap import swap_units_test
    from kpstance.systems.base import fit_fresh
    from kpstance.weak.trainset import TrainPart, swap_part

    cfg = validate(compose(["experiment=smoke", "system=tfidf", "evaluation.final_model=false"], tmp_path))
    units, labels = _toy(train=True)
    copies = swap_part([TrainPart("toy", units, labels)], scheme, 6, 0)  # a copy for every other actor that fits
    given = {u.id: lab for u, lab in zip(units, labels)}  # a copy: the swapped-in actor, the original's stance
    assert copies.units and all(lab == (u.extra["swap_target"], given[u.extra["swap_of"]][1])
                                for u, lab in zip(copies.units, copies.labels))
    test, gold = _toy(train=False)
    flips = {}
    for name, (us, ls) in {"confounded": (units, labels),
                           "augmented": (units + copies.units, labels + copies.labels)}.items():
        model = fit_fresh(cfg, scheme, us, ls, name)
        assert [p["stance"] for p in model.predict(test)] == [s for _, s in gold]  # both get the originals right
        flips[name] = swap_units_test(model, test, gold, swapper).metrics("", scheme)["swap_stance_flip"]
    assert flips["confounded"] >= 0.25 and flips["augmented"] <= 0.05, flips


# -- kpstance probe swap


def test_probe_swap_on_a_small_file(smoke_run, tmp_path, capsys):
    from kpstance.cli import main

    model = str(smoke_run["model_dir"])
    units = tmp_path / "units.jsonl"
    units.write_text("\n".join(json.dumps(x) for x in [
        {"text": "Lavrov said Russia was ready to talk with Pyongyang without preconditions.", "actor": "russia"},
        {"text": "Tillerson says US ready to meet North Korea", "actor": "united_states", "kind": "title"},
        {"text": "He said the drills must stop.", "actor": "china"},
    ]) + "\n", encoding="utf-8")
    assert main(["probe", "swap", model, "--input", str(units), "--worst", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 swapped copies, 1 unit skipped (no clean swap)" in out
    assert "stance flip rate:" in out and "actor follows swap:" in out
    assert out.count("original: ") == 2 and out.count("swapped:  ") == 2
    # how much the original stance lost, signed: a gain reads "+0.03", never "--0.03"
    assert "(original stance " in out and "--" not in out.split("worst", 1)[1]

    none = tmp_path / "none.jsonl"  # a unit of no actor has nothing to swap: said, not counted as a clean-swap miss
    none.write_text(json.dumps({"text": "The talks resumed on Monday.", "actor": "none"}) + "\n", encoding="utf-8")
    assert main(["probe", "swap", model, "--input", str(none)]) == 2  # nothing measured: no flip rate
    out, err = capsys.readouterr()
    assert "(1 units, 1 of them with no actor to swap): 0 swapped copies" in out
    assert err == f"kpstance: error: {none}: no unit could be swapped: name the actor with a name of the label " \
                  "YAML's names table\n"

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "Moscow urged talks."}) + "\n" + json.dumps({"text": "x", "actor": "mars"}) + "\n",
                   encoding="utf-8")
    assert main(["probe", "swap", model, "--input", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'kpstance: error: {bad}:1: missing field "actor" (the actor whose names are swapped)']
    bad.write_text(json.dumps({"text": "x", "actor": "mars"}) + "\n", encoding="utf-8")
    assert main(["probe", "swap", model, "--input", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"kpstance: error: {bad}:1: unknown actor 'mars'")
    assert main(["probe", "swap", model, "--input", str(tmp_path / "missing.txt")]) == 2
    assert "file not found" in capsys.readouterr().err


# -- kpstance probe direction


def test_probe_direction_on_a_small_file(smoke_run, tmp_path, capsys):
    from kpstance.cli import _UnitReader, main
    from kpstance.eval.score import pair_scores
    from kpstance.systems.predictor import StancePredictor, model_scheme
    from kpstance.text.segment import Unit

    model = str(smoke_run["model_dir"])
    lines = [
        {"pair_id": "p1", "text": "Seoul said it would suspend the joint drills.", "stance": "conciliatory"},
        {"pair_id": "p1", "text": "Seoul said it would expand the joint drills.", "stance": "hardline"},
        {"pair_id": "p2", "text": "Trump lifted sanctions on Pyongyang", "stance": "conciliatory", "kind": "title"},
        {"pair_id": "p2", "text": "Trump tightened sanctions on Pyongyang", "stance": "hardline", "kind": "title"},
        {"pair_id": "p3", "text": "He said the talks would resume.", "stance": "conciliatory", "speaker": "Moon",
         "split": "dev"},
        {"pair_id": "p3", "text": "He said the talks were off.", "stance": "hardline", "speaker": "Moon", "split": "dev"},
    ]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    assert main(["probe", "direction", model, "--input", str(pairs), "--worst", "3"]) == 0
    out = capsys.readouterr().out
    assert "6 units in 3 pairs" in out
    # the printed pair accuracy is the run's metric computed on the same predictions
    predictor = StancePredictor.load(model)
    units = []
    for i, x in enumerate(lines):
        u = Unit.of_text(x["text"], f"u{i}", kind=x.get("kind", "sentence"))
        if x.get("speaker"):
            u.extra["speaker"] = x["speaker"]
        units.append(u)
    preds = _UnitReader(predictor, model_scheme(model, None), 64).predict(units)
    recs = [{"id": f"u{i}", "pair_id": x["pair_id"], "stance": x["stance"]} for i, x in enumerate(lines)]
    want = pair_scores(recs, {r["id"]: (p["actor"], p["stance"]) for r, p in zip(recs, preds)}, "")["pair_accuracy"]
    assert f"pairs with every member right:  {want:.3f}" in out
    one = sum(preds[i]["stance"] == preds[i + 1]["stance"] for i in (0, 2, 4))
    assert f"pairs read with one stance:     {one / 3:.3f}  ({one} of 3 " in out
    missed = sum(not (preds[i]["stance"] == lines[i]["stance"] and preds[i + 1]["stance"] == lines[i + 1]["stance"])
                 for i in (0, 2, 4))
    assert out.count("     MISS ") == sum(p["stance"] != x["stance"] for p, x in zip(preds, lines))
    assert out.count(". pair p") == missed

    assert main(["probe", "direction", model, "--input", str(pairs), "--split", "dev"]) == 0
    out, err = capsys.readouterr()
    assert "2 units in 1 pairs" in out and "warning" not in err

    same = tmp_path / "same.jsonl"  # a "pair" whose members expect one stance is scored, and said
    same.write_text("\n".join(json.dumps(x) for x in [*lines[:2], {**lines[2], "stance": "hardline"}, lines[3]]) + "\n",
                    encoding="utf-8")
    assert main(["probe", "direction", model, "--input", str(same)]) == 0
    out, err = capsys.readouterr()
    assert "4 units in 2 pairs" in out and "of 1 pairs whose members differ" in out
    assert err.strip() == ("kpstance: warning: 1 pair(s) whose members all expect one stance, not a contrast (first: "
                           "p2): scored in the pairs right, left out of the pairs read with one stance")

    bad = tmp_path / "bad.jsonl"
    for rows, message in [
        ([{"text": "Seoul suspended the drills.", "stance": "conciliatory"}], f'{bad}:1: missing field "pair_id"'),
        ([{"pair_id": "p", "text": "x", "stance": "angry"}], f"{bad}:1: unknown stance 'angry'"),
        ([{"pair_id": "p", "text": "Seoul suspended the drills.", "stance": "conciliatory"},
          {"pair_id": "q", "text": "Seoul expanded the drills.", "stance": "hardline"}], f"{bad}:1: pair 'p' has one member"),
    ]:
        bad.write_text("\n".join(json.dumps(x) for x in rows) + "\n", encoding="utf-8")
        assert main(["probe", "direction", model, "--input", str(bad)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"kpstance: error: {message}"), err
    assert main(["probe", "direction", model, "--input", str(pairs), "--split", "test"]) == 2
    assert "no units in the file for split 'test'" in capsys.readouterr().err


class _EveryUnitIs:
    """A system that gives every unit one actor and stance (the dateline too, as a random smoke model may)."""

    def __init__(self, actor: str) -> None:
        self.actor = actor

    def predict(self, units):
        return [{"actor": self.actor, "stance": "neutral"} for _ in units]


def test_an_article_copy_that_changes_nothing_is_not_counted(scheme):
    """A dateline given to the swapped actor has no name to swap and no speaker: its 'copy' was the same input and
    counted as a copy that did not flip, padding the count and lowering the flip rate (a new user's trial)."""
    from kpstance.eval.swap import probe_article
    from kpstance.weak.swap import Swapper

    text = ("Moscow urges talks\nMOSCOW, March 3. /TASS/. Russia called for talks, Lavrov said.\n"
            "The weather was cold.\n")
    res, source = probe_article(_EveryUnitIs("russia"), text, "a", Swapper(scheme, 0), scheme, "russia", n=2)
    copied = {r["text"] for r in res.rows}
    assert source == "russia" and "MOSCOW, March 3. /TASS/." not in copied and "The weather was cold." not in copied
    assert "Russia called for talks, Lavrov said." in copied and res.skipped == 2  # the two with nothing to swap
    nobody, _ = probe_article(_EveryUnitIs("none"), text, "a", Swapper(scheme, 0), scheme, "russia", n=2)
    assert not nobody.rows and not nobody.skipped  # the CLI says the model gives the actor no unit


def test_probe_swap_of_a_model_without_names_is_refused_unless_its_actors_are_this_projects(tmp_path, monkeypatch):
    """A model of another conflict whose label file has no names table was probed with the Korean table and failed
    on an unknown actor; it is told to give --labels."""
    from types import SimpleNamespace

    import kpstance.systems.predictor as predictor
    from kpstance.cli import cmd_probe_swap

    (tmp_path / "m").mkdir()
    (tmp_path / "a.txt").write_text("Manila protests\nManila protested, Manalo said.\n", encoding="utf-8")
    text = LABELS.read_text(encoding="utf-8")
    text = text.replace("\n  russia:\n", "\n  philippines:\n    aliases: [Manila, Manalo]\n  russia:\n", 1)
    (tmp_path / "l.yaml").write_text(text[: text.index("\nnames:")] + text[text.index("\nnon_state_sources:"):],
                                     encoding="utf-8")
    monkeypatch.setattr(predictor, "model_scheme", lambda _dir, _labels: load_scheme(tmp_path / "l.yaml"))
    args = SimpleNamespace(targets=2, worst=3, input=str(tmp_path / "a.txt"), model_dir=str(tmp_path / "m"),
                           labels=None, actor=None, seed=0, device="cpu", batch_size=8)
    with pytest.raises(KpstanceError, match=r"no names table \('names:' in its label YAML\), so there is nobody "
                                             r"to swap in: give --labels FILE with one"):
        cmd_probe_swap(args)


def test_a_label_file_without_names_warns_that_training_makes_no_swapped_copies(scheme, caplog):
    """With no names table the remedy the training mix relies on was off, said only at INFO level."""
    from dataclasses import replace

    from kpstance.text.segment import Unit
    from kpstance.weak.scheme import NameTable
    from kpstance.weak.trainset import TrainPart, swap_part

    part = TrainPart("toy", [Unit.of_text("Lavrov said Russia was ready to talk.", "u1")], [("russia", "conciliatory")])
    with caplog.at_level("WARNING", logger="kpstance"):
        assert swap_part([part], scheme, 1, 0).units  # with names: copies, no warning
    assert "no names table" not in caplog.text
    with caplog.at_level("WARNING", logger="kpstance"):
        assert not swap_part([part], replace(scheme, names=NameTable()), 1, 0).units
    assert "no names table ('names:'), so no speaker-swapped copies are made" in caplog.text


def test_probe_swap_says_when_the_actor_it_picked_has_no_names(smoke_run, tmp_path, monkeypatch):
    """With a names table that lacks the actor the model gives most units, the probe said the model gave that actor
    no unit (the code review): it says the actor has no names."""
    from dataclasses import replace
    from types import SimpleNamespace

    import kpstance.eval.swap as swap_mod
    import kpstance.systems.predictor as predictor
    from kpstance.cli import cmd_probe_swap
    from kpstance.eval.swap import SwapResult
    from kpstance.weak.scheme import NameTable

    scheme = load_scheme(LABELS)
    partial = replace(scheme, names=NameTable(scheme.names.roles, scheme.names.required,
                                              {a: v for a, v in scheme.names.actors.items() if a != "japan"}))
    monkeypatch.setattr(predictor, "model_scheme", lambda _dir, _labels: partial)
    monkeypatch.setattr(swap_mod, "probe_article", lambda *a, **k: (SwapResult(), "japan"))
    (tmp_path / "a.txt").write_text("Tokyo urges calm\nJapan called for calm, Kono said.\n", encoding="utf-8")
    args = SimpleNamespace(targets=2, worst=3, input=str(tmp_path / "a.txt"), model_dir=str(smoke_run["model_dir"]),
                           labels=None, actor=None, seed=0, device="cpu", batch_size=8)
    with pytest.raises(KpstanceError, match="japan, the actor the model gives most units, has no names in the label "
                                            r"scheme's names table: nothing to swap it with \(give --actor\)"):
        cmd_probe_swap(args)
    monkeypatch.setattr(swap_mod, "probe_article", lambda *a, **k: (SwapResult(), "russia"))
    with pytest.raises(KpstanceError, match="the model gives none of the article's units to russia"):
        cmd_probe_swap(args)
