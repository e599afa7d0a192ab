"""The segmenter on the article's tricky lines."""

from __future__ import annotations

import pytest
from helpers import ARTICLE_ID

from kpstance.text.segment import segment_article, split_sentences, strip_furniture


def test_headline_subtitle_dateline_and_sections(units):
    kinds = [u.kind for u in units]
    assert kinds[:3] == ["title", "subtitle", "dateline"]
    assert units[0].text.endswith("— Lavrov")
    assert units[2].text == "MOSCOW, November 24. /TASS/."
    assert units[3].text.startswith("Moscow believes")
    subheadings = [u.text for u in units if u.kind == "subheading"]
    assert subheadings == [
        "US provokes North Korea",
        "Military conflict with North Korea may claim a million of lives",
        "Standoff between US and North Korea",
        "Korean Peninsula situation",
    ]
    # sections start at subheadings: title, subtitle, dateline and the lead are section 0
    assert {u.section for u in units if u.index < 8} == {0}
    assert [u.section for u in units if u.kind == "subheading"] == [1, 2, 3, 4]


def test_ids_are_stable_and_unique(units):
    assert [u.id for u in units] == [f"{ARTICLE_ID}-{i:03d}" for i in range(len(units))]
    again = segment_article(open_article(), ARTICLE_ID)
    assert [u.id for u in again] == [u.id for u in units]


def open_article() -> str:
    from helpers import ARTICLE

    return ARTICLE.read_text(encoding="utf-8")


def test_multi_sentence_quote_knows_its_speaker(units):
    by_text = {u.text[:25]: u for u in units}
    opening = by_text['"In mid-October, the unan']
    assert opening.quote_opens and opening.in_quote
    assert opening.quote_attribution == "he said"  # given only at the end of the next sentence
    closing = next(u for u in units if u.text.startswith("It seems that they are waiting"))
    assert closing.in_quote and closing.quote_attribution == "he said"


def test_quote_continuation_without_attribution(units):
    cont = next(u for u in units if u.text == '"We are ready to do all that is necessary for it."')
    assert cont.in_quote and cont.quote_attribution == "he said" and cont.extra.get("quote_continuation")


def test_unbalanced_quote_is_split_and_attributed(units):
    u = next(u for u in units if u.text.startswith('"President Trump was thoroughly informed'))
    assert u.quote_attribution == "the minister stressed"
    prev = units[u.index - 1]
    assert prev.text.endswith("denuclearization of the Korean Peninsula.")


def test_glued_sentences_are_split():
    assert split_sentences("It could not be ruled out.The talks failed.") == ["It could not be ruled out.", "The talks failed."]


def test_abbreviations_do_not_split():
    s = split_sentences('"Gen. Smith met U.S. officials in Seoul. They talked," he said.')
    assert s[0].startswith('"Gen. Smith met U.S. officials in Seoul.')


def test_bom_and_windows_line_endings_segment_the_same(units):
    text = open_article()
    crlf = "\ufeff" + text.replace("\n", "\r\n")
    assert [u.text for u in segment_article(crlf, ARTICLE_ID)] == [u.text for u in units]


def test_last_line_without_newline_is_kept(units):
    assert units[-1].text.endswith("could be ruled out.")


WIRE = {
    "reuters": ("Seoul weighs new talks offer\n\nSEOUL (Reuters) - South Korea said on Monday it would propose talks. "
                "The North did not answer.\n\nReporting by Ana Lee; Editing by Tom Ray\n",
                "SEOUL (Reuters) -", "South Korea said on Monday it would propose talks."),
    "ap": ("Tokyo protests launch\n\nBy MARI ITO and JON PARK\n\nTOKYO (AP) — Japan lodged a protest on Friday. "
           "It called the launch reckless.\n",
           "TOKYO (AP) —", "Japan lodged a protest on Friday."),
    "ap_country": ("Seoul answers\n\nSEOUL, South Korea (AP) — The South said it was ready to talk.\n",
                   "SEOUL, South Korea (AP) —", "The South said it was ready to talk."),
    "xinhua": ("China urges calm\nBEIJING, Nov. 29 (Xinhua) -- China on Wednesday urged restraint by all sides.\n"
               "Enditem\n", "BEIJING, Nov. 29 (Xinhua) --", "China on Wednesday urged restraint by all sides."),
    "yonhap": ("(LEAD) Moon calls NSC meeting\n\nSEOUL, Nov. 29 (Yonhap) -- President Moon Jae-in convened the "
               "council.\n\n(END)\n", "SEOUL, Nov. 29 (Yonhap) --", "President Moon Jae-in convened the council."),
    "kcna": ("Statement of DPRK Foreign Ministry\nPyongyang, November 29 (KCNA) -- The DPRK rejects the resolution.\n",
             "Pyongyang, November 29 (KCNA) --", "The DPRK rejects the resolution."),
    "kyodo": ("Japan pauses alert drills\n\nTOKYO, June 22 Kyodo - Japan put its civil drills on hold on Friday. The "
              "cabinet cited calmer ties.\n\n==Kyodo\n", "TOKYO, June 22 Kyodo -",
              "Japan put its civil drills on hold on Friday."),
    "tass": ("Moscow urges dialogue — Lavrov\nThe minister spoke in Minsk\nMINSK, December 2. /TASS/. Russia calls "
             "for talks, Lavrov said.\n", "MINSK, December 2. /TASS/.", "Russia calls for talks, Lavrov said."),
    # with a year, which kpstance predict reads as the article's date
    "yonhap_year": ("Moon calls NSC meeting\n\nSEOUL, Nov. 29, 2017 (Yonhap) -- President Moon Jae-in convened the "
                    "council.\n", "SEOUL, Nov. 29, 2017 (Yonhap) --", "President Moon Jae-in convened the council."),
    "ap_year": ("Council votes\n\nUNITED NATIONS, Dec. 22, 2017 (AP) -- The council voted for new sanctions.\n",
                "UNITED NATIONS, Dec. 22, 2017 (AP) --", "The council voted for new sanctions."),
    "tass_year": ("Lavrov in Minsk\nMINSK, 2 December 2017 /TASS/. Russia calls for talks, Lavrov said.\n",
                  "MINSK, 2 December 2017 /TASS/.", "Russia calls for talks, Lavrov said."),
    "dash_year": ("Tokyo protests\n\nTOKYO, 3 September 2017 - Japan protested the test.\n",
                  "TOKYO, 3 September 2017 -", "Japan protested the test."),
    # a place and a date (it used to stay inside the first sentence, and its speaker with it)
    "place_and_date": ("Trump warns Pyongyang\n\nBEDMINSTER, N.J., Aug. 9, 2017 (Reuters) - Trump said the North "
                       "would be met with force.\n", "BEDMINSTER, N.J., Aug. 9, 2017 (Reuters) -",
                       "Trump said the North would be met with force."),
    # an agency of two words (it used to stay inside the first sentence)
    "ria": ("Moscow urges calm\nMOSCOW, Nov. 29 (RIA Novosti) - Russia urged restraint on Wednesday.\n",
            "MOSCOW, Nov. 29 (RIA Novosti) -", "Russia urged restraint on Wednesday."),
    "china_daily": ("Beijing urges talks\nBEIJING, Nov. 29 (China Daily) - China said talks must resume.\n",
                    "BEIJING, Nov. 29 (China Daily) -", "China said talks must resume."),
}


def test_a_date_and_dash_in_an_ordinary_first_sentence_is_not_a_dateline():
    """Only the wire's capitals make "CITY, date -" a dateline without an agency, and a caption's "(center) -" is
    no agency; dpa writes itself in lower case."""
    units = segment_article("Headline\n\nIn Seoul, 3 September 2017 - a day to remember - crowds gathered.\n", "x")
    assert [u.kind for u in units] == ["title", "sentence"]
    for caption in ("Mr. Abe, St. Petersburg, Nov. 9 (center) - met Putin on Thursday.",
                    "Mr. Abe, St. Petersburg, Nov. 9 (Center) - met Putin on Thursday.",
                    "Abe, Tokyo, Nov. 9 (L) - met Putin on Thursday.",
                    "Abe, Tokyo, Nov. 9 (L-R) - met Putin on Thursday.",
                    "Abe, Tokyo, Nov. 9 (File Photo) - met Putin on Thursday.",
                    "Abe, Tokyo, Nov. 9 (CENTER) - met Putin on Thursday."):
        assert [u.kind for u in segment_article(f"Headline\n\n{caption}\n", "y")] == ["title", "sentence"], caption
    for agency in ("dpa", "dpa-AFX"):
        units = segment_article(f"Headline\n\nBERLIN, Nov. 9 ({agency}) - Germany urged talks.\n", "z")
        assert [(u.kind, u.text) for u in units][1:] == [("dateline", f"BERLIN, Nov. 9 ({agency}) -"),
                                                         ("sentence", "Germany urged talks.")]


@pytest.mark.parametrize("fmt", sorted(WIRE))
def test_wire_formats_give_the_dateline_its_own_unit_and_skip_credit_lines(fmt):
    text, dateline, first = WIRE[fmt]
    units = segment_article(text, fmt)
    kinds = [u.kind for u in units]
    assert kinds[0] == "title" and "dateline" in kinds
    d = kinds.index("dateline")
    assert units[d].text == dateline and units[d + 1].text == first and units[d + 1].kind == "sentence"
    texts = " ".join(u.text for u in units)
    for furniture in ("Reporting by", "Editing by", "By MARI", "Enditem", "(END)", "==Kyodo"):
        assert furniture not in texts
    assert not any(u.kind in ("subtitle", "subheading") and u.text.startswith("By ") for u in units)


def test_a_dateline_on_a_line_of_its_own_is_a_dateline_after_a_headline_or_a_standfirst():
    """The specification makes a dateline its own unit in every format; on a line of its own it was read as the
    subtitle (after the headline) or a subheading (after a standfirst), and the article lost its date (a README
    audit, 2026-12-07)."""
    for lines in (["Seoul to send envoys"], ["Seoul to send envoys", "A first step before the Games"]):
        for dateline in ("SEOUL, March 5, 2018 (Yonhap) --", "Pyongyang, March 6 (KCNA) --", "MOSCOW, March 5. /TASS/."):
            units = segment_article("\n".join([*lines, dateline, "Seoul said it would send envoys."]) + "\n", "d")
            assert [(u.kind, u.text) for u in units][len(lines):] == [
                ("dateline", dateline), ("sentence", "Seoul said it would send envoys.")], (lines, dateline)
    # a second dateline-like line after the body began is body text, as before
    units = segment_article("Title\nSeoul said it.\nSEOUL, March 5, 2018 (Yonhap) --\n", "d")
    assert "dateline" not in [u.kind for u in units]


def test_a_quote_after_a_quoted_sentence_is_its_own_unit():
    units = segment_article('Title\nMoon said Pyongyang "should stop." "It must be pressed hard," he said.\n', "q")
    assert [u.text for u in units][1:] == ['Moon said Pyongyang "should stop."', '"It must be pressed hard," he said.']


# Wire furniture after the last sentence of a paragraph, or on a line of its own: stripped, the sentence kept.
FURNITURE = {
    "reuters_credits": "(Reporting by Ana Lee; Additional reporting by Bo Kim in Tokyo; Editing by Tom Ray)",
    "reuters_writing": "Writing by Jo Park; Editing by Lin Feast & Sam Cole-Moore",
    "xinhua_enditem": "Enditem",
    "yonhap_end": "(END)",
    "ap_contributed": "Associated Press writer Mia Sato in Tokyo contributed to this report.",
    "ap_byline": "By KIM SU-JIN, Associated Press",
    "afp_slug": "burs-jta/kms",
}
LAST = "The ministry called the exercise a routine one."
PLAIN = ("Drills resume near the border\nSEOUL, Nov. 29 (Yonhap) -- The army moved two brigades on Tuesday.\n"
         "Troop rotation\nOfficers gave no reason for the move. {last}\n")


def _shape(text: str) -> list[tuple]:
    return [(u.kind, u.section, u.paragraph, u.text) for u in segment_article(text, "wire")]


@pytest.mark.parametrize("same_line", [True, False], ids=["same_line", "own_line"])
@pytest.mark.parametrize("form", sorted(FURNITURE))
def test_wire_furniture_is_stripped_and_the_last_sentence_kept(form, same_line):
    furniture = FURNITURE[form]
    text = PLAIN.format(last=f"{LAST} {furniture}" if same_line else f"{LAST}\n{furniture}")
    units = segment_article(text, "wire")
    assert _shape(text) == _shape(PLAIN.format(last=LAST))  # same units, kinds, sections and paragraphs
    assert (units[-1].kind, units[-1].section, units[-1].text) == ("sentence", 1, LAST)
    assert [u.kind for u in units].count("subheading") == 1
    assert not any(furniture in u.text or u.text in furniture for u in units)


def test_furniture_after_a_quote_and_several_marks_in_a_row():
    assert strip_furniture('"We will not talk," he said. (Reporting by Ana Lee) (END)') == '"We will not talk," he said.'
    assert strip_furniture("It has been held every year since 2006.Enditem") == "It has been held every year since 2006."


@pytest.mark.parametrize("line", [
    "Talks stalled in the spring. By then nobody answered",  # a clause, not a byline: no capitalised names
    "Seoul said it stood by its reporting.",
    "Writing by hand, the envoy sent a letter to Pyongyang.",
    "MINSK, December 2. /TASS/.",
])
def test_text_that_only_looks_like_furniture_is_kept(line):
    assert strip_furniture(line) == line


TRICKY = ["Mr.", "U.S.", "No.", "Gen.", "e.g.", "3.5", "Jan.", "(see above.)", '"Go."', "Sgt.", "Inc.", "a.m.", "St.",
          "Yahoo!", "?!", "...", "'quoted.'", "Co.", "Jr.", "vs.", "A.", "I.", "ii.", "1.", "a)", "Korea.", "it.", "OK.",
          '"a provocation"', "“never”", "«no»", "'so'", "‘yes’", '"Go?"', "(END)", "[sic]", "Korea)", "“We refuse,”",
          "Pyongyang's", "allies'", "—", ":", ";", "!", "?", "in 2017.", "Sept. 3", "…"]


def _paragraphs() -> list[str]:
    """Paragraphs of the project's real-news articles and synthetic sentences, and variants with pieces that pysbd
    treats specially (abbreviations, initials, numbers, quotes, brackets, exclamation words) put in at random."""
    import random

    from helpers import LABELS, ROOT

    from kpstance.weak.scheme import load_scheme
    from kpstance.weak.synthetic import Generator

    texts = [*(ROOT / "data" / "multisource" / "articles").glob("*.txt"), ROOT / "data" / "raw" / "tass-2017-11-24-lavrov.txt"]
    paras = {ln.strip() for f in texts for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()}
    pool = [e.text for e in Generator(ROOT / "configs" / "synthetic" / "korean_peninsula.yaml",
                                      load_scheme(LABELS)).generate(600, 0)]
    rnd = random.Random(0)
    paras |= {" ".join(rnd.sample(pool, rnd.randint(1, 3))) for _ in range(1500)}
    base = sorted(paras)
    for _ in range(4000):
        words = rnd.choice(base).split(" ")
        for _ in range(rnd.randint(1, 3)):
            words.insert(rnd.randrange(len(words) + 1), rnd.choice(TRICKY))
        paras.add(" ".join(words))
    return sorted(paras)


def test_the_shortcut_gives_pysbds_answer_and_the_larger_regex_cache_changes_nothing():
    """The plain-paragraph shortcut must split exactly as pysbd would, and pysbd with the larger regex cache exactly
    as stock pysbd does (run in a fresh interpreter that never imports kpstance)."""
    import json
    import subprocess
    import sys

    from kpstance.text.segment import _plain_split, _segmenter

    paras = _paragraphs()
    code = ("import json, sys, pysbd; s = pysbd.Segmenter(language='en', clean=False, char_span=False); "
            "print(json.dumps([s.segment(p) for p in json.load(sys.stdin)]))")
    stock = json.loads(subprocess.run([sys.executable, "-c", code], input=json.dumps(paras), capture_output=True,
                                      text=True, check=True).stdout)
    seg = _segmenter("en")
    assert [seg.segment(p) for p in paras] == stock
    taken = 0
    for p, ref in zip(paras, stock):
        plain = _plain_split(p)
        if plain is not None:
            taken += 1
            assert [s.strip() for s in plain if s.strip()] == [s.strip() for s in ref if s.strip()], p
    assert taken >= len(paras) // 10, f"the shortcut took only {taken} of {len(paras)} paragraphs"


@pytest.mark.parametrize("text, expected", [
    ("He met Kim. They talked for an hour! Was it enough? Nobody knows.",
     ["He met Kim.", "They talked for an hour!", "Was it enough?", "Nobody knows."]),
    ("No stop at all here", ["No stop at all here"]),
    ("Mr. Kim met him. He left.", None),  # an abbreviation: pysbd decides
    ("Officials in Yahoo! North Korea said so.", None),  # one of pysbd's exclamation words
    ('"A provocation" After talks, he left.', None),  # a quote: pysbd may split after it
    ("(END) Washington.", None),  # brackets
    ("It began in 2017. Then it ended.", None),  # a number before the stop
    ("The U.S. Army left. It came back.", None),  # initials
    ("He met Kim. they talked.", None),  # a lower-case word after the stop
])
def test_the_shortcut_takes_only_plain_paragraphs(text, expected):
    from kpstance.text.segment import _plain_split

    got = _plain_split(text)
    assert (got if got is None else [s.strip() for s in got]) == expected
