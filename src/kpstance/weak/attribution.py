"""Who a unit's words belong to: parse its attribution clause once, from the scheme's word lists.

``Rules`` compiles the scheme's language lists (speech verbs, "according to", pronouns,
adverbial openers, passive auxiliaries, ...) into regexes; ``parse`` reads one unit's
trailing attribution ('..., Lavrov said.'), leading attribution ('Moscow believes ...'),
headline dash ('... — Lavrov') and the content left without them, once per unit, so
the actor and stance functions share one parse instead of re-parsing the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..text.segment import CLOSE_QUOTES, OPEN_QUOTES, Unit, first_close
from .aliases import matcher_for, word_regex
from .scheme import LabelScheme

HEADING_KINDS = ("title", "subtitle", "subheading")
# The passive auxiliaries of the past (English), until the label scheme lists them (grammar.past_auxiliaries).
PAST_AUXILIARIES = ("was", "were", "had been")
DASH_ATTRIBUTION_RE = re.compile(r"\s[—–-]{1,2}\s*(?P<src>[^—–-]{2,60})$")


NEVER = re.compile(r"(?!x)x")  # an optional word list left empty matches nothing


def _alternation(words: tuple[str, ...] | list[str]) -> str:
    """Escaped alternatives in the order given (the order matters where one alternative prefixes another)."""
    return "|".join(re.escape(w) for w in words)


def _as_written_or_capitalised(words: tuple[str, ...] | list[str]) -> list[str]:
    """Each word as the label file writes it and with its first letter in capitals ('its', 'Its'), for words that
    must not match in capitals: a case-blind match reads the abbreviation "US" as the pronoun "us"."""
    return list(dict.fromkeys(v for w in words for v in (w, w[:1].upper() + w[1:])))


class Rules:
    """The compiled rules of one label scheme."""

    def __init__(self, scheme: LabelScheme) -> None:
        self.scheme = scheme
        self.matcher = matcher_for(scheme)
        att, gram, sit = scheme.attribution, scheme.grammar, scheme.situation
        self.verb_re = word_regex(att["speech_verbs"])
        particles = att.get("verb_particles", ())
        if particles:  # 'called off the summit' is a step, not speech
            self.verb_re = re.compile(rf"{self.verb_re.pattern}(?!\s+(?:{_alternation(particles)})\b)")
        self.according_re = word_regex(att["according_to"], re.IGNORECASE)
        self.pronoun_re = word_regex(att["pronouns"])
        self.adjunct_starters = {w.lower() for w in att["adjunct_starters"]}
        self.intro_re = re.compile(
            rf"^(?:(?:(?:{_alternation(att['intro_words'])})\b[^,]{{0,60}}"
            rf"|(?!(?i:{_alternation(att['according_to'])})\b)[A-Z][a-z]+(?:{_alternation(att['participle_endings'])})\b"
            rf"[^,]{{0,120}}),\s*)+")
        self.filler_re = re.compile(rf"\b(?:{_alternation(att['source_fillers'])})\b")
        self.copulas = {w.lower() for w in att["copulas"]}
        self.determiners = {w.lower() for w in att.get("determiners", ())}
        self.passive_by_re = re.compile(
            rf"\b(?:{_alternation(gram['passive_auxiliaries'])})\s+\w+(?:{_alternation(gram['participle_endings'])})\b"
            rf"[^.]{{0,60}}?\b{re.escape(scheme.agent_marker)}\s+"
        )
        self.target_words = {w.lower() for w in gram["target_words"]}
        self.complement_re = re.compile(rf"\s+(?:{_alternation(gram['object_complement'])})\s")
        self.first_person_re = re.compile(rf"\b(?:{_alternation(gram['first_person'])})\b")
        self.clause_split_re = re.compile(rf"[,;:]|\b(?:{_alternation(gram['clause_openers'])})\b")
        self.relative_re = re.compile(rf"\b(?:{_alternation(gram['clause_openers'])})\b")
        # words that join two steps ('halt its provocations and resume talks'): neither governs the other
        coord = gram.get("coordinators", ())
        self.coordination_re = (re.compile(rf"\b(?:{_alternation(coord)})\b", re.IGNORECASE) if coord
                                else NEVER)
        # a step reported in the past passive with no agent: 'a new list of sanctions ... was published' (a present
        # passive may be a call: 'sanctions are needed')
        past = gram.get("past_auxiliaries") or PAST_AUXILIARIES
        self.passive_fact_re = re.compile(
            rf"^[^,;:.]{{0,60}}?\b(?:{_alternation(past)})\s+\w+"
            rf"(?:{_alternation(gram['participle_endings'])})\b(?!\s+{re.escape(scheme.agent_marker)}\b)")
        # ... or the step is the participle itself: 'guard posts had been demolished', 'sanctions were lifted'
        self.passive_aux_re = re.compile(rf"\b(?:{_alternation(past)})(?:\s+\w+ly)?\s*$")
        # the owner named right after a step: 'the drills (of the US ...)', 'the sanctions by the council'
        self.owner_after_re = re.compile(rf"^\s*\(?\s*(?:of|{re.escape(scheme.agent_marker)})\s+(?:the\s+)?")
        self.coreference_re = re.compile(
            rf"^(?:{_alternation(gram['coreference_determiners'])})\s+(?:{_alternation(gram['coreference_nouns'])})\b")
        self.situation_re = re.compile(rf"^(?:{_alternation(sit['determiners'])})\s+(?:{_alternation(sit['nouns'])})\b")
        self.situation_heading_re = re.compile(rf"^(?:{_alternation(sit['headings'])})s?\b")
        self.background_re = re.compile(
            rf"^(?:{_alternation(sit['background_openers'] + sit.get('dated_openers', ()))})\b")
        # a calendar date or month opening the sentence ('On September 3, Pyongyang announced ...'): recalled history
        # even where it reports what someone announced or told
        dated = sit.get("dated_openers", ())
        self.dated_re = re.compile(rf"^(?:{_alternation(dated)})\b") if dated else NEVER
        self.past_perfect_re = re.compile(
            rf"\b(?:{_alternation(sit['past_perfect'])})\s+(?:\w+\s+)?\w+(?:{_alternation(gram['participle_endings'])})\b")
        self.non_state_re = word_regex(scheme.non_state_sources, re.IGNORECASE)
        self.role_re = word_regex(scheme.official_nouns, re.IGNORECASE)
        self.cue_re = {g: word_regex(w, re.IGNORECASE) for g, w in scheme.cues.items() if w}
        self.negator_re = self.cue_re.get("negators")
        self.title_re = word_regex(scheme.titles, re.IGNORECASE) if scheme.titles else None
        self_ref = gram.get("self_reference", ())
        self.not_person = frozenset(gram.get("not_person_words", ()))
        # as written or capitalised, never in capitals: "US" names the United States, "us" is the speaker
        self.self_ref_re = word_regex(_as_written_or_capitalised(self_ref)) if self_ref else NEVER

    def strip_intro(self, text: str) -> str:
        """The text without sentence-opening adverbials ('On Monday, ...')."""
        return self.intro_re.sub("", text)

    def resolve_source(self, source: str, last_speaker: str | None, memory: dict[str, str] | None = None) -> str | None:
        """Map an attribution's source phrase to an actor; None if it names nobody we know.

        ``memory`` is the article's: surnames of people named in full before ("Kim" after "Kim Jong Un") and titles
        of the last person who held them ("the minister" after "Foreign Minister Taro Kono")."""
        src = source.strip()
        if self.unaffiliated(src):
            return self.scheme.none_actor
        ms = self.matcher.mentions(src)
        if ms:
            first = ms[0]
            if first.kind == "demonym" and first.role == "non_state":
                return self.scheme.none_actor
            states = [m for m in ms if m.kind == "alias" or m.role == "official"]
            if states:
                return states[0].actor
        if self.non_state_re.search(src):
            return self.scheme.none_actor
        remembered = self.remembered(src, memory or {})
        if remembered:
            return remembered
        words = src.split()
        if (self.pronoun_re.fullmatch(src) or (len(words) <= 4 and self.role_re.search(src))) and last_speaker:
            return last_speaker
        return None

    def unaffiliated(self, src: str) -> bool:
        """'Lee, a researcher at the Sejong Institute': a person described by a non-state affiliation and no office."""
        head, _, apposition = src.partition(",")
        return bool(apposition) and bool(self.non_state_re.search(apposition)) and not self.role_re.search(src) and (
            not self.matcher.actor_mentions(head))

    def remembered(self, src: str, memory: dict[str, str]) -> str | None:
        """A surname or a title the article introduced before, in the source phrase."""
        if not memory:
            return None
        for m in self.title_re.finditer(src) if self.title_re else ():
            t = m.group(0).lower()
            found = memory.get(f"title:{t}") or memory.get(f"title:{t.split()[-1]}")
            if found:
                return found
        for w in re.findall(r"[A-Z][\w'’-]+", src):
            found = memory.get(f"name:{w}")
            if found:
                return found
        return None

    def remember(self, text: str, memory: dict[str, str]) -> None:
        """Note the surnames and titles of the people a unit names in full, for the article's later units."""
        for m in self.matcher.actor_mentions(text):
            name = re.sub(r"['’]s?$", "", m.text)
            words = name.split()
            if (m.kind == "alias" and len(words) >= 2 and all(w[:1].isupper() for w in words)
                    and not any(w in self.not_person for w in words)):
                # a person: the surname is the first word in East Asian order ("Kim Jong Un", "Moon Jae-in",
                # "Wang Yi") and the last in Western order ("Rex Tillerson"); both are remembered
                memory[f"name:{words[0]}"] = memory[f"name:{words[-1]}"] = m.actor
            if self.title_re:
                before = text[max(0, m.start - 40) : m.start]
                titles = list(self.title_re.finditer(before))
                if titles and not before[titles[-1].end() :].strip(" ,'’s").count(" ") > 2:
                    t = titles[-1].group(0).lower()
                    memory[f"title:{t}"] = memory[f"title:{t.split()[-1]}"] = m.actor

    def trailing_attribution(self, text: str) -> tuple[str, str] | None:
        """The source and clause of '..., X said.' / '...," he said.' / '..., according to X.'"""
        body = text.rstrip().rstrip(".!?").rstrip()
        cut = max(body.rfind(","), max(body.rfind(q) for q in CLOSE_QUOTES))
        if cut <= 0:
            return None
        tail = body[cut + 1 :].strip().lstrip('"”»\'’ ').strip()
        if not tail:
            return None
        acc = self.according_re.match(tail)
        if acc:
            return tail[acc.end() :].strip(), tail
        v = self.verb_re.search(tail)
        if v and 0 < v.start() and len(tail[: v.start()].split()) <= 8:
            after = tail[v.end() :].split()
            # '... Lavrov said.' or '... Lavrov said following talks on Friday.', but not
            # '..., the Treasury announced sanctions against ...' (an object follows the verb).
            rest = re.sub(r"^the\s+", "", " ".join(after), flags=re.IGNORECASE)
            addressee = self.matcher.mentions(rest[:1].upper() + rest[1:])
            if not after or after[0].lower() in self.adjunct_starters or (
                    addressee and addressee[0].start == 0):  # 'X told the council'
                return tail[: v.start()].strip(), tail
        if v and v.start() == 0:  # inverted: '..., said Lavrov.'
            rest = tail[v.end() :].strip()
            # a speaker is named ('said Lavrov', 'said the minister'); '..., calls it an honor' names none
            if rest and len(rest.split()) <= 6 and (rest[0].isupper() or self.role_re.search(rest)):
                return rest, tail
        return None

    def reported_clause(self, clause: str) -> str:
        """What a trailing attribution reports after its verb ('..., Tillerson said American diplomats stood ready for
        talks'): the words after a saying verb that takes no addressee ('told the council' has none to report)."""
        v = self.verb_re.search(clause)
        if v is None or v.group(0).lower() in self.target_words:
            return ""
        after = clause[v.end() :].strip()
        words = after.split()
        return f" {after}" if words and words[0].lower() not in self.adjunct_starters else ""

    def leading_attribution(self, text: str) -> tuple[str, str] | None:
        """The source of 'According to X, ...' or 'X said/believes (that) ...' at the clause start."""
        body = self.strip_intro(text.lstrip('"“« '))
        acc = self.according_re.match(body)
        if acc:
            src = body[acc.end() :].split(",", 1)[0]
            return src.strip(), body[: acc.end() + len(src) + 1]
        v = self.verb_re.search(body)
        if not v:
            return None
        before = body[: v.start()]
        if any(c in before for c in ',;:"“”') or not before.strip() or len(before.split()) > 8:
            return None
        last = before.split()[-1].lower()
        if last in self.copulas or last in self.determiners:
            # passive: 'sanctions were announced by X' has X as agent, not as a speaker; an adjective: 'North Korea
            # raised an estimated $2 billion' names no speaker
            return None
        return self.filler_re.sub("", before).strip(), body[: v.end()]


@lru_cache(maxsize=8)
def rules_for(scheme: LabelScheme) -> Rules:
    """Compiled rules, cached: a corpus labels thousands of articles with one scheme."""
    return Rules(scheme)


@dataclass(frozen=True)
class Attribution:
    """One unit's attribution, parsed once: the clauses found and the content left without them."""

    trailing: tuple[str, str] | None  # (source phrase, clause) of '..., X said.'
    leading: tuple[str, str] | None  # (source phrase, clause) of 'X said ...' (sentences only)
    dash: str | None  # source phrase of a heading '... — X'
    content: str  # the unit minus its attribution clause, where the stance cues are
    quoted: int = 0  # how far the unit's opening words are quoted speech (``quoted_opening``)


def quoted_opening(unit: Unit) -> int:
    """How far a unit's opening words are quoted speech: the index of the quote that closes the quote it opens with,
    its length where that quote runs on or where the unit lies wholly inside a quote begun earlier, else 0."""
    text = unit.text
    if text[:1] in OPEN_QUOTES:
        close = first_close(text)
        return close if close > 0 else len(text)
    if unit.in_quote and not any(q in text for q in OPEN_QUOTES + CLOSE_QUOTES):
        return len(text)
    return 0


def _unquoted(found: tuple[str, str] | None, text: str, quoted: int) -> tuple[str, str] | None:
    """A leading attribution, unless its clause lies inside the quote the unit opens with: the '"We still hope ..."'
    of '"We still hope for diplomacy," he said' is the speaker's own words, not an attribution to "We still"."""
    if found is None or not quoted:
        return found
    at = text.find(found[1])
    return None if 0 <= at and at + len(found[1]) <= quoted else found


def parse(rules: Rules, unit: Unit) -> Attribution:
    """Parse a unit's attribution once; every labeling function reads this result."""
    text = unit.text
    trailing = rules.trailing_attribution(text)
    quoted = quoted_opening(unit)
    leading = _unquoted(rules.leading_attribution(text), text, quoted) if unit.kind == "sentence" else None
    dash_m = DASH_ATTRIBUTION_RE.search(text) if unit.kind in HEADING_KINDS else None
    content = text
    if trailing:
        content = content[: content.rfind(trailing[1])] + rules.reported_clause(trailing[1])
    lead = _unquoted(rules.leading_attribution(content), text, quoted) if unit.kind == "sentence" else None
    if lead:
        i = content.find(lead[1])
        if i >= 0:
            content = content[i + len(lead[1]) :]
    m = DASH_ATTRIBUTION_RE.search(content) if unit.kind in HEADING_KINDS else None
    if m:
        content = content[: m.start()]
    return Attribution(trailing, leading, dash_m.group("src") if dash_m else None, content, quoted)
