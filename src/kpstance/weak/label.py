"""Weak (silver) labels: named labeling functions that may abstain, and an aggregator.

Actor functions run first; the aggregated actor is then the context in which the stance
functions read the cues (criticising someone else's drills is conciliatory, running drills
is hardline). Every function returns a label or ``None`` (abstain), so the label matrix
can be analysed per rule: coverage, overlaps, conflicts and precision against gold.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..text.segment import CLOSE_QUOTES, OPEN_QUOTES, Unit
from .aliases import AliasMatcher, matcher_for, word_regex
from .scheme import LabelScheme

HEADING_KINDS = ("title", "subtitle", "subheading")
ADJUNCT_STARTERS = {"following", "after", "before", "on", "in", "at", "during", "earlier", "later", "last",
                    "this", "yesterday", "today", "adding", "noting", "recently", "again",
                    "repeatedly", "afterwards", "then", "once", "twice", "also", "too", "to", "from"}
# words after which a named party is a target, not the agent of what follows
PREPOSITIONS = {"against", "on", "with", "to", "over", "for", "from", "at", "toward", "towards", "into", "by",
                "between", "of", "about", "and", "urged", "urges", "asked", "asks", "pressed", "presses", "invited",
                "invites", "told", "tells", "persuade", "persuaded", "convince", "convinced"}
INTRO_RE = re.compile(r"^(?:(?:On|In|By|Since|After|Before|Over|During|Against|Besides|However|Meanwhile|Earlier|Later|Also|Still|Moreover|Then)\b[^,]{0,60},\s*)+")
DASH_ATTRIBUTION_RE = re.compile(r"\s[—–-]{1,2}\s*(?P<src>[^—–-]{2,60})$")
PASSIVE_BY_RE = re.compile(r"\b(?:was|were|is|are|been|being)\s+\w+(?:ed|en|wn)\b[^.]{0,60}?\bby\s+")


@dataclass
class Context:
    """What the functions see of one unit: its text, kind, quote state and the article so far."""

    unit: Unit
    scheme: LabelScheme
    matcher: AliasMatcher
    last_speaker: str | None
    prev_text: str = ""
    content: str = ""  # the unit without its attribution clause
    cue_cache: dict[str, list] = field(default_factory=dict)  # cue matches per group, computed once


class Rules:
    """The compiled rules of one label scheme."""

    def __init__(self, scheme: LabelScheme) -> None:
        self.scheme = scheme
        self.matcher = matcher_for(scheme)
        self.verb_re = word_regex(scheme.speech_verbs)
        self.according_re = word_regex(scheme.according_to, re.IGNORECASE)
        self.pronoun_re = word_regex(scheme.pronouns)
        self.non_state_re = word_regex(scheme.non_state_sources, re.IGNORECASE)
        self.role_re = word_regex(scheme.official_nouns, re.IGNORECASE)
        self.cue_re = {g: word_regex(w, re.IGNORECASE) for g, w in scheme.cues.items() if w}
        self.negator_re = self.cue_re.get("negators")

    # ----- attribution -------------------------------------------------------------------
    def resolve_source(self, source: str, last_speaker: str | None) -> str | None:
        """Map an attribution's source phrase to an actor; None if it names nobody we know."""
        src = source.strip()
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
        words = src.split()
        if (self.pronoun_re.fullmatch(src) or (len(words) <= 4 and self.role_re.search(src))) and last_speaker:
            return last_speaker
        return None

    def trailing_attribution(self, text: str) -> tuple[str, str] | None:
        """The source and clause of '..., X said.' / '...," he said.' / '..., according to X.'"""
        body = text.rstrip().rstrip(".!?").rstrip()
        cut = max(body.rfind(","), max(body.rfind(q) for q in CLOSE_QUOTES))
        if cut <= 0:
            return None
        tail = body[cut + 1 :].strip().lstrip('"”» ').strip()
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
            if not after or after[0].lower() in ADJUNCT_STARTERS:
                return tail[: v.start()].strip(), tail
        if v and v.start() == 0:  # inverted: '..., said Lavrov.'
            rest = tail[v.end() :].strip()
            if rest and len(rest.split()) <= 6:
                return rest, tail
        return None

    def leading_attribution(self, text: str) -> tuple[str, str] | None:
        """The source of 'According to X, ...' or 'X said/believes (that) ...' at the clause start."""
        body = INTRO_RE.sub("", text.lstrip('"“« '))
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
        if before.split()[-1].lower() in ("was", "were", "been", "being", "is", "are", "be"):
            return None  # passive: 'sanctions were announced by X' has X as agent, not as a speaker
        aux = re.sub(r"\b(?:has|have|had|is|are|was|were|been|will|would|has been|have been|repeatedly|also|again|already)\b", "", before)
        return aux.strip(), body[: v.end()]


@lru_cache(maxsize=8)
def rules_for(scheme: LabelScheme) -> Rules:
    """Compiled rules, cached: a corpus labels thousands of articles with one scheme."""
    return Rules(scheme)


ActorLF = Callable[[Rules, Context], str | None]
StanceLF = Callable[[Rules, Context, str, bool], str | None]


# ----- actor labeling functions --------------------------------------------------------------
def lf_headline_dash(r: Rules, c: Context) -> str | None:
    """'US, allies take ... — Lavrov': a headline attributed after a dash."""
    if c.unit.kind not in HEADING_KINDS:
        return None
    m = DASH_ATTRIBUTION_RE.search(c.unit.text)
    return r.resolve_source(m.group("src"), c.last_speaker) if m else None


def lf_dateline(r: Rules, c: Context) -> str | None:
    """A dateline names a place and a date, never an actor."""
    return r.scheme.none_actor if c.unit.kind == "dateline" else None


def lf_trailing_attribution(r: Rules, c: Context) -> str | None:
    """'..., Lavrov said.' / '...," he added.' / '..., according to Lavrov.'"""
    found = r.trailing_attribution(c.unit.text)
    return r.resolve_source(found[0], c.last_speaker) if found else None


def lf_quote_attribution(r: Rules, c: Context) -> str | None:
    """A sentence inside a quote whose attribution comes later, or a quote continuing the last one."""
    u = c.unit
    starts_quoted = u.text[:1] in OPEN_QUOTES or (u.in_quote and r.trailing_attribution(u.text) is None)
    if not (u.in_quote and starts_quoted and u.quote_attribution):
        return None
    found = r.trailing_attribution(f', "{u.quote_attribution}.')
    src = found[0] if found else u.quote_attribution
    return r.resolve_source(src, c.last_speaker)


def lf_leading_attribution(r: Rules, c: Context) -> str | None:
    """'Moscow believes ...', 'According to Lavrov, ...', 'On Monday, Trump said ...'."""
    if c.unit.kind != "sentence":
        return None
    found = r.leading_attribution(c.unit.text)
    return r.resolve_source(found[0], c.last_speaker) if found else None


def lf_subject_alias(r: Rules, c: Context) -> str | None:
    """No speech verb: the first state mentioned in the main clause is the agent (or the 'by' agent of a passive)."""
    text = c.unit.text
    if c.unit.kind == "dateline" or r.according_re.search(text):
        return None
    if r.trailing_attribution(text) or (c.unit.kind == "sentence" and r.leading_attribution(text)):
        return None
    body = INTRO_RE.sub("", text)
    passive = PASSIVE_BY_RE.search(body)
    ms = r.matcher.actor_mentions(body)
    if passive:
        after = [m for m in ms if m.start >= passive.end()]
        if after:
            return after[0].actor
    if not ms:
        return None
    first = ms[0]
    return first.actor if first.start < max(60, len(body) // 2) else None


def lf_no_actor(r: Rules, c: Context) -> str | None:
    """No state is mentioned and nobody is quoted: actor none."""
    if c.unit.in_quote or r.matcher.actor_mentions(c.unit.text) or r.pronoun_re.search(c.unit.text):
        return None
    return r.scheme.none_actor


def lf_situation_subject(r: Rules, c: Context) -> str | None:
    """'The situation ... remains tense as ...': the main subject is a state of affairs, not a party."""
    body = INTRO_RE.sub("", c.unit.text)
    if re.match(r"^(?:The|A|Any)\s+(?:situation|standoff|crisis|tension|conflict|military conflict)\b", body):
        return r.scheme.none_actor
    if c.unit.kind in HEADING_KINDS and re.match(r"^(?:Standoff|Situation|Military conflict|Crisis|Tension)s?\b", body):
        return r.scheme.none_actor
    return None


def lf_coreference(r: Rules, c: Context) -> str | None:
    """'the country does not recognize ...': 'the country' refers to the last agent named."""
    body = INTRO_RE.sub("", c.unit.text)
    if re.match(r"^(?:the|The)\s+(?:country|regime|state)\b", body):
        ms = r.matcher.actor_mentions(c.prev_text)
        if ms:
            return ms[-1].actor  # the most recently named party
    return None


ACTOR_LFS: dict[str, ActorLF] = {
    "headline_dash": lf_headline_dash,
    "dateline": lf_dateline,
    "trailing_attribution": lf_trailing_attribution,
    "quote_attribution": lf_quote_attribution,
    "leading_attribution": lf_leading_attribution,
    "coreference": lf_coreference,
    "situation_subject": lf_situation_subject,
    "subject_alias": lf_subject_alias,
    "no_actor": lf_no_actor,
}
ATTRIBUTION_LFS = {"headline_dash", "trailing_attribution", "quote_attribution", "leading_attribution"}


# ----- stance labeling functions ---------------------------------------------------------------
def _content(r: Rules, c: Context) -> str:
    """The unit minus its attribution clause, where the cues that matter are."""
    text = c.unit.text
    found = r.trailing_attribution(text)
    if found:
        text = text[: text.rfind(found[1])]
    lead = r.leading_attribution(text) if c.unit.kind == "sentence" else None
    if lead:
        i = text.find(lead[1])
        if i >= 0:
            text = text[i + len(lead[1]) :]
    m = DASH_ATTRIBUTION_RE.search(text) if c.unit.kind in HEADING_KINDS else None
    return text[: m.start()] if m else text


def _cues(r: Rules, c: Context, group: str) -> list[tuple[re.Match[str], bool]]:
    """Matches of a cue group in the unit's content, each with whether a negator stands within
    four words before it; computed once per unit and group (every stance function asks)."""
    if group in c.cue_cache:
        return c.cue_cache[group]
    rx = r.cue_re.get(group)
    text = c.content
    out = []
    if rx is None:
        c.cue_cache[group] = out
        return out
    for m in rx.finditer(text):
        window = " ".join(text[: m.start()].split()[-5:])
        negated = bool(r.negator_re and r.negator_re.search(window))
        out.append((m, negated))
    c.cue_cache[group] = out
    return out


def _has(r: Rules, c: Context, group: str, negated: bool | None = None) -> bool:
    return any(negated is None or n == negated for _, n in _cues(r, c, group))


def _owner(r: Rules, c: Context, m: re.Match[str]) -> str | None:
    """Whose step a cue is: the party named last before it in the same clause, or None (the speaker's own).

    A party after a preposition ('sanctions against Pyongyang') is a target, not an agent,
    and first-person words ('we', 'our') make the step the speaker's.
    """
    before = c.content[: m.start()]
    clause = re.split(r"[,;:]|\bwhich\b|\bwho\b", before)[-1]
    if re.search(r"\b(?:we|We|our|Our|us)\b", clause):
        return None
    agents = [
        x for x in r.matcher.actor_mentions(clause)
        if (clause[: x.start].split() or [""])[-1].lower() not in PREPOSITIONS
        and not re.match(r"\s+to\s", clause[x.end :])  # 'urged Y to return to talks': the speaker's call
    ]
    return agents[-1].actor if agents else None


def _own(r: Rules, c: Context, group: str, actor: str, negated: bool = False) -> bool:
    """A cue of ``group`` whose step belongs to ``actor`` (or to nobody named, i.e. the speaker)."""
    return any(n == negated and _owner(r, c, m) in (None, actor) for m, n in _cues(r, c, group))


def _others(r: Rules, c: Context, group: str, actor: str) -> bool:
    """A cue of ``group`` whose step belongs to another named party."""
    return any(_owner(r, c, m) not in (None, actor) for m, _ in _cues(r, c, group))


def st_none_actor(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """Actor none always goes with neutral."""
    return r.scheme.neutral_stance if actor == r.scheme.none_actor else None


def st_criticism(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """A speaker who judges another party's step ('unacceptable', 'provoking') is conciliatory."""
    if reported and _has(r, c, "criticism") and (_has(r, c, "hardline") or r.matcher.actor_mentions(c.content)):
        return "conciliatory"
    return None


def st_provocation(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """The actor itself provokes ('US provokes North Korea', read literally)."""
    if not reported and _own(r, c, "criticism", actor) and r.matcher.actor_mentions(c.content):
        first = r.matcher.actor_mentions(c.content)[0]
        return "hardline" if first.actor == actor else None
    return None


def st_human_cost(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """Warning of the human cost of war."""
    return "conciliatory" if _has(r, c, "human_cost") else None


def st_negated_conciliatory(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """'no option could be ruled out', 'no conditions for talks': refusing de-escalation."""
    return "hardline" if _has(r, c, "conciliatory", negated=True) else None


def st_negated_hardline(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """The actor itself not testing or not threatening: restraint."""
    if _own(r, c, "hardline", actor, negated=True) and not _own(r, c, "hardline", actor):
        return "conciliatory"
    return None


def st_hardline_cue(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """The actor's own coercive step or call for one (a speaker's criticism excludes it)."""
    if reported and _has(r, c, "criticism"):
        return None
    return "hardline" if _own(r, c, "hardline", actor) else None


def st_conciliatory_cue(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """The actor's own call for dialogue, restraint or talks."""
    return "conciliatory" if _own(r, c, "conciliatory", actor) else None


def st_reported_other(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """A source that reports another party's position without judging it."""
    if not reported or _has(r, c, "criticism") or _has(r, c, "human_cost"):
        return None
    if _own(r, c, "hardline", actor) or _own(r, c, "conciliatory", actor):
        return None
    if _others(r, c, "hardline", actor) or _others(r, c, "conciliatory", actor):
        return r.scheme.neutral_stance
    return None


def st_procedural(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """'discussed', 'informed', 'met': procedure, no position."""
    if _has(r, c, "procedural") and not (_has(r, c, "hardline") or _has(r, c, "criticism")):
        return r.scheme.neutral_stance
    return None


def st_no_cue(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """No cue of any kind: neutral."""
    if any(_cues(r, c, g) for g in ("hardline", "conciliatory", "criticism", "human_cost")):
        return None
    return r.scheme.neutral_stance


STANCE_LFS: dict[str, StanceLF] = {
    "none_actor": st_none_actor,
    "negated_conciliatory": st_negated_conciliatory,
    "criticism": st_criticism,
    "provocation": st_provocation,
    "human_cost": st_human_cost,
    "negated_hardline": st_negated_hardline,
    "hardline_cue": st_hardline_cue,
    "conciliatory_cue": st_conciliatory_cue,
    "reported_other": st_reported_other,
    "procedural": st_procedural,
    "no_cue": st_no_cue,
}


# ----- aggregation ------------------------------------------------------------------------------
def aggregate(votes: dict[str, str | None], order: Sequence[str], method: str = "majority") -> str | None:
    """Combine the votes of the functions in ``order``.

    majority: the most frequent label, ties broken by the earliest function in ``order``;
    priority: the first function in ``order`` that did not abstain.
    """
    fired = [(name, votes[name]) for name in order if votes.get(name) is not None]
    if not fired:
        return None
    if method == "priority":
        return fired[0][1]
    if method != "majority":
        raise ValueError(f"unknown aggregator '{method}' (majority or priority)")
    counts = Counter(label for _, label in fired)
    best = max(counts.values())
    return next(label for _, label in fired if counts[label] == best)


@dataclass
class SilverLabel:
    id: str
    text: str
    actor: str
    stance: str
    actor_votes: dict[str, str | None]
    stance_votes: dict[str, str | None]

    @property
    def rules_fired(self) -> list[str]:
        return [f"actor:{k}" for k, v in self.actor_votes.items() if v is not None] + [
            f"stance:{k}" for k, v in self.stance_votes.items() if v is not None
        ]


def label_units(
    units: Iterable[Unit],
    scheme: LabelScheme,
    actor_lfs: Sequence[str] | None = None,
    stance_lfs: Sequence[str] | None = None,
    aggregator: str = "majority",
) -> list[SilverLabel]:
    """Label units in article order (pronouns and quotes need the speakers before them)."""
    rules = rules_for(scheme)
    a_names = list(actor_lfs or ACTOR_LFS)
    s_names = list(stance_lfs or STANCE_LFS)
    for n in a_names:
        if n not in ACTOR_LFS:
            raise ValueError(f"unknown actor labeling function '{n}' (known: {', '.join(ACTOR_LFS)})")
    for n in s_names:
        if n not in STANCE_LFS:
            raise ValueError(f"unknown stance labeling function '{n}' (known: {', '.join(STANCE_LFS)})")
    out: list[SilverLabel] = []
    last: dict[str, str | None] = {}
    prev: dict[str, str] = {}
    for u in units:
        c = Context(u, scheme, rules.matcher, last.get(u.article_id), prev.get(u.article_id, ""))
        c.content = _content(rules, c)
        a_votes = {n: ACTOR_LFS[n](rules, c) for n in a_names}
        actor = aggregate(a_votes, a_names, aggregator) or scheme.none_actor
        reported = any(a_votes.get(n) == actor for n in ATTRIBUTION_LFS)
        s_votes = {n: STANCE_LFS[n](rules, c, actor, reported) for n in s_names}
        stance = aggregate(s_votes, s_names, aggregator) or scheme.neutral_stance
        if actor == scheme.none_actor:
            stance = scheme.neutral_stance
        elif u.kind == "sentence":
            last[u.article_id] = actor
        prev[u.article_id] = u.text
        out.append(SilverLabel(u.id, u.text, actor, stance, a_votes, s_votes))
    return out


def lf_analysis(silver: Sequence[SilverLabel], gold: dict[str, dict] | None, group: str) -> list[dict]:
    """Per labeling function: coverage, overlaps, conflicts, and precision against gold (Snorkel-style)."""
    if not silver:
        return []
    votes_attr = "actor_votes" if group == "actor" else "stance_votes"
    names = list(getattr(silver[0], votes_attr))
    L = np.array([[getattr(s, votes_attr)[n] or "" for n in names] for s in silver], dtype=object)
    fired = L != ""
    rows = []
    for j, n in enumerate(names):
        others = np.delete(fired, j, axis=1)
        other_labels = np.delete(L, j, axis=1)
        cov = fired[:, j]
        overlap = cov & others.any(axis=1)
        conflict = cov & np.array(
            [any(o and o != L[i, j] for o in other_labels[i]) for i in range(len(silver))], dtype=bool
        )
        row = {
            "group": group,
            "lf": n,
            "polarity": ",".join(sorted({x for x in L[cov, j]})),
            "coverage": float(cov.mean()),
            "overlaps": float(overlap.mean()),
            "conflicts": float(conflict.mean()),
            "n_fired": int(cov.sum()),
        }
        if gold:
            idx = [i for i, s in enumerate(silver) if cov[i] and s.id in gold]
            correct = sum(L[i, j] == gold[silver[i].id][group] for i in idx)
            row.update(n_gold=len(idx), correct=int(correct), precision=(correct / len(idx)) if idx else None)
        rows.append(row)
    return rows
