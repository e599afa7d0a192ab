"""Actor labeling functions: each names the unit's actor or abstains (None).

Attribution comes first (the source of reported speech is the actor), then the agent of
the main clause; datelines, situations and units with no party get the none actor.
"""

from __future__ import annotations

from collections.abc import Callable

from ..text.segment import OPEN_QUOTES
from .attribution import HEADING_KINDS, Rules
from .context import Context

MAIN_CLAUSE_WORDS = 10  # the words of a sentence's opening clause in which a past perfect marks background
ActorLF = Callable[[Rules, Context], "str | None"]


def lf_headline_dash(r: Rules, c: Context) -> str | None:
    """'US, allies take ... — Lavrov': a headline attributed after a dash."""
    return r.resolve_source(c.att.dash, c.last_speaker, c.memory) if c.att.dash else None


def lf_dateline(r: Rules, c: Context) -> str | None:
    """A dateline names a place and a date, never an actor."""
    return r.scheme.none_actor if c.unit.kind == "dateline" else None


def lf_trailing_attribution(r: Rules, c: Context) -> str | None:
    """'..., Lavrov said.' / '...," he added.' / '..., according to Lavrov.'"""
    found = c.att.trailing
    return r.resolve_source(found[0], c.last_speaker, c.memory) if found else None


def lf_quote_attribution(r: Rules, c: Context) -> str | None:
    """A sentence inside a quote whose attribution comes later, or a quote continuing the last one."""
    u = c.unit
    starts_quoted = u.text[:1] in OPEN_QUOTES or (u.in_quote and c.att.trailing is None)
    if not (u.in_quote and starts_quoted and u.quote_attribution):
        return None
    found = r.trailing_attribution(f', "{u.quote_attribution}.')
    src = found[0] if found else u.quote_attribution
    return r.resolve_source(src, c.last_speaker, c.memory)


def lf_leading_attribution(r: Rules, c: Context) -> str | None:
    """'Moscow believes ...', 'According to Lavrov, ...', 'On Monday, Trump said ...'; not under a calendar date
    ('On September 3, Pyongyang announced ...'), which recalls history (``lf_background``)."""
    found = c.att.leading
    if not found or recalled(r, c):
        return None
    return r.resolve_source(found[0], c.last_speaker, c.memory)


def recalled(r: Rules, c: Context) -> bool:
    """A sentence outside quotes opening with a calendar date or month (``situation_subjects.dated_openers``): an
    earlier event or statement recalled for context, not the week's news, which news style dates by the weekday.
    In the multi-source train and dev gold, 12 of 13 such sentences are actor none, leading speech verbs included."""
    u = c.unit
    return u.kind == "sentence" and not u.in_quote and not c.att.trailing and bool(r.dated_re.match(u.text))


def lf_subject_alias(r: Rules, c: Context) -> str | None:
    """No speech verb: the first state mentioned in the main clause is the agent (or the 'by' agent of a passive)."""
    text = c.unit.text
    if c.unit.kind == "dateline" or r.according_re.search(text):
        return None
    if c.att.trailing or c.att.leading:
        return None
    body = r.strip_intro(text)
    passive = r.passive_by_re.search(body)
    ms = r.matcher.actor_mentions(body)
    if passive:
        after = [m for m in ms if m.start >= passive.end()]
        if after:
            return after[0].actor
    if not ms:
        return r.remembered(" ".join(body.split()[:3]), c.memory)  # 'Kim inspected ...' after 'Kim Jong Un'
    first = ms[0]
    return first.actor if first.start < max(60, len(body) // 2) else None


def lf_unaffiliated_source(r: Rules, c: Context) -> str | None:
    """'Lee, a researcher at the Sejong Institute, said ...', 'Analysts see ...': a source speaking for no state."""
    if c.unit.kind == "dateline":
        return None
    text = r.strip_intro(c.unit.text)
    v = r.verb_re.search(text)
    if v is None or r.according_re.search(text[: v.start()]):
        return None
    before = text[: v.start()]
    if len(before.split()) > 16:
        return None
    if r.unaffiliated(before) or (r.non_state_re.match(before.strip()) and not r.matcher.actor_mentions(before)):
        return r.scheme.none_actor
    return None


def lf_no_actor(r: Rules, c: Context) -> str | None:
    """No state is mentioned and nobody is quoted: actor none."""
    if c.unit.in_quote or r.matcher.actor_mentions(c.unit.text) or r.pronoun_re.search(c.unit.text):
        return None
    return r.scheme.none_actor


def lf_situation_subject(r: Rules, c: Context) -> str | None:
    """'The situation ... remains tense as ...': the main subject is a state of affairs, not a party."""
    body = r.strip_intro(c.unit.text)
    if r.situation_re.match(body):
        return r.scheme.none_actor
    if c.unit.kind in HEADING_KINDS and r.situation_heading_re.match(body):
        return r.scheme.none_actor
    return None


def lf_background(r: Rules, c: Context) -> str | None:
    """Background recalled for context, not the news ('Earlier this month ...', '... had agreed ...'): actor none.

    Only for units nobody is quoted in: a source recalling history still speaks, except under a calendar date
    (``recalled``).
    """
    if recalled(r, c):
        return r.scheme.none_actor
    if c.unit.kind != "sentence" or c.att.trailing or c.att.leading or c.unit.in_quote:
        return None
    text = c.unit.text
    if r.background_re.match(text):
        return r.scheme.none_actor
    # the past perfect of the main clause ('Seoul and Washington had agreed ...'); one in a later clause ('ordered an
    # inquiry into how the launchers had entered') recalls a fact inside today's news
    clauses = r.clause_split_re.split(r.strip_intro(text))
    while len(clauses) > 1 and len(clauses[0].split()) <= 4:  # an opening adverbial ('Only days earlier, ...')
        clauses = clauses[1:]
    main = " ".join(clauses[0].split()[:MAIN_CLAUSE_WORDS])
    return r.scheme.none_actor if r.past_perfect_re.search(main) else None


def lf_coreference(r: Rules, c: Context) -> str | None:
    """'the country does not recognize ...': 'the country' refers to the last agent named."""
    if r.coreference_re.match(r.strip_intro(c.unit.text)):
        ms = r.matcher.actor_mentions(c.prev_text)
        if ms:
            return ms[-1].actor  # the most recently named party
    return None


ACTOR_LFS: dict[str, ActorLF] = {
    "headline_dash": lf_headline_dash,
    "dateline": lf_dateline,
    "unaffiliated_source": lf_unaffiliated_source,
    "trailing_attribution": lf_trailing_attribution,
    "quote_attribution": lf_quote_attribution,
    "leading_attribution": lf_leading_attribution,
    "coreference": lf_coreference,
    "situation_subject": lf_situation_subject,
    "background": lf_background,
    "subject_alias": lf_subject_alias,
    "no_actor": lf_no_actor,
}
# functions whose vote means "the unit reports what this actor said" (its stance is the source's)
ATTRIBUTION_LFS = frozenset({"headline_dash", "trailing_attribution", "quote_attribution", "leading_attribution"})
