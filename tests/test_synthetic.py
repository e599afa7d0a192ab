"""The synthetic corpus: seeded, covering every label and every case of the specification, small
articles whose later units get their speaker through the project's own context path, never close to gold."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

import pytest
from helpers import GOLD, ROOT

from kpstance.errors import KpstanceError
from kpstance.systems.context import contexts
from kpstance.text.overlap import drop_leaks, jaccard, max_overlap
from kpstance.weak.aliases import matcher_for
from kpstance.weak.attribution import rules_for
from kpstance.weak.synthetic import Generator

TEMPLATES = ROOT / "configs" / "synthetic" / "korean_peninsula.yaml"
# One tag per case of the label specification (shared/labels/stance-guideline.md).
SPEC_CASES = (
    "reported_speech", "belief", "according_to", "headline_attributed", "quote", "trailing", "quote_multi_sentence",
    "quote_continuation", "pronoun_speaker", "surname_alone", "title_alone", "agent", "passive", "joined_agents",
    "un_ambassador", "possessive_chain", "unaffiliated", "residents", "markets", "dateline", "background",
    "background_history", "procedural", "technical", "nested_report_neutral", "nested_report_judged",
    "condemnation_pressure", "condemnation_calm", "condemnation_bare", "opposing_coercion", "defiance",
    "negation_talks", "negation_no_option", "negation_sanctions_alone", "mixed_but", "human_cost",
    "headline_literal", "headline_no_agent", "direction",
)
CARRIED = ("pronoun_speaker", "surname_alone", "title_alone", "quote_multi_sentence", "quote_continuation")


@pytest.fixture(scope="module")
def gen(scheme):
    return Generator(TEMPLATES, scheme)


@pytest.fixture(scope="module")
def corpus(gen):
    gold = [json.loads(l)["text"] for l in GOLD.read_text(encoding="utf-8").splitlines()]
    return gen.generate(1500, seed=3, exclude=gold), gold


@pytest.fixture(scope="module")
def with_context(corpus, scheme):
    ex, _ = corpus
    return list(zip(ex, contexts([e.unit() for e in ex], scheme)))


def speaker(context: str) -> str:
    return context.split("; speaker: ", 1)[1]


def test_same_seed_same_corpus(gen):
    def run(seed):
        return [(e.text, e.actor, e.stance, e.article, e.kind, e.quote_attribution) for e in gen.generate(80, seed)]

    assert run(1) == run(1)
    assert run(1) != run(2)


@pytest.mark.parametrize("n", [1, 37, 250])
def test_n_counts_units_and_articles_stay_whole(gen, n):
    ex = gen.generate(n, seed=5)
    assert len(ex) == n
    by = defaultdict(list)
    for e in ex:
        by[e.article].append(e.index)
    assert list(by) == sorted(by)  # articles in order, each one contiguous and complete from its first unit
    assert all(ix == list(range(len(ix))) for ix in by.values())


def test_every_template_is_used_and_segments_as_written(corpus, gen):
    ex, _ = corpus
    assert set(range(len(gen.templates))) == {e.template for e in ex}
    assert gen.dropped["segmentation"] <= 0.02 * len({e.article for e in ex})
    assert len(gen.templates) >= 120
    assert gen.skipped_names == []  # every person and agent is a name the label YAML gives that actor


def test_covers_every_actor_stance_and_spec_case(corpus, scheme):
    ex, _ = corpus
    pairs = Counter((e.actor, e.stance) for e in ex)
    for actor in scheme.actors:  # every actor with every stance, as in real news
        for stance in scheme.stance_labels:
            assert pairs[(actor.name, stance)] >= 3, (actor.name, stance)
    assert {s for a, s in pairs if a == scheme.none_actor} == {scheme.neutral_stance}
    tags = Counter(t for e in ex for t in e.tags)
    missing = [c for c in SPEC_CASES if tags[c] < 3]
    assert not missing
    for actor in scheme.actors:  # many aliases per actor, not one name
        names = {a for a in actor.aliases if any(a in e.text for e in ex if e.actor == actor.name)}
        assert len(names) >= 5, actor.name


def test_actors_appear_in_roles_that_fit_them(corpus):
    ex, _ = corpus
    hard = Counter(e.actor for e in ex if e.stance == "hardline" and "agent" in e.tags)
    assert hard.most_common(1)[0][0] == "north_korea"  # launches and tests
    freeze = Counter(e.actor for e in ex if "freeze" in e.text and e.stance == "conciliatory")
    assert set(freeze) >= {"china", "russia"}
    assert {e.actor for e in ex if "defiance" in e.tags and "agent" in e.tags} <= {"north_korea", "united_states",
                                                                                     "south_korea", "japan"}


def test_direction_units_tell_the_stance_by_the_step_alone(corpus, scheme):
    """The specification's direction rule: the banks of a pair hold the same steps, one lowering tension and one
    raising it, so a unit's topic and actor say nothing of its stance; only the direction (and a negation) does."""
    import yaml

    phrases = yaml.safe_load(TEMPLATES.read_text(encoding="utf-8"))["phrases"]
    pairs = [(k, k.replace("_down_", "_up_")) for k in phrases if "_down_" in k]
    assert len(pairs) >= 5
    for down, up in pairs:
        assert len(phrases[down]) == len(phrases[up]) and not set(phrases[down]) & set(phrases[up]), down
    units = [e for e in corpus[0] if "direction" in e.tags]
    by_actor = Counter((e.actor, e.stance) for e in units)
    for actor in scheme.actors:  # every actor takes steps both ways
        for stance in ("hardline", "conciliatory"):
            assert by_actor[(actor.name, stance)] >= 3, (actor.name, stance)
    for e in units:
        negated = " would not " in e.text
        down = any(p.split("{")[0].strip() in e.text for k, _ in pairs for p in phrases[k])
        if "voted" in e.text:
            assert e.stance == ("conciliatory" if "voted against" in e.text else "hardline"), e
        elif down != any(p.split("{")[0].strip() in e.text for _, k in pairs for p in phrases[k]):
            assert e.stance == ("conciliatory" if down != negated else "hardline"), e


@pytest.mark.parametrize("tag, actor, stance", [
    ("dateline", "none", "neutral"), ("unaffiliated", "none", "neutral"), ("background_history", "none", "neutral"),
    ("headline_no_agent", "none", "neutral"), ("procedural", None, "neutral"), ("nested_report_neutral", None, "neutral"),
    ("nested_report_judged", None, None), ("condemnation_pressure", None, "hardline"),
    ("condemnation_calm", None, "conciliatory"), ("condemnation_bare", None, "hardline"),
    ("opposing_coercion", None, "conciliatory"), ("defiance", None, "hardline"), ("negation_talks", None, "hardline"),
    ("negation_no_option", None, "hardline"), ("negation_sanctions_alone", None, "conciliatory"),
    ("human_cost", None, "conciliatory"),
])
def test_labels_by_construction(corpus, scheme, tag, actor, stance):
    units = [e for e in corpus[0] if tag in e.tags]
    assert units
    for e in units:
        if actor:
            assert e.actor == actor, e
        else:
            assert e.actor != scheme.none_actor, e
        if stance:
            assert e.stance == stance, e
    if tag == "dateline":
        assert {e.kind for e in units} == {"dateline"}
        agencies = {m.group(1) or m.group(2) for e in units for m in [re.search(r"\((\w+)\)|/(\w+)/", e.text)] if m}
        assert len(agencies) >= 4, agencies


def test_un_ambassadors_count_for_their_country(corpus, scheme):
    units = [e for e in corpus[0] if "un_ambassador" in e.tags]
    assert units and all(e.actor not in (scheme.none_actor, "united_nations") for e in units)
    assert any(" UN " in e.text or "United Nations" in e.text for e in units)


def test_headlines_are_titles(corpus):
    heads = [e for e in corpus[0] if {"headline_literal", "headline_attributed", "headline_no_agent"} & set(e.tags)]
    assert heads and {e.kind for e in heads} <= {"title", "subheading"}
    assert any(e.kind == "title" and "—" in e.text for e in heads)


def test_every_unit_names_its_actor_or_gets_it_from_context(with_context, scheme):
    """By construction a unit's actor is named in it, or is the speaker the context carries to it."""
    matcher, rules = matcher_for(scheme), rules_for(scheme)
    for e, ctx in with_context:
        if e.actor == scheme.none_actor:
            continue
        named = {m.actor for m in matcher.actor_mentions(e.text)}
        carried = rules.resolve_source(speaker(ctx), None) if speaker(ctx) != "-" else None
        assert e.actor in named or carried == e.actor, (e, ctx)


def test_multi_unit_articles_carry_the_speaker_to_later_units(with_context, scheme):
    rules, matcher = rules_for(scheme), matcher_for(scheme)
    size = Counter(e.article for e, _ in with_context)
    seen = Counter()
    for e, ctx in with_context:
        case = [t for t in CARRIED if t in e.tags]
        if not case:
            continue
        seen.update(case)
        assert size[e.article] > 1
        assert rules.resolve_source(speaker(ctx), None) == e.actor, (e, ctx)  # the context names the actor
        if "pronoun_speaker" in case or "title_alone" in case:
            assert e.actor not in {m.actor for m in matcher.actor_mentions(e.text)}, e  # the text alone does not
    assert all(seen[c] >= 10 for c in CARRIED), seen
    # a quote run: its opening sentences are in the quote and know the attribution that only comes at its end
    runs = [e for e, _ in with_context if "quote_multi_sentence" in e.tags and e.quote_opens]
    assert runs and all(e.in_quote and e.quote_attribution for e in runs)
    # "he said" after two speakers is the second one
    two = defaultdict(list)
    for e, _ctx in with_context:
        if "two_speakers" in e.tags:
            two[e.article].append(e)
    assert any(len({u.actor for u in v}) == 2 and v[-1].actor == v[1].actor for v in two.values())


def test_synthetic_units_reach_training_with_their_article(corpus):
    ex, _ = corpus
    u = [e.unit() for e in ex]
    assert len({x.id for x in u}) == len(u)
    multi = [x for x in u if x.index > 0]
    assert multi and all(x.article_id == u[i - 1].article_id for i, x in enumerate(u) if x.index > 0)


def test_no_training_sentence_overlaps_gold(corpus):
    ex, gold = corpus
    assert max(max_overlap([e.text for e in ex], gold)) < 0.8


def test_a_close_unit_drops_its_whole_article(gen):
    first = gen.generate(300, seed=9)
    target = next(e for e in first if e.index == 2)  # the third unit of an article
    again = gen.generate(300, seed=9, exclude=[target.text])
    assert target.text not in {e.text for e in again}
    assert all(jaccard(e.text, target.text) < 0.8 for e in again)
    by = defaultdict(list)
    for e in again:
        by[e.article].append(e.index)
    assert all(ix == list(range(len(ix))) for ix in by.values())  # no article kept in part
    opening = next(e.text for e in first if e.article == target.article and e.index == 0)
    assert opening not in {e.text for e in again if e.index == 0 and e.template == target.template}


def test_leak_filter_rejects_near_copies():
    gold = ["Washington is provoking Pyongyang, Lavrov said."]
    texts = ["Washington is provoking Pyongyang, Lavrov said again.", "Seoul urged calm."]
    assert jaccard(texts[0], gold[0]) >= 0.8
    assert drop_leaks(texts, gold, 0.8) == [1]


@pytest.mark.parametrize("threshold", [0.3, 0.8, 1.0])
def test_the_fast_leak_filter_drops_exactly_what_comparing_every_pair_drops(threshold):
    """Prefix filtering compares only candidate pairs; it must keep the same texts as the all-pairs maximum."""
    import random

    rng = random.Random(threshold)
    words = [*"the US China Russia said talks sanctions drills North Korea urged halt".split(), *(f"w{i}" for i in range(40))]
    refs = [" ".join(rng.choices(words, k=rng.randint(1, 9))) for _ in range(150)] + [""]
    texts = [" ".join(rng.choices(words, k=rng.randint(0, 9))) for _ in range(300)] + refs[:20]
    brute = [i for i, o in enumerate(max_overlap(texts, refs)) if o < threshold]
    assert drop_leaks(texts, refs, threshold) == brute and 0 < len(brute) < len(texts)


@pytest.mark.parametrize("bad, message", [
    ({"pattern": "{A} fired.", "actor": "none", "stance": "hardline"}, "goes with neutral"),
    ({"pattern": "{A} fired.", "actor": "A", "stance": "hardline", "A": "pirates"}, "unknown role 'pirates'"),
    ({"pattern": "{A} fired.", "actor": "A", "stance": "angry"}, "unknown stance 'angry'"),
    ({"units": [{"pattern": "{A} fired.", "actor": "C", "stance": "neutral"}]}, "actor must be A, B or none"),
])
def test_bad_templates_are_refused(tmp_path, scheme, bad, message):
    import yaml

    spec = yaml.safe_load(TEMPLATES.read_text(encoding="utf-8"))
    spec["templates"] = [bad]
    p = tmp_path / "t.yaml"
    p.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(KpstanceError, match=message):
        Generator(p, scheme)


def _spec_file(tmp_path, edit):
    import yaml

    spec = yaml.safe_load(TEMPLATES.read_text(encoding="utf-8"))
    edit(spec)
    p = tmp_path / "t.yaml"
    p.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return p


def _line(p, startswith):
    return next(i for i, x in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if x.startswith(startswith))


@pytest.mark.parametrize("edit, key, message", [
    (lambda s: s.update(template=s.pop("templates")), "template:", r"unknown key 'template' \(allowed: templates, "),
    (lambda s: s.update(phrase=s.pop("phrases")), "phrase:", r"unknown key 'phrase' \(allowed: "),
    (lambda s: s["templates"].append({"pattern": "{A} visited {citys}.", "actor": "A", "stance": "neutral"}),
     "- pattern: '{A} visited {citys}.'", r"templates\[\d+\]: unknown slot '\{citys\}'"),
    (lambda s: (s.pop("speech_verbs"), s.update(templates=[{"pattern": "{A} {verb} it.", "actor": "A",
                                                            "stance": "neutral"}])),
     "- pattern:", r"templates\[0\]: slot '\{verb\}' needs the list 'speech_verbs'"),
    (lambda s: s["people"]["russia"].append({"name": "Sergei Ryabkov"}), None,
     r"people.russia\[\d+\]: a mapping with the person's full name"),
    (lambda s: s["phrases"].update(bad_bank="one, two"), "  bad_bank:", "phrases.bad_bank: a non-empty list of strings"),
    # the code review: a misspelled key of a template or a person was ignored; 'leads' as a string was read letter by
    # letter ("F Sergey Lavrov said"); a B emptied by its slots was ignored and any actor drawn
    (lambda s: s["templates"][0].update(stnace="neutral"), None, r"templates\[0\]: unknown key 'stnace'"),
    (lambda s: s["phrases"].update(verb=["says"]), "  verb:", "phrases.verb: the name of a slot the generator fills"),
    (lambda s: s["people"]["russia"][0].update(shrot="Lavrov"), None, r"people.russia\[0\]: unknown key 'shrot'"),
    (lambda s: s["people"]["russia"][0].update(leads="Foreign Minister"), None,
     r"people.russia\[0\].leads: a list of strings"),
    (lambda s: (s.pop("default_demonym"), s.update(templates=[{"pattern": "A {Dem_B} official said so.",
                                                               "actor": "none", "stance": "neutral",
                                                               "B": ["united_nations"]}])),
     None, r"templates\[0\]: no actor fits B \(its role and its slots: Dem_B needs a demonym\)"),
])
def test_a_template_file_mistake_is_one_line_with_its_line(tmp_path, scheme, edit, key, message):
    """Each of these stopped a run with a Python traceback (KeyError, TypeError), or only once the run folder had been
    made, or with no line (a new user's trial, 2026-12-07): now one line naming the file, the line and the key, when
    the file is read."""
    p = _spec_file(tmp_path, edit)
    with pytest.raises(KpstanceError) as e:
        Generator(p, scheme)
    where = f"{p}:{_line(p, key)}: " if key else f"{p}:"
    assert str(e.value).startswith(where) and re.search(message, str(e.value)), str(e.value)


def test_a_template_file_that_is_not_utf8_names_the_line_and_byte(tmp_path, scheme):
    lines = TEMPLATES.read_text(encoding="utf-8").splitlines(keepends=True)
    p = tmp_path / "t.yaml"
    p.write_bytes("".join(lines[:3]).encode() + "# Vi\xe9t\n".encode("latin-1") + "".join(lines[3:]).encode())
    with pytest.raises(KpstanceError, match=r"t.yaml:4: not valid UTF-8 \(byte 4 of the line\)"):
        Generator(p, scheme)


def test_names_the_label_file_does_not_know_are_named_in_a_warning(tmp_path, scheme, caplog):
    """A misspelt person used to vanish from the corpus in silence, leaving its actor without people."""
    p = _spec_file(tmp_path, lambda s: s["people"]["russia"].append({"full": "Sergey Lavrovv"}))
    with caplog.at_level("WARNING", logger="kpstance"):
        gen = Generator(p, scheme)
    assert gen.skipped_names == ["Sergey Lavrovv"]
    assert "1 name(s) of people: or agents: that the label file does not give to that actor are skipped: Sergey " \
           "Lavrovv" in caplog.text


def test_without_a_default_demonym_an_actor_with_none_is_not_drawn_where_one_is_asked(tmp_path, scheme):
    """'A former Western official' was written in Python for the UN: the word now comes from the template file, and a
    file without one does not draw such an actor for a {Dem_B} slot."""
    import random

    tpl = {"pattern": "A former {Dem_B} official said {B} would wait.", "actor": "none", "stance": "neutral",
           "A": ["russia"], "B": ["united_nations", "china"]}
    banked = {**tpl, "pattern": "{former_official} said {B} would wait."}  # the slot inside a phrase it draws
    for default, expected, t in (("Western", {"Western", "Chinese"}, tpl), (None, {"Chinese"}, tpl),
                                 (None, {"Chinese"}, banked)):
        def edit(s, default=default, t=t):
            s["templates"] = [t]
            s["phrases"]["former_official"] = ["A former {Dem_B} official"]
            s.pop("default_demonym")
            if default:
                s["default_demonym"] = default
        gen = Generator(_spec_file(tmp_path, edit), scheme)
        rng = random.Random(0)
        seen = {gen.article(rng)[1][0]["text"].split()[2] for _ in range(60)}
        assert seen <= expected | {"PRC", "Beijing's"} and (default is None or "Western" in seen), seen


def test_with_the_corpus_switched_off_the_template_file_is_not_read(tmp_path, scheme):
    """data.synthetic.n=0 still read the template file mid-run, so one that did not fit the labels stopped the run
    after its folder was made (the code review)."""
    from helpers import compose

    from kpstance.weak.trainset import synthetic_part

    bad = tmp_path / "t.yaml"
    bad.write_text("templates: [{pattern: '{A} visited {citys}.', actor: A, stance: neutral}]\n", encoding="utf-8")
    cfg = compose(["experiment=smoke", "data.synthetic.n=0", f"data.synthetic.templates={bad}"], tmp_path)
    part = synthetic_part(cfg, scheme, [])
    assert part.units == [] and part.count_key == "n_synthetic"
    with pytest.raises(KpstanceError, match="unknown slot"):
        synthetic_part(compose(["experiment=smoke", "data.synthetic.n=5", f"data.synthetic.templates={bad}"],
                               tmp_path), scheme, [])
