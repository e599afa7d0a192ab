"""Stance labeling functions: read the cues in the unit's content in the light of its actor.

Each returns a stance or abstains. Stances are named by their role in the label YAML
(``stance_roles``): criticising another party's coercive step is de-escalating, taking
one is coercive, relaying one without judging it is neutral.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .attribution import Rules
from .context import Context, cues

StanceLF = Callable[[Rules, Context, str, bool], "str | None"]


def _has(r: Rules, c: Context, group: str, negated: bool | None = None) -> bool:
    return any(negated is None or n == negated for _, n in cues(r, c, group))


def _owner(r: Rules, c: Context, m: re.Match[str]) -> str | None:
    """Whose step a cue is: the party named last before it in the same clause, or None (the speaker's own).

    A party after a target word ('sanctions against Pyongyang') is a target, not an agent,
    and first-person words ('we', 'our') make the step the speaker's.
    """
    before = c.content[: m.start()]
    clause = r.clause_split_re.split(before)[-1]
    if r.first_person_re.search(clause):
        return None
    agents = [
        x for x in r.matcher.actor_mentions(clause)
        if (clause[: x.start].split() or [""])[-1].lower() not in r.target_words
        and not r.complement_re.match(clause[x.end :])  # 'urged Y to return to talks': the speaker's call
    ]
    return agents[-1].actor if agents else None


def _own(r: Rules, c: Context, group: str, actor: str, negated: bool = False) -> bool:
    """A cue of ``group`` whose step belongs to ``actor`` (or to nobody named, i.e. the speaker)."""
    return any(n == negated and _owner(r, c, m) in (None, actor) for m, n in cues(r, c, group))


def _others(r: Rules, c: Context, group: str, actor: str) -> bool:
    """A cue of ``group`` whose step belongs to another named party."""
    return any(_owner(r, c, m) not in (None, actor) for m, _ in cues(r, c, group))


def st_none_actor(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """Actor none always goes with neutral."""
    return r.scheme.neutral_stance if actor == r.scheme.none_actor else None


def st_criticism(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """A speaker who judges another party's step ('unacceptable', 'provoking') de-escalates."""
    if reported and _has(r, c, "criticism") and (_has(r, c, "coercive") or r.matcher.actor_mentions(c.content)):
        return r.scheme.deescalating
    return None


def st_provocation(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """The actor itself provokes ('US provokes North Korea', read literally)."""
    if not reported and _own(r, c, "criticism", actor) and r.matcher.actor_mentions(c.content):
        first = r.matcher.actor_mentions(c.content)[0]
        return r.scheme.coercive if first.actor == actor else None
    return None


def st_human_cost(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """Warning of the human cost of war."""
    return r.scheme.deescalating if _has(r, c, "human_cost") else None


def st_negated_conciliatory(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """'no option could be ruled out', 'no conditions for talks': refusing de-escalation."""
    return r.scheme.coercive if _has(r, c, "deescalating", negated=True) else None


def st_negated_hardline(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """The actor itself not testing or not threatening: restraint."""
    if _own(r, c, "coercive", actor, negated=True) and not _own(r, c, "coercive", actor):
        return r.scheme.deescalating
    return None


def st_hardline_cue(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """The actor's own coercive step or call for one (a speaker's criticism excludes it)."""
    if reported and _has(r, c, "criticism"):
        return None
    return r.scheme.coercive if _own(r, c, "coercive", actor) else None


def st_conciliatory_cue(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """The actor's own call for dialogue, restraint or talks."""
    return r.scheme.deescalating if _own(r, c, "deescalating", actor) else None


def st_reported_other(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """A source that reports another party's position without judging it."""
    if not reported or _has(r, c, "criticism") or _has(r, c, "human_cost"):
        return None
    if _own(r, c, "coercive", actor) or _own(r, c, "deescalating", actor):
        return None
    if _others(r, c, "coercive", actor) or _others(r, c, "deescalating", actor):
        return r.scheme.neutral_stance
    return None


def st_procedural(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """'discussed', 'informed', 'met': procedure, no position."""
    if _has(r, c, "procedural") and not (_has(r, c, "coercive") or _has(r, c, "criticism")):
        return r.scheme.neutral_stance
    return None


def st_no_cue(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
    """No cue of any kind: neutral."""
    if any(cues(r, c, g) for g in ("coercive", "deescalating", "criticism", "human_cost")):
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
