"""The segmenter on the article's tricky lines."""

from __future__ import annotations

from helpers import ARTICLE_ID

from kpstance.text.segment import segment_article, split_sentences


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

