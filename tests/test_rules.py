"""Alias matching, attribution and stance rules, the aggregator and the LF analysis."""

from __future__ import annotations

import json

import pytest
from helpers import ARTICLE, GOLD, run_here

from kpstance.text.segment import segment_article
from kpstance.weak.aggregate import aggregate
from kpstance.weak.aliases import matcher_for
from kpstance.weak.analysis import lf_analysis
from kpstance.weak.label import label_units


def actors_in(scheme, text):
    return [(m.actor, m.text) for m in matcher_for(scheme).actor_mentions(text)]


def test_aliases_word_boundaries_possessives_multiword(scheme):
    assert actors_in(scheme, "Washington’s plans worry the Kremlin.") == [("united_states", "Washington’s"), ("russia", "the Kremlin")]
    assert actors_in(scheme, "Let us hope for the UN Security Council vote.") == [("united_nations", "UN Security Council")]
    assert actors_in(scheme, "North Korea and South Korea met.") == [("north_korea", "North Korea"), ("south_korea", "South Korea")]
    assert actors_in(scheme, "Kim Jong-un spoke to KCNA.") == [("north_korea", "Kim Jong-un"), ("north_korea", "KCNA")]


def test_demonyms_count_only_for_officials(scheme):
    assert actors_in(scheme, "the Russian top diplomat said") == [("russia", "Russian")]
    assert actors_in(scheme, "a Chinese citizen was named") == []
    assert actors_in(scheme, "citing the North Korean threat") == []


def label(scheme, text, article="x"):
    units = segment_article(f"Headline\n{text}\n", article)
    return [(s.actor, s.stance) for s in label_units(units, scheme)][1:]


def fired(scheme, text):
    """The rules that fired on a one-sentence article's sentence."""
    return set(label_units(segment_article(f"Headline\n{text}\n", "x"), scheme)[1].rules_fired)


@pytest.mark.parametrize("text, expected", [
    ("Washington is provoking Pyongyang, Lavrov said.", ("russia", "conciliatory")),
    ("According to Wang Yi, all sides should return to talks.", ("china", "conciliatory")),
    ('"We will answer any threat with force," Kim Jong-un said.', ("north_korea", "hardline")),
    ("Seoul and Tokyo believe that pressure on Pyongyang must grow.", ("south_korea", "hardline")),
    ("New sanctions against Pyongyang were announced by the Treasury.", ("united_states", "hardline")),
    ("Analysts believe the talks may resume in spring.", ("none", "neutral")),
    ("Japanese analysts believe Washington will step up pressure.", ("none", "neutral")),
    ("Mattis said that no option could be ruled out.", ("united_states", "hardline")),
    ("Putin and Xi Jinping discussed the situation by phone.", ("russia", "neutral")),
    # present-tense headline verbs the cue lists lacked (each came out neutral)
    ("Seoul suspends loudspeaker broadcasts along the border.", ("south_korea", "conciliatory")),
    ("North Korea halts its missile tests, Kim Jong Un said.", ("north_korea", "conciliatory")),
    ("Beijing tightened its checks on coal shipments from North Korea.", ("china", "hardline")),
    # opposing pressure and the limits of pressure are conciliatory by the specification (they came out hardline)
    ("Russia said the sanctions had reached their limit.", ("russia", "conciliatory")),
    # "against" as the target of a step, and a patience at its limit, stay hardline
    ("Washington announced new sanctions against Pyongyang.", ("united_states", "hardline")),
    ("The United States said the sanctions were against companies that trade with Pyongyang.",
     ("united_states", "hardline")),
    ("Trump said U.S. patience with North Korea has reached the limit and new sanctions will follow.",
     ("united_states", "hardline")),
])
def test_sentence_rules(scheme, text, expected):
    assert label(scheme, text) == [expected]


def test_a_headline_that_warns_against_pressure_is_conciliatory(scheme):
    units = segment_article("Lavrov warns against pressure on Pyongyang\nMOSCOW, Nov. 29 (TASS) - Text.\n", "x")
    assert [(s.actor, s.stance) for s in label_units(units, scheme)][0] == ("russia", "conciliatory")


def test_pronoun_speaker_resolves_to_last_named(scheme):
    text = 'Guterres called for restraint.\n"All sides must talk," he said.'
    units = segment_article("Headline\n" + text + "\n", "x")
    assert [s.actor for s in label_units(units, scheme)][1:] == ["united_nations", "united_nations"]


def test_a_quote_that_opens_a_sentence_is_not_its_attribution(scheme):
    """'"We still hope ...," he said, noting ...': the quoted "We still hope" is the speaker's words; the speaker is
    the "he" after the closing quote, the last named source, even where the sentence goes on past a second quote."""
    from kpstance.systems.context import speakers

    text = ("Guterres called for restraint at the council.\n"
            '"We still hope for diplomacy," he said, noting that the lull had lasted 60 days.\n'
            '"We hope the North will refrain from any step," he said, also urging "other countries" to act calmly.\n'
            '"Talks must resume," Wang Yi said.\n')
    units = segment_article("Headline\n" + text, "x")
    assert speakers(units, scheme)[1:] == ["Guterres", "Guterres", "Guterres", "Wang Yi"]
    assert [s.actor for s in label_units(units, scheme)][2:] == ["united_nations", "united_nations", "china"]


def test_a_lower_case_trailing_source_leaves_the_speaker_to_the_leading_clause(scheme):
    """'Kim told the plenum ..., according to the state news agency': the model's context names Kim, not nobody,
    and the next "he stressed" carries Kim on."""
    from kpstance.systems.context import speakers

    text = ("Kim told a party plenum on Friday that tests were no longer needed, according to the state news agency.\n"
            "The party's peaceful stance, he stressed, served the goal of a world without nuclear weapons.\n")
    units = segment_article("Headline\n" + text, "x")
    assert speakers(units, scheme)[1:] == ["Kim", "Kim"]


def test_a_speech_verb_after_a_determiner_is_an_adjective_not_an_attribution(scheme):
    """'raised an estimated $2 billion', 'The proposed summit': no one speaks, so the context names no one; a speech
    verb after a name still attributes."""
    from kpstance.systems.context import speakers

    text = ("North Korea raised an estimated $2 billion for its weapons through cyber theft.\n"
            "The proposed summit would be the first since 2015.\n"
            "Seoul expected a reply within days.\n")
    units = segment_article("Headline\n" + text, "x")
    assert speakers(units, scheme)[1:] == [None, None, "Seoul"]


def test_he_said_resolves_to_the_last_attributed_speaker_not_the_last_actor(scheme):
    """A sentence in between that names another country without quoting anyone does not take over "he"."""
    text = ("Guterres called for restraint at the council.\n"
            "China's special envoy returned to Beijing on Monday from Pyongyang.\n"
            '"All sides must talk," he said.\n')
    units = segment_article("Headline\n" + text, "x")
    assert [s.actor for s in label_units(units, scheme)][1:] == ["united_nations", "china", "united_nations"]


def test_headline_dash_and_literal_headline(scheme):
    units = segment_article("Drills are dangerous — Wang Yi\nBody text here.\nUS provokes North Korea\nMore text.\n", "x")
    out = {s.text: (s.actor, s.stance) for s in label_units(units, scheme)}
    assert out["Drills are dangerous — Wang Yi"][0] == "china"
    assert out["US provokes North Korea"] == ("united_states", "hardline")


def test_aggregator_majority_breaks_ties_by_order():
    votes = {"a": "x", "b": "y", "c": None, "d": "y"}
    assert aggregate(votes, ["a", "b", "c", "d"]) == "y"
    assert aggregate({"a": "x", "b": "y"}, ["a", "b"]) == "x"
    assert aggregate({"a": "x", "b": "y"}, ["b", "a"], "priority") == "y"
    assert aggregate({"a": None}, ["a"]) is None


def test_lf_analysis_counts(scheme, units):
    silver = label_units(units, scheme)
    gold = {json.loads(l)["id"]: json.loads(l) for l in GOLD.read_text(encoding="utf-8").splitlines()}
    rows = {r["lf"]: r for r in lf_analysis(silver, gold, "actor")}
    assert rows["dateline"]["n_fired"] == 1 and rows["dateline"]["precision"] == 1.0
    for r in rows.values():
        assert 0.0 <= r["conflicts"] <= r["overlaps"] <= r["coverage"] <= 1.0
        assert r["n_gold"] == r["n_fired"]


def test_label_cli_on_txt_and_jsonl(capsys, tmp_path):
    out = tmp_path / "silver.jsonl"
    r = run_here(capsys, "label", "--input", str(ARTICLE), "--output", str(out))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["kind"] == "title" and rows[0]["actor"] == "russia" and "actor:headline_dash" in rows[0]["rules_fired"]
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "Beijing urged restraint, Wang Yi said.", "doc": 7}) + "\n", encoding="utf-8")
    r = run_here(capsys, "label", "--input", str(src))
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert (row["actor"], row["stance"], row["doc"]) == ("china", "conciliatory", 7)
    table = tmp_path / "corpus.csv"  # a corpus table is not read as an article of text
    table.write_text("id,text\n1,Beijing urged restraint.\n", encoding="utf-8")
    r = run_here(capsys, "label", "--input", str(table))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stdout == ""
    assert f"{table}: kpstance label reads .txt articles and .jsonl units" in r.stderr and "--explain" in r.stderr


@pytest.mark.parametrize("text, actor", [
    ("Hua Chunying said Beijing hopes all sides will return to talks.", "china"),
    ("Chief Cabinet Secretary Yoshihide Suga told reporters that Tokyo had lodged a protest.", "japan"),
    ("Lee Min-ho, a professor at Kookmin University, said the launch was a message to Washington.", "none"),
    ("Responding to the launch on Tuesday, Trump said all options were on the table.", "united_states"),
    ("Asked whether Pyongyang would accept the roadmap, Ryabkov replied that it was too early to say.", "russia"),
    ("The North fired two short-range missiles into the sea.", "north_korea"),
    ("Seoul and Washington had earlier agreed to postpone their joint exercises.", "none"),
    ("Earlier this month the council adopted its toughest resolution yet.", "none"),
])
def test_aliases_and_mentions_beyond_the_seed_article(scheme, text, actor):
    """Sentences of our own, in the patterns of other outlets: spokespersons, officials by surname, unaffiliated
    scholars, participle openers, 'the North', background recalled with 'had' or 'Earlier'."""
    from kpstance.text.segment import Unit

    (lab,) = label_units([Unit.of_text(text, "t")], scheme)
    assert lab.actor == actor


def label_article(scheme, body):
    units = segment_article("Headline\n" + body + "\n", "art")
    return [(s.actor, s.stance) for s in label_units(units, scheme)][1:]


@pytest.mark.parametrize("text, actor", [
    ("Han Tae Song told the conference that the country would keep its deterrent.", "north_korea"),
    ("Wu Qian told a monthly briefing that the army would guard the border.", "china"),
    ("Miroslav Jenca briefed the members behind closed doors.", "united_nations"),
    ("China's UN ambassador said the council should stay united.", "china"),
    ("Pyongyang's U.N. envoy wrote to the council on Monday.", "north_korea"),
    ("Park Ji-won, a fellow at a Seoul think tank, said North Korea was playing for time.", "none"),
    ("Analysts see the launch as a message to Washington.", "none"),
    ("The council imposed a ban on the North's seafood exports.", "united_nations"),  # the council in lower case
])
def test_aliases_possessive_chains_and_unaffiliated_sources(scheme, text, actor):
    from kpstance.text.segment import Unit

    (lab,) = label_units([Unit.of_text(text, "t")], scheme)
    assert lab.actor == actor


def test_surname_alone_resolves_to_the_person_named_in_full_earlier(scheme):
    # East Asian order: the surname comes first ("Kim" of "Kim Kye Gwan"); Western order: last
    body = ("Senior envoy Kim Kye Gwan arrived in Stockholm on Friday.\n"
            "Nothing would change the plan, Kim said.\n")
    assert label_article(scheme, body)[1][0] == "north_korea"
    # the same sentence in an article that never named him: nobody we know
    assert label_article(scheme, "Nothing would change the plan, Kim said.")[0][0] != "north_korea"
    body = ("Envoy Joseph Yun flew to Tokyo on Monday.\n"
            "The door to talks stayed open, Yun said.\n")
    assert label_article(scheme, body)[1][0] == "united_states"


def test_place_and_body_names_leave_no_surname_behind(scheme):
    body = ("North Korea fired a missile into the sea on Sunday.\n"
            "Korea Herald editors said the timing was no surprise.\n")
    assert label_article(scheme, body)[1][0] == "none"


def test_title_alone_resolves_to_the_last_person_with_that_title(scheme):
    body = ("Foreign Minister Taro Kono met his counterparts in Manila.\n"
            "Every member state should enforce the ban on coal imports, the minister said.\n")
    assert label_article(scheme, body)[1] == ("japan", "hardline")


@pytest.mark.parametrize("text, expected", [
    # refusals and negation scope
    ("Tokyo ruled out any talks with Pyongyang for now.", ("japan", "hardline")),
    ("Washington said no option could be ruled out.", ("united_states", "hardline")),
    ("Sanctions alone cannot solve the problem, Lavrov said.", ("russia", "conciliatory")),
    ("Beijing said fresh sanctions would be premature.", ("china", "conciliatory")),
    ("Wang Yi called further sanctions useless and ineffective.", ("china", "conciliatory")),
    ("Pyongyang said it would not abandon its nuclear programme.", ("north_korea", "hardline")),
    ("The North will never give up its nuclear deterrent, KCNA said.", ("north_korea", "hardline")),
    ("Seoul said it won't hold the drills this month.", ("south_korea", "conciliatory")),
    ("Beijing rejected the drills and urged talks.", ("china", "conciliatory")),
    # condemnation of a provocation: the remedy decides
    ("Beijing condemned the launch and urged all sides to show restraint.", ("china", "conciliatory")),
    ("Tokyo condemned the launch and called for tougher sanctions.", ("japan", "hardline")),
    ("Seoul condemned the missile launch in the strongest terms.", ("south_korea", "hardline")),
    # condemning another party's launch is no provocation of that party: the remedy asked for decides
    ("Beijing condemns Pyongyang's latest launch and urges all parties to stay calm", ("china", "conciliatory")),
    # opposing another party's coercive step versus defying sanctions aimed at oneself
    ("Moscow opposes the deployment of the new missile defence battery.", ("russia", "conciliatory")),
    ("Pyongyang rejected the new UN sanctions as an act of war.", ("north_korea", "hardline")),
    # concessions: the clause after 'but' carries the position
    ("Sanctions remain important, but dialogue is the only way forward, Wang Yi said.", ("china", "conciliatory")),
    # support takes the supported step's stance; suspending one's own drills lowers tension
    ("Tokyo welcomed the tougher sanctions adopted by the council.", ("japan", "hardline")),
    ("The Pentagon announced a halt to the joint exercises planned for the summer.", ("united_states", "conciliatory")),
    # a source relaying a technical fact about another party's launch takes no position
    ("The missile was fired from a site near the coast, the Japanese defence ministry said.", ("japan", "neutral")),
    ("Moon Jae-in held talks with Xi Jinping in Beijing.", ("south_korea", "neutral")),
])
def test_stance_read_as_the_specification_says(scheme, text, expected):
    assert label(scheme, text) == [expected]


# One sentence each, written for the purpose, in the order of the issue-18 rule work: (text, (actor, stance)).
READ_BY_THE_SPEC = [
    # judging another party's build-up as out of proportion criticises its coercive step
    ("Beijing called the naval build-up of Washington and its allies near the peninsula disproportionate.",
     ("china", "conciliatory")),
    # a negation carries along a chain of cues: no test, no launch and no missile happened, so nothing is condemned
    ("Washington is stoking tension even though Pyongyang has staged no tests or launches of missiles since spring, "
     "Nebenzya said.", ("russia", "conciliatory")),
    # the judged conduct belongs to another party named in its clause
    ('"It is alarming that Tokyo seems eager to provoke Pyongyang," Geng Shuang said.', ("china", "conciliatory")),
    # a judgement in a relative clause is the other party's ('which Beijing calls a threat'), not the actor's
    ("Seoul and Washington held large naval drills, which Beijing calls a threat to regional peace.",
     ("south_korea", "hardline")),
    # warning of the human cost of war
    ("A war on the peninsula could cost a million lives, the UN chief warned.", ("united_nations", "conciliatory")),
    # a month or a calendar date recalls background; a weekday dates the news
    ("In March, North Korea launched four missiles into the sea.", ("none", "neutral")),
    ("On Friday, North Korea launched four missiles into the sea.", ("north_korea", "hardline")),
    # ... even where a speech verb follows the date; a weekday still dates the news, a trailing source still speaks
    ("On July 4, Pyongyang announced a successful test of a long-range missile.", ("none", "neutral")),
    ("In April, Kim told the assembly that he could meet Trump again.", ("none", "neutral")),
    ("On Tuesday, Pyongyang said it would hold more missile tests.", ("north_korea", "hardline")),
    ("In April, the talks will resume in Geneva, Lavrov said.", ("russia", "conciliatory")),
    # asking another party to scrap, halt, cancel or stop its coercive step opposes it: conciliatory
    ("Pyongyang's state media urged Seoul to scrap its spring drills with the Americans.",
     ("north_korea", "conciliatory")),
    ("KCNA called for the joint air drills to be stopped.", ("north_korea", "conciliatory")),
    # a modal makes the other party's step the speaker's call; a negation does not reach past 'but'
    ("Washington must not merely postpone but fully cancel the naval exercises, Wang Yi said.",
     ("china", "conciliatory")),
    # a judging word beside the actor's own call to call off a deployment is no bare protest
    ("Moscow pressed Tokyo to take its concerns seriously and call off the radar deployment.",
     ("russia", "conciliatory")),
    # the topic of a meeting or a discussion is no step taken and no judgement; a coercive step after one still is
    ("Xi Jinping and Moon Jae-in discussed, among several issues, a peace regime for the peninsula.",
     ("china", "neutral")),
    ("Abe and Putin will hold a summit in Vladivostok next month.", ("japan", "neutral")),
    ("Feltman will meet senior officials in Pyongyang to discuss matters of mutual concern.",
     ("united_nations", "neutral")),
    ("Trump and Abe agreed during a phone call to increase pressure on Pyongyang.", ("united_states", "hardline")),
    # a step whose owner is named right after it is that owner's, relayed by the source
    ("The naval exercises of the United States and Japan went ahead last week, Geng Shuang said.",
     ("china", "neutral")),
    # inside a quote the speaker says 'we': 'they' plan another party's step
    ('"They are planning more drills near the border," the Chinese envoy said.', ("china", "neutral")),
    ('"We will hold more drills near the border," the Chinese envoy said.', ("china", "hardline")),
    # a report inside the unit: the steps after its verb are its source's, which the unit's source only relays
    ("According to Ryabkov, officials in Tokyo have said that military options remain on the table.",
     ("russia", "neutral")),
    # a step reported in the past passive with no agent is a fact told; a present passive may be a call
    ("New sanctions on Pyongyang were published last week, Lavrov noted.", ("russia", "neutral")),
    ("New sanctions on Pyongyang are needed, Haley said.", ("united_states", "hardline")),
    # after an opening participle clause, 'Kono said <clause>' reports the clause: its cues are read
    ("Speaking in Seoul on Monday, Kono said Japanese diplomats were ready for talks with Pyongyang.",
     ("japan", "conciliatory")),
    # judging words, threats and offers of talks
    ("Moon Jae-in called the latest launch intolerable.", ("south_korea", "hardline")),  # a bare condemnation
    ("No preconditions for a first meeting, Biegun says", ("united_states", "conciliatory")),
    ("Pompeo said the negotiating teams would meet again in Stockholm.", ("united_states", "conciliatory")),
    ("Haley warned that the regime would face total destruction.", ("united_states", "hardline")),
    # a demand that another party takes a step is the speaker's call for it; a report of what it will do is relayed
    ("Tokyo demanded that Pyongyang exercise restraint.", ("japan", "conciliatory")),
    ("Wang Yi said Beijing firmly demands that Washington cancel the drills.", ("china", "conciliatory")),
    ("Beijing said that Seoul would halt the drills.", ("china", "neutral")),
    # exempting, dismantling and offers to meet lower tension, whoever takes them
    ("The Security Council granted a sanctions exemption for the rail survey.", ("united_nations", "conciliatory")),
    ("Pyongyang began demolishing its missile engine test stand on Monday.", ("north_korea", "conciliatory")),
    ("Kim Jong Un said he was willing to meet Abe.", ("north_korea", "conciliatory")),
    # a source confirming another party's step, told in the past passive, relays a fact
    ("Seoul's defence ministry confirmed that several guard posts had been demolished.", ("south_korea", "neutral")),
    # '..., calls it a duty' is a second verb of the headline's subject, not '..., said Lavrov'
    ("Moon says he is ready to meet Kim again, calls it a duty", ("south_korea", "conciliatory")),
    # 'At <a meeting of a body>, X ...': the setting is skipped like any opening adverbial, X is the agent
    ("At a Security Council session next week, Kono plans to call for tighter sanctions.", ("japan", "hardline")),
    # asking the provoker to halt its own provocation presses it; a call for calm it is not
    ("Tokyo condemned the launch and urged Pyongyang to stop its missile tests.", ("japan", "hardline")),
    ("Beijing urged Pyongyang to halt its missile tests.", ("china", "hardline")),
    # beside a call on the other side to scrap its drills it is a freeze on both sides; halting one's own tests too
    ("Moscow urged Pyongyang to halt its missile tests and Washington to scrap the drills.",
     ("russia", "conciliatory")),
    ("Pyongyang said it would halt its missile tests.", ("north_korea", "conciliatory")),
    # the past perfect of the opening clause recalls background; one in a later clause is a fact inside the news
    ("Seoul and Tokyo had agreed to share intelligence on the launches.", ("none", "neutral")),
    ("Only weeks earlier, the council had tightened the oil cap on the North.", ("none", "neutral")),
    ("President Moon on Friday ordered a review of how the extra launchers had arrived in the country.",
     ("south_korea", "neutral")),
    # voting for a resolution and restricting trade are coercive, offers to talk lower tension
    ("Beijing voted in favour of the resolution on Monday.", ("china", "hardline")),
    ("The council restricted the North's oil imports.", ("united_nations", "hardline")),
    ("Tillerson said Washington would like to talk with Pyongyang.", ("united_states", "conciliatory")),
    # 'provocative' judges another party's drills (conciliatory) or condemns a launch with no remedy (hardline)
    ("Geng Shuang called the drills provocative.", ("china", "conciliatory")),
    ("Seoul called the launch provocative.", ("south_korea", "hardline")),
    # putting off, calling off and ending one's drills lowers tension, however long the name of the drill
    ("Seoul said it was willing to push back the spring drills.", ("south_korea", "conciliatory")),
    ("The Pentagon calls off the autumn exercises", ("united_states", "conciliatory")),
    ("Washington and Seoul will end the annual command post exercise.", ("united_states", "conciliatory")),
    # raising combat readiness is a military step, not a readiness to talk
    ("The South Korean army raised its combat readiness after the launch.", ("south_korea", "hardline")),
    # resuming a step takes the step's direction: resumed tests or drills raise tension, resumed talks lower it
    ("Pyongyang said it would resume its missile tests.", ("north_korea", "hardline")),
    ("Washington said the joint drills would resume in April.", ("united_states", "hardline")),
    ("North Korea will resume nuclear testing, KCNA said.", ("north_korea", "hardline")),
    ("Pyongyang said it would resume talks with Seoul.", ("north_korea", "conciliatory")),
    # a verb that stops a step lowers tension on a coercive step and raises it on one that lowers tension: calling
    # off a summit, suspending talks or lifting a moratorium turns a de-escalating step down; two steps joined by
    # 'and' are two steps
    ("Trump called off the summit with Kim Jong Un.", ("united_states", "hardline")),
    ("Pyongyang suspended the high-level talks with Seoul.", ("north_korea", "hardline")),
    ("North Korea lifted its moratorium on nuclear tests.", ("north_korea", "hardline")),
    ("Seoul halted its aid shipments to the North.", ("south_korea", "hardline")),
    ("Seoul suspended the joint drills.", ("south_korea", "conciliatory")),
    ("Pyongyang agreed to suspend its nuclear tests and hold talks.", ("north_korea", "conciliatory")),
    ("Washington said it would not suspend the talks.", ("united_states", "conciliatory")),
    # the direction of the step: turning down talks and severing ties raise tension, letting sanctions expire and
    # loosening curbs lower it, doubting that sanctions help argues against pressure
    ("Seoul turned down the North's offer of military talks.", ("south_korea", "hardline")),
    ("Kang urged the states that trade with Pyongyang to sever their ties.", ("south_korea", "hardline")),
    ("Tokyo let its port sanctions on the North expire.", ("japan", "conciliatory")),
    ("Moscow said the new decree loosens its curbs on North Korean trade.", ("russia", "conciliatory")),
    ("Wang Yi doubted that further sanctions would help.", ("china", "conciliatory")),
    ("Abe said he would invite Kim to Tokyo.", ("japan", "conciliatory")),
    ("Abe said Kim would not be invited to Tokyo.", ("japan", "hardline")),
    # a premier counts for the state of the demonym before it; meeting in person is an offer
    ("The Chinese premier promised to sit down with Moon in person.", ("china", "conciliatory")),
    # a refusal negated right before it keeps the talks open; of no step, it keeps options open; a negation of
    # another clause ('which has not tested since') leaves the refusal a refusal
    ("Seoul said it would not rule out dialogue with Pyongyang.", ("south_korea", "conciliatory")),
    ("Lavrov said Moscow did not rule out talks with the North.", ("russia", "conciliatory")),
    ("Moscow didn't rule out talks with Pyongyang.", ("russia", "conciliatory")),
    ("Abe said no option could be ruled out.", ("japan", "hardline")),
    ("North Korea, which has not tested since, rejected talks with Seoul.", ("north_korea", "hardline")),
    ("Seoul said it was not clear whether Pyongyang rejected the offer of talks.", ("south_korea", "neutral")),
    # sanctions that are 'not the answer' are argued against; rejecting sanctions aimed at oneself is defiance
    ("Sanctions are not the answer, Wang Yi said.", ("china", "conciliatory")),
    ("North Korea warned against new sanctions on its economy, KCNA said.", ("north_korea", "hardline")),
    # with no target named, the same words read the same from any speaker (until 2026-12-07 'warned' was read as
    # the speaker's own threat, so Moscow warning against sanctions came out hardline)
    ("Russia warned against new sanctions, TASS said.", ("russia", "conciliatory")),
    ("China warned against any easing of sanctions.", ("china", "hardline")),
    # cutting a hotline raises tension, as the specification names it
    ("Pyongyang cut the hotline with Seoul.", ("north_korea", "hardline")),
    # being against the step named right after: against easing, the pressure is favoured; against another's
    # coercive step, it is opposed; negated, the other way; sanctions on oneself stay defiance
    ("Russia opposes any easing of sanctions, Lavrov said.", ("russia", "hardline")),
    ("Japan remains against any relaxation of pressure on North Korea, Kono said.", ("japan", "hardline")),
    ("Japan opposes lifting sanctions.", ("japan", "hardline")),
    ("We are against any further pressure on Pyongyang, the Chinese foreign ministry said.", ("china", "conciliatory")),
    ("Russia remains firmly against the deployment of THAAD.", ("russia", "conciliatory")),
    ("Seoul opposed the suspension of talks.", ("south_korea", "conciliatory")),
    ("Moon said he is not against talks with the North.", ("south_korea", "conciliatory")),
    ("Abe said Japan was not opposed to new sanctions.", ("japan", "hardline")),
    ("North Korea said it remained against the new sanctions on it.", ("north_korea", "hardline")),
    # a limit on the step that lowers tension argues for the pressure
    ("Talking is not the answer, Trump said.", ("united_states", "hardline")),
    ("It is premature to lift sanctions, Kono said.", ("japan", "hardline")),
    # the opposition is the actor's own, of the step right after it (found by the review of 2026-12-07)
    ("Abe said Japan will not back down and opposes any easing of sanctions.", ("japan", "hardline")),
    ("North Korea said it would never bow to pressure and is against giving up its nuclear deterrent.",
     ("north_korea", "hardline")),
    ("Xi said China firmly opposes the deployment of US missile defence systems in South Korea.",
     ("china", "conciliatory")),
    ("Lavrov said Japan remains against any relaxation of pressure.", ("russia", "neutral")),
    ("Moon said he is against war and for dialogue.", ("south_korea", "conciliatory")),
    ("China urged the opposing parties to resume talks.", ("china", "conciliatory")),
    # a source relaying another party's position, without judging it, is neutral; a step of its own beside it is not
    ("Lavrov said Tokyo opposes easing the sanctions before North Korea fully dismantles its nuclear programme.",
     ("russia", "neutral")),
    ("Wang Yi noted that Washington opposes any sanctions relief before complete denuclearisation.",
     ("china", "neutral")),
    ("Moon said Seoul and Washington had agreed to suspend the drills, which China had long opposed.",
     ("south_korea", "conciliatory")),
    ("The Russian leader urged talks with Pyongyang and cautioned against military hysteria.",
     ("russia", "conciliatory")),
    # limits that are no judgement of a step: 'alone' as 'only', a negated doubt, pressure judged beside dialogue
    ("Seoul has sent food aid worth $8 million this year alone.", ("south_korea", "conciliatory")),
    ("Moon said he had no doubt Kim was committed to denuclearization.", ("south_korea", "conciliatory")),
    ("Lavrov said dialogue is necessary as pressure by itself is not working.", ("russia", "conciliatory")),
    # a futility relayed from another party, or conceded after 'although', is no argument (second probe, 2026-12-07)
    ("Lavrov said Tokyo considers dialogue with Pyongyang premature.", ("russia", "neutral")),
    ("Although talks with Pyongyang may seem premature, Seoul believes they are the only way to prevent war, a Blue "
     "House spokesman said.", ("south_korea", "conciliatory")),
    ("Putin said Russia was not opposed to lifting some sanctions on Pyongyang if North Korea halted its nuclear "
     "programme.", ("russia", "conciliatory")),
    # a limit conceded before a 'but' is no argument against the step
    ("Dialogue is not the answer to every problem, but it is a start, Wang Yi said.", ("china", "conciliatory")),
    ("Moon said talks alone would not be enough but were the only way forward.", ("south_korea", "conciliatory")),
]



def test_the_same_words_against_sanctions_read_the_same_from_any_speaker(scheme):
    """A deliberate choice (2026-12-07): 'X warned against new sanctions' names no target, so the rules give it one
    stance whoever X is (what is said decides, never who says it); named as aimed at the speaker, it is defiance."""
    said = {who: label(scheme, f"{who} warned against new sanctions.")[0]
            for who in ("North Korea", "Russia", "China", "Japan")}
    assert {stance for _, stance in said.values()} == {"conciliatory"}, said
    assert label(scheme, "North Korea warned against new sanctions on it, KCNA said.") == [("north_korea", "hardline")]


def test_the_abbreviation_us_is_no_self_reference(scheme):
    """'US' names the United States; read case-blind it was the pronoun 'us', which made another party's step the
    speaker's own ('Seoul ... the US Treasury's sanctions announcement' read hardline for Seoul)."""
    assert label(scheme, "Seoul's foreign ministry said it had been notified in advance of the US Treasury's "
                         "sanctions announcement.") == [("south_korea", "neutral")]
    assert label(scheme, "Song Young-moo said he had not been informed of the timing of the US carrier group's "
                         "arrival.") == [("south_korea", "neutral")]
    # the pronoun itself, in lower case or opening the sentence, still refers to the speaker
    assert label(scheme, "The sanctions against us will fail, North Korea said.") == [("north_korea", "hardline")]
    assert label(scheme, "Its missiles are a deterrent, KCNA said.") == [("north_korea", "hardline")]


@pytest.mark.parametrize("text, expected", [
    ("S. Korea, US stage combined air drill with stealth fighters", ("south_korea", "hardline")),
    ("US, South Korea scale down Foal Eagle exercise", ("united_states", "conciliatory")),
    ("US, South Korea expand Foal Eagle exercise", ("united_states", "hardline")),
])
def test_parties_listed_by_commas_are_agents_as_with_and(scheme, text, expected):
    """A headline joins its agents with a comma where a sentence says 'and': the same reading either way."""
    assert label(scheme, text) == [expected]
    assert label(scheme, text.replace(", ", " and ", 1)) == [expected]


def test_a_headline_speaker_before_a_colon_is_not_a_listed_agent(scheme):
    """'Trump:' names who speaks, not who launched: the tests stay North Korea's."""
    assert "stance:hardline_cue" not in fired(scheme, "Trump: North Korea's missile tests did not breach agreement")


@pytest.mark.parametrize("text", [
    "We are against war, the Chinese ambassador said.",  # no step right after it
    "Beijing said the Security Council's newest measures against North Korea would take effect on Saturday.",  # a target
    "China said the new sanctions were against companies that trade with Pyongyang.",
    "The Treasury announced new sanctions against shipping firms that helped evade sanctions.",
    "Mattis said the United States stood ready to defend against any attack.",
    "Kim Jong-un said the launches were an adequate warning against the joint exercise.",
])
def test_against_with_no_step_right_after_it_decides_nothing(scheme, text):
    """'against' that names a target, or no step, is no opposition (the reverted cue of 2026-12-07 read 'We are
    against war' as a bare protest, hardline): neither the opposition reading nor defiance fires."""
    assert not {"stance:opposed_step", "stance:defiance"} & fired(scheme, text), fired(scheme, text)


@pytest.mark.parametrize("text", [
    # 'a dead end and ...' judges what comes before it, and the 'end' of 'dead end' is no step
    "Wu Dawei said isolating Pyongyang was a dead end and urged a resumption of the six-party talks.",
    "A North Korean envoy said confrontation is a dead end and called for talks with the United States.",
])
def test_futility_of_something_else_is_no_argument_against_the_step(scheme, text):
    assert "stance:limits" not in fired(scheme, text)


@pytest.mark.parametrize("text, expected", READ_BY_THE_SPEC)
def test_one_sentence_read_by_the_specification(scheme, text, expected):
    assert label(scheme, text) == [expected]


@pytest.mark.parametrize("body, expected", [
    # the second sentence of a quote that criticised another party's drills keeps that position
    ('"The unscheduled air drills of Washington and Seoul went ahead last week. It looks as if they want a pretext '
     'for military action," Wang Yi said.', [("china", "conciliatory"), ("china", "conciliatory")]),
    # a quote with no attribution of its own right after the speaker's quote in the same paragraph
    ('"We call on all sides to resume talks," Wang Yi said. "We are ready to help in any way."',
     [("china", "conciliatory"), ("china", "conciliatory")]),
    # a quote that took no position passes none on
    ('"The ministers met in Beijing on Friday," Wang Yi said. "We are ready to help in any way."',
     [("china", "neutral"), ("china", "neutral")]),
])
def test_a_quote_over_several_sentences_keeps_its_position(scheme, body, expected):
    assert label_article(scheme, body) == expected
