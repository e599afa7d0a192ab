"""Split a news article into labelled units: title, subtitle, dateline, subheadings, sentences.

Each unit keeps a stable id (``<article id>-<index>``) and the section it belongs to
(sections start at subheadings), so that cross-validation can hold out whole sections.
Quotes that run over several sentences are tracked: every sentence inside a quote knows
the attribution clause that the article eventually gives for it ("he said"), even when
that clause only comes sentences later.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache

TERMINAL = ('.', '!', '?', '"', '”', '»', '…', ':', ';')
OPEN_QUOTES = '"“«'
CLOSE_QUOTES = '"”»'
# Datelines of the wire formats, each its own unit (the sentence after it is a unit without it):
# "MOSCOW, November 24. /TASS/.", "SEOUL (Reuters) -", "SEOUL, South Korea (AP) —",
# "BEIJING, Nov. 29 (Xinhua) --", "SEOUL, Nov. 29 (Yonhap) --", "Pyongyang, November 29 (KCNA) --",
# "MOSCOW, Nov. 29 (RIA Novosti) -", and Kyodo's
# bare agency after a date: "TOKYO, June 22 Kyodo -"; any of them with a year ("SEOUL, Nov. 29, 2017 (Yonhap) --",
# "MOSCOW, 24 November 2017 /TASS/."), and a date with a year and a dash alone: "TOKYO, 3 September 2017 -".
_CITY = r"[A-Z][A-Za-z.'\-]*(?:\s+[A-Z][A-Za-z.'\-]*){0,3}"
_MONTH_DAY = r"[A-Z][a-z]+\.?\s+\d{1,2}"
_DAY_MONTH = r"\d{1,2}\s+[A-Z][a-z]+\.?"
_WITH_YEAR = rf"(?:{_MONTH_DAY},\s+\d{{4}}|{_DAY_MONTH}\s+\d{{4}})"
# a place ("South Korea", "N.J."), a date, or both: "BEDMINSTER, N.J., Aug. 9, 2017 (Reuters) -"
_WHERE_WHEN = (r"(?:,\s+[A-Z][A-Za-z.]+(?:\s+[A-Z][A-Za-z]+)?)?"
               rf"(?:,\s+(?:{_WITH_YEAR}|{_MONTH_DAY}|{_DAY_MONTH})\.?)?")
# an agency of up to three capitalised words, "(Yonhap)", "(RIA Novosti)", "(China Daily)", or dpa's lower case
# ("(dpa)", "(dpa-AFX)"); a caption's place in a picture, "(center) -", "(L-R) -", "(Top Left) -", "(File Photo) -",
# in any case, is no agency
_PLACE = r"cent(?:er|re)|left|right|top|bottom|front|back|middle|l|r|c|l-r|r-l|file|photo|row"
_CAPTION = rf"(?i:(?:{_PLACE})(?:[\s,]+(?:{_PLACE}))*\))"
# the agency's name is a named group, so the outlet is read from the same pattern (``dateline_agency``)
_AGENCY = (r"(?:/(?P<slashed>[A-Za-z\-]+)/\.?|\((?!" + _CAPTION
           + r")(?P<bracketed>dpa(?:-[A-Z]+)?|[A-Z][A-Za-z\-]*(?:\s+[A-Z][A-Za-z\-]*){0,2})\)\s*[-—–]{1,2})")
_DATED_BARE_AGENCY = rf",\s+(?:{_WITH_YEAR}|{_MONTH_DAY})\s+(?P<bare>[A-Z][A-Za-z]+)\s+[-—–]{{1,2}}"
_CAPS_CITY = r"[A-Z][A-Z.'\-]+(?:\s+[A-Z][A-Z.'\-]+){0,3}"  # a dash alone needs the wire's capitals: "TOKYO"
_DATED_DASH = rf",\s+{_WITH_YEAR}\.?\s+[-—–]{{1,2}}"
DATELINE_RE = re.compile(
    rf"^(?P<dateline>{_CITY}(?:{_WHERE_WHEN}\s*{_AGENCY}|{_DATED_BARE_AGENCY})|{_CAPS_CITY}{_DATED_DASH})\s*")


def dateline_agency(dateline: str) -> str | None:
    """The news agency a dateline unit names ("SEOUL (Reuters) -": Reuters; "MOSCOW, November 24. /TASS/.": TASS;
    "TOKYO, June 22 Kyodo -": Kyodo), or None."""
    m = DATELINE_RE.match(dateline.strip())
    return next((g for g in (m.group("slashed", "bracketed", "bare") if m else ()) if g), None)


# Wire-copy furniture: bylines, credit lines, end marks and site furniture. Never units, whether on a line
# of their own (the line is skipped) or after the last sentence of a paragraph (stripped, the sentence kept).
_NAME = r"[A-Z][\w.'\-]*"
_NAMES = rf"{_NAME}(?:(?:\s+|\s*[,&]\s*)(?:and|in|at|the|of|de|van|von|{_NAME}))*"
_CREDIT_BY = r"(?:(?:Additional\s+)?[Rr]eporting|Writing|Editing|Compiled|Graphics)\s+by"
_CREDIT = rf"{_CREDIT_BY}\s+"
_END_MARK = r"\(?Enditem\)?\.?|\(END\)|==\s?[A-Z][A-Za-z]+"  # Xinhua, Yonhap, Kyodo ("==Kyodo")
_PAREN_CREDITS = rf"\({_CREDIT}[^()]*\)"  # Reuters: "(Reporting by X; Editing by Y)"
_AP_CONTRIBUTED = (r"(?:The\s+)?Associated\s+Press\s+(?:writers?|reporters?|journalists?)\s+.+?\s+contributed"
                   r"(?:\s+to\s+this\s+(?:report|story))?\.")
_AFP_SLUG = r"[a-z]{2,4}(?:[-/][a-z]{2,4})*/[a-z]{2,4}"  # AFP's desk initials: "burs-jta/kms"
FURNITURE_RE = re.compile(
    r"^(?:By\s+[A-Z][\w.'\-]*(?:\s+[\w.'\-]+){0,4}(?:\s*(?:,|and)\s+[A-Z][\w.'\-]*(?:\s+[\w.'\-]+){0,4})*"
    rf"|\(?{_CREDIT_BY}\b.*|{_END_MARK}|END|{_AP_CONTRIBUTED}|{_AFP_SLUG}|Read more\b.*|Related:.*)\s*$"
)
# The same furniture after a sentence's final stop; credits and bylines only with capitalised names, so that
# a sentence that merely starts with "By" or "Writing by" is never taken for one.
TRAILING_FURNITURE_RE = re.compile(
    rf"(?<=[.!?\"”»…])(?:\s*(?:{_END_MARK}|{_PAREN_CREDITS}|{_CREDIT}{_NAMES}(?:\s*;\s*{_CREDIT}{_NAMES})*"
    rf"|By\s+{_NAMES}|{_AP_CONTRIBUTED}|{_AFP_SLUG}))+\s*$"
)
# The kinds of unit the segmenter produces (a JSON Lines line may name one in its "kind" field).
KINDS = ("title", "subtitle", "dateline", "subheading", "sentence")
# the units that carry the news, which a summary counts and whose dates predict checks (titles, datelines and
# headings are left out); a unit without a kind (a bare JSON Lines sentence) counts as one
NEWS_KINDS = frozenset({"sentence"})


def is_news(kind: str | None) -> bool:
    """Whether a unit of this kind carries the news (``NEWS_KINDS``); a unit without a kind is a sentence."""
    return (kind or "sentence") in NEWS_KINDS

MAX_HEADING_WORDS = 16
INNER_BOUNDARY_RE = re.compile(r"\b(?P<word>[A-Za-z][a-z]+)(?P<stop>[.!?])\s+(?=[A-Z][a-z]*\b)")
ABBREVIATIONS = {"gen", "sen", "rep", "gov", "col", "lt", "mr", "mrs", "ms", "dr", "st", "prof", "jan", "feb",
                 "aug", "sept", "sep", "oct", "nov", "dec", "no", "vs", "etc", "inc", "corp", "adm", "capt"}
SPLIT_RE = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])|(?<=[a-z]{2}[.!?])\s+(?=[\"“«][A-Z])"
                      r"|(?<=[a-z]{2}[.!?][\"”»])\s+(?=[\"“«][A-Z])")


@dataclass
class Unit:
    """One labelled unit of an article."""

    id: str
    article_id: str
    index: int
    section: int
    kind: str  # title | subtitle | dateline | subheading | sentence
    text: str
    paragraph: int = -1
    in_quote: bool = False  # the sentence is (part of) a direct quote
    quote_opens: bool = False  # the quote continues into a later sentence
    quote_attribution: str | None = None  # attribution clause of the quote this sentence belongs to
    extra: dict = field(default_factory=dict)

    @classmethod
    def of_text(cls, text: str, uid: str, article_id: str = "", kind: str = "sentence", section: int = 0) -> Unit:
        """A unit with no article around it: a synthetic, silver or JSON Lines sentence."""
        return cls(id=uid, article_id=article_id or uid, index=0, section=section, kind=kind, text=text)

    @property
    def speaker(self) -> str | None:
        """The attribution the article carried to this unit (a quote's 'he said', 'Lavrov said'), if any."""
        return self.quote_attribution

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        d.update(self.extra)
        return d


class _CachedRe:
    """``re`` as pysbd's modules see it, with a compile cache that holds all their patterns.

    pysbd formats a regex per abbreviation and call, several hundred in all, more than the 512 that ``re`` caches,
    so with the plain module it recompiled most of them on every paragraph (60 % of its time). Same patterns, same
    matches: only the cache is larger.
    """

    def __getattr__(self, name: str):  # noqa: ANN204 (whatever ``re`` holds)
        return getattr(re, name)

    @staticmethod
    @lru_cache(maxsize=8192)
    def compile(pattern, flags=0) -> re.Pattern:  # noqa: ANN001 (as re.compile)
        return re.compile(pattern, flags)

    def sub(self, pattern, repl, string, count=0, flags=0):  # noqa: ANN001, ANN201
        return self.compile(pattern, flags).sub(repl, string, count)

    def subn(self, pattern, repl, string, count=0, flags=0):  # noqa: ANN001, ANN201
        return self.compile(pattern, flags).subn(repl, string, count)

    def findall(self, pattern, string, flags=0):  # noqa: ANN001, ANN201
        return self.compile(pattern, flags).findall(string)

    def finditer(self, pattern, string, flags=0):  # noqa: ANN001, ANN201
        return self.compile(pattern, flags).finditer(string)

    def search(self, pattern, string, flags=0):  # noqa: ANN001, ANN201
        return self.compile(pattern, flags).search(string)

    def match(self, pattern, string, flags=0):  # noqa: ANN001, ANN201
        return self.compile(pattern, flags).match(string)

    def fullmatch(self, pattern, string, flags=0):  # noqa: ANN001, ANN201
        return self.compile(pattern, flags).fullmatch(string)

    def split(self, pattern, string, maxsplit=0, flags=0):  # noqa: ANN001, ANN201
        return self.compile(pattern, flags).split(string, maxsplit)


@lru_cache(maxsize=4)
def _segmenter(language: str = "en"):
    import sys

    import pysbd

    cached = _CachedRe()
    for name, module in list(sys.modules.items()):
        if (name == "pysbd" or name.startswith("pysbd.")) and getattr(module, "re", None) is re:
            module.re = cached
    return pysbd.Segmenter(language=language, clean=False, char_span=False)


# pysbd spends about 0.2-0.4 ms a sentence, most of it testing ~190 abbreviations with regexes built per call: on a
# large corpus that was a fifth of int8's time per unit. Most news paragraphs give it nothing to decide: every
# '.', '!' or '?' closes a word of 2+ letters that is no abbreviation and is followed by a space and a capital (or
# ends the paragraph), with no quote, bracket or ellipsis that pysbd would protect. There its answer is the split at
# those stops, computed directly; any other paragraph goes to pysbd. ``tests/test_segment.py`` checks the two agree
# on every paragraph of the project's corpora and on variants written to break the shortcut.
_CLEAN_STOP_RE = re.compile(r"(?<!\S)([A-Za-z]{2,})[.!?](?:\s+(?=[A-Z])|\s*$)")
_PROTECTED_RE = re.compile(r"[\"“”«»‘’()\[\]{}…\n\r\t\x0b\x0c]|(?<!\S)'")


@lru_cache(maxsize=1)
def _abbreviations() -> frozenset[str]:
    """The words after which pysbd does not end a sentence: its abbreviations and exclamation words ('Yahoo!')."""
    from pysbd.exclamation_words import ExclamationWords
    from pysbd.lang.english import English

    words = [*English.Abbreviation.ABBREVIATIONS, *(w.rstrip("!") for w in ExclamationWords.EXCLAMATION_WORDS)]
    return frozenset(w.strip().lower() for w in words) | ABBREVIATIONS


def _plain_split(text: str) -> list[str] | None:
    """pysbd's answer for an English paragraph with nothing for it to decide, else None (see above)."""
    if _PROTECTED_RE.search(text):
        return None
    stops = text.count(".") + text.count("!") + text.count("?")
    if not stops:
        return [text]
    abbreviations = _abbreviations()
    cuts = [m.end() for m in _CLEAN_STOP_RE.finditer(text) if m.group(1).lower() not in abbreviations]
    if len(cuts) != stops:
        return None
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)]) if a < b]


def split_sentences(paragraph: str, language: str = "en") -> list[str]:
    """Split one paragraph into sentences with pysbd, then repair quote-related splits."""
    text = paragraph.strip()
    if not text:
        return []
    plain = _plain_split(text) if language == "en" else None
    parts = [p.strip() for p in (plain if plain is not None else _segmenter(language).segment(text)) if p.strip()]
    # pysbd splits after a sentence-final period inside quotes even when the quote's
    # attribution follows ('... this," he said.'); it also sometimes leaves a lone
    # closing quote. Merge fragments that cannot stand alone.
    merged: list[str] = []
    for p in parts:
        if merged and (p[0] in CLOSE_QUOTES and len(p) <= 2 or p[0].islower() or p[0] in ",;)"):
            merged[-1] = f"{merged[-1]} {p}" if p[0] not in CLOSE_QUOTES + ",;)" else merged[-1] + p
        else:
            merged.append(p)
    # Split at a period glued to the next sentence ("ruled out.The next") and before a new
    # quote that opens after a full stop ('Peninsula. "President'), both of which pysbd keeps.
    out: list[str] = []
    for p in merged:
        out.extend(s.strip() for s in SPLIT_RE.split(p) if s.strip())
    return _split_inside_quotes(out) if any(q in text for q in OPEN_QUOTES) else out


def _split_inside_quotes(sentences: list[str]) -> list[str]:
    """pysbd keeps a quote of several sentences together; split it at full stops.

    A boundary is a lower-case word of 2+ letters (not an abbreviation such as "Gen."),
    a full stop and a capitalised word.
    """
    out: list[str] = []
    for s in sentences:
        start = 0
        for m in INNER_BOUNDARY_RE.finditer(s):
            if m.group("word").lower() in ABBREVIATIONS:
                continue
            out.append(s[start : m.end("stop")].strip())
            start = m.end()
        out.append(s[start:].strip())
    return [s for s in out if s]


def strip_furniture(line: str) -> str:
    """The line without the wire furniture that follows its last sentence ("... a warning. (END)" -> "... a warning.").

    Left in place, an end mark or credit makes the line unterminated, so it would be read as a subheading.
    """
    m = TRAILING_FURNITURE_RE.search(line)
    return line[: m.start()].rstrip() if m else line


def _is_heading(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.endswith(TERMINAL) and len(s.split()) <= MAX_HEADING_WORDS


def first_close(text: str) -> int:
    """Where the quote a text starts in closes: the first closing quote after its first character (-1: none)."""
    return next((i for i, ch in enumerate(text) if i and ch in CLOSE_QUOTES), -1)


def trailing_attribution(sentence: str, quoted_start: bool = False) -> str | None:
    """Return the attribution clause after a closing quote, if any ('he said'). A sentence that starts inside a quote
    is attributed right after that quote closes, up to the next comma: in '"We hope ...," he said, also urging
    "others" to act' the clause is 'he said', not what follows the last quote. Else: after the last closing quote."""
    if quoted_start:
        close = first_close(sentence)
        head = sentence[close + 1 :].split(",", 1)[0].strip().rstrip(".!?").strip() if close > 0 else ""
        if head and len(head.split()) <= 12:
            return head
    idx = max(sentence.rfind(q) for q in CLOSE_QUOTES)
    if idx <= 0:
        return None
    tail = sentence[idx + 1 :].strip().rstrip(".!?").strip()
    if not tail or len(tail.split()) > 12:
        return None
    return tail


def _annotate_quotes(units: list[Unit]) -> None:
    """Mark quote membership and give every quoted sentence the attribution of its quote.

    A quote opened in one sentence and closed in a later one makes a "quote run"; the
    attribution clause that follows the closing quote belongs to every sentence of the run.
    A quote with no attribution of its own that directly follows an attributed quote in the
    same paragraph continues that speaker (quote_continuation).
    """
    run: list[Unit] = []
    open_quote = False
    paragraph = -1
    last_attr: dict[int, str] = {}  # paragraph -> last attribution seen
    for u in units:
        if u.kind != "sentence":
            open_quote, run = False, []
            continue
        starts_in_quote = open_quote
        has_quote = any(q in u.text for q in OPEN_QUOTES + CLOSE_QUOTES)
        if u.paragraph != paragraph:
            open_quote, run, paragraph = False, [], u.paragraph
            starts_in_quote = False
        for i, ch in enumerate(u.text):
            if ch == '"':
                # A straight quote that starts a sentence always opens one: this repairs
                # articles with an unbalanced quote earlier in the paragraph.
                open_quote = True if i == 0 else not open_quote
            elif ch in "“«":
                open_quote = True
            elif ch in "”»":
                open_quote = False
        if starts_in_quote or has_quote:
            u.in_quote = True
            run.append(u)
        if open_quote:
            u.quote_opens = True
            continue
        attr = trailing_attribution(u.text, starts_in_quote or u.text[:1] in OPEN_QUOTES) if u.in_quote else None
        if attr:
            for r in run:
                r.quote_attribution = attr
            last_attr[u.paragraph] = attr
        elif u.in_quote and u.paragraph in last_attr:
            for r in run:
                r.quote_attribution = r.quote_attribution or last_attr[u.paragraph]
                r.extra.setdefault("quote_continuation", True)
        run = []


def segment_article(text: str, article_id: str, language: str = "en", with_headings: bool = True,
                    title_first: bool = False) -> list[Unit]:
    """Segment an article given as plain text, one paragraph per line.

    With ``with_headings`` an unterminated first line is the title, an unterminated line
    right after it the subtitle (of any length), and later short unterminated lines are
    subheadings that open sections. With ``title_first`` the first line is the title whatever its punctuation
    ("Will sanctions work?"): a table's title column says so.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = [ln.strip() for ln in text.split("\n")]
    units: list[Unit] = []
    section = 0
    paragraph = 0
    seen_body = False
    dateline_done = False

    def add(kind: str, s: str) -> None:
        units.append(
            Unit(
                id=f"{article_id}-{len(units):03d}",
                article_id=article_id,
                index=len(units),
                section=section,
                kind=kind,
                text=s,
                paragraph=paragraph,
            )
        )

    for line in lines:
        if not line or FURNITURE_RE.match(line):
            continue
        line = strip_furniture(line)
        paragraph += 1
        unterminated = not line.endswith(TERMINAL)
        if with_headings and not units and (unterminated or title_first):
            add("title", line)
            continue
        m = None if dateline_done else DATELINE_RE.match(line)
        if m and not seen_body and not line[m.end() :].strip():  # on a line of its own, after a headline or standfirst
            add("dateline", m.group("dateline").strip())
            dateline_done = True
            continue
        if with_headings and unterminated and len(units) == 1 and units[0].kind == "title":
            add("subtitle", line)  # a standfirst may be long; it is the line right after the title
            continue
        if with_headings and _is_heading(line):
            if seen_body:
                section += 1
            add("subheading", line)
            continue
        if m:
            add("dateline", m.group("dateline").strip())
            line = line[m.end() :]
            dateline_done = True
        seen_body = True
        before = len(units)
        for s in split_sentences(line, language):
            add("sentence", s)
        if len(units) == before and line.strip():
            add("sentence", line.strip())  # never drop text the splitter could not handle
    _annotate_quotes(units)
    return units
