"""Stance labeling functions: read the cues in the unit's content in the light of its actor.

Each returns a stance or abstains. Stances are named by their role in the label YAML
(``stance_roles``): criticising another party's coercive step is de-escalating, taking
one is coercive, relaying one without judging it is neutral.

The specification settles conflicting cues by an order of readings (a refusal of talks
before the word "talks", a condemned provocation by the remedy asked for, the clause after
a "but" before the concession), so the functions form a decision list: each fires only
when no reading before it in ``READINGS`` applies. Their votes never conflict, and any
aggregator returns the specification's reading.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..text.segment import OPEN_QUOTES
from .attribution import Rules
from .context import Context, cues

StanceLF = Callable[[Rules, Context, str, bool], "str | None"]
Match = tuple[re.Match[str], bool]


class Scope:
    """The cues of one unit that its stance is read from: after a contrast ('..., but ...') only the clause after it,
    where the actor's position lies; cues inside a procedural phrase ('held talks') are no steps."""

    def __init__(self, r: Rules, c: Context) -> None:
        self.r, self.c = r, c
        procedural = [m.span() for m, _ in cues(r, c, "procedural")]
        # the de-escalating or judging topic after a procedural phrase ('discussed, among other things,
        # denuclearization', 'to discuss issues of mutual concern'): what was talked about is no step taken and no
        # judgement (a coercive step after one stays: 'committed during a phone call to increase pressure')
        topics = [(m.start(), _words_end(c.content, m.end(), TOPIC_WORDS)) for m, _ in cues(r, c, "procedural")]
        polar = ("coercive", "deescalating")
        self.start = 0
        for m, _ in cues(r, c, "contrast"):
            if any(x.start() >= m.end() for g in polar for x, _ in cues(r, c, g)) and any(
                x.start() < m.start() for g in polar for x, _ in cues(r, c, g)
            ):
                self.start = m.end()
        self.memo: dict[tuple, list] = {}  # what two readings both need, found once (``_opposed``)
        self.groups: dict[str, list[Match]] = {}
        for g in ("coercive", "deescalating", "provocation", "criticism", "refusal", "limits", "support",
                  "defiance_objects", "human_cost", "opposition", "futility"):
            spans = topics if g in ("deescalating", "criticism") else procedural
            self.groups[g] = [
                (m, n) for m, n in cues(r, c, g)
                if m.start() >= self.start and not any(s <= m.start() < e for s, e in spans)
            ]

        self._turn_down_stopped()

        # 'missile' inside 'missile defence' is no launch
        self.groups["provocation"] = [
            (p, n) for p, n in self.groups["provocation"]
            if not any(k.start() <= p.start() and p.end() <= k.end() and k.end() - k.start() > p.end() - p.start()
                       for k, _ in self.groups["coercive"])
        ]
        # 'halt to the drills', 'easing of sanctions', 'sanctions were lifted': the coercive step is the object of a
        # de-escalating one, not a step taken
        soft = [m for m, n in self.groups["deescalating"] if not n]
        self.groups["coercive"] = [
            (m, n) for m, n in self.groups["coercive"]
            if not any(_overlap(m, d) or _near(d, m, 3) or _governs(d, m) for d in soft)
        ]

        # the attribution's own verb judges too ('Seoul condemned ...', 'Tokyo welcomed ...'): it stands before
        # the content
        clauses = " ".join(x[1] for x in (c.att.leading, c.att.trailing) if x)
        self.verbs = {g for g in ("criticism", "support", "refusal") if r.cue_re.get(g) and r.cue_re[g].search(clauses)}

    def _turn_down_stopped(self) -> None:
        """'suspended its talks', 'called off the summit', 'lifted its freeze on tests': a verb that stops a step
        (``stopping``), on a step that lowers tension as its object (the next polar cue), turns that step down, as
        'ruled out talks' does, so the pair counts as one coercive step; on a coercive step ('suspended the drills')
        it stays de-escalating, and across a coordinator ('halt its tests and resume talks') there are two steps."""
        stop_rx = self.r.cue_re.get("stopping")
        if stop_rx is None:
            return
        deesc, coercive = self.groups["deescalating"], self.groups["coercive"]
        polar = sorted([(m, True) for m, _ in deesc] + [(m, False) for m, _ in coercive], key=lambda x: x[0].start())
        turned: list[tuple[Match, re.Match[str]]] = []
        for m, n in deesc:
            if not stop_rx.fullmatch(m.group()):
                continue
            nxt = next((x for x in polar if x[0].start() >= m.end()), None)
            if (nxt and nxt[1] and not stop_rx.fullmatch(nxt[0].group()) and _governs(m, nxt[0])
                    and not self.r.coordination_re.search(m.string[m.end() : nxt[0].start()])):
                turned.append(((m, n), nxt[0]))
        if turned:
            gone = {id(x) for (m, _), obj in turned for x in (m, obj)}
            self.groups["deescalating"] = [(m, n) for m, n in deesc if id(m) not in gone]
            self.groups["coercive"] = sorted(coercive + [mn for mn, _ in turned], key=lambda x: x[0].start())

    def judged(self, group: str) -> bool:
        """A cue of ``group`` (not negated) in the content or in the attribution's verb."""
        return group in self.verbs or any(not n for _, n in self(group))

    def __call__(self, group: str, negated: bool | None = None) -> list[Match]:
        return [(m, n) for m, n in self.groups.get(group, []) if negated is None or n == negated]


NO_MATCH = re.compile(r"(?!)")  # a cue group left empty: matches nothing
REFUSED_WORDS = 6  # words between a refusal and the de-escalating step it refuses ('turned down the North's offer of
# military talks')
OBJECT_WORDS = 5  # words between a de-escalating verb and the coercive step it governs ('end the annual ... exercise')
TOPIC_WORDS = 6  # words after a procedural phrase that name its topic


def _words_end(text: str, start: int, n: int) -> int:
    """The end of the ``n`` words after ``start`` (not past the end of a sentence or a semicolon)."""
    stop = re.search(r"[.;!?]", text[start:])
    limit = start + stop.start() if stop else len(text)
    ms = list(re.finditer(r"\S+", text[start:limit]))[:n]
    return start + ms[-1].end() if ms else start


def _governs(d: re.Match[str], m: re.Match[str]) -> bool:
    """'end the annual command post exercise': the coercive step heads the object of the de-escalating one (a few
    words after it, no punctuation between)."""
    gap = d.string[d.end() : m.start()]
    return d.end() <= m.start() and len(gap.split()) <= OBJECT_WORDS and not re.search(r"[,;:.!?\"“”()]", gap)


def _overlap(a: re.Match[str], b: re.Match[str]) -> bool:
    return a.start() < b.end() and b.start() < a.end()


def _provocation(sc: Scope, m: re.Match[str]) -> bool:
    return any(p.start() <= m.start() and m.end() <= p.end() for p, _ in sc("provocation"))


LAST_READING = "reading:last"  # the section memory's key for its last sentence: actor|stance|paragraph|quote_opens
UNNAMED = "?"  # the owner of a step that belongs to another party the unit does not name


def _owner(r: Rules, c: Context, m: re.Match[str]) -> str | None:
    """Whose step a cue is: the party named last before it in the same clause, or None (the speaker's own).

    A party after a target word ('sanctions against Pyongyang') is a target, not an agent,
    and first-person words ('we', 'our') make the step the speaker's. A demonym right before
    the step ('the North Korean launch') names its owner.
    """
    before = c.content[: m.start()]
    clause = r.clause_split_re.split(before)[-1]
    if r.first_person_re.search(clause):
        return None
    agents = [
        x for x in r.matcher.mentions(clause)
        if (x.kind == "alias" or x.role == "official" or (x.role == "" and len(clause[x.end:].split()) <= 3))
        and not _target(r, _words_before(c, clause[: x.start]))
        and not r.complement_re.match(clause[x.end :])  # 'urged Y to return to talks': the speaker's call
    ]
    if agents:
        return agents[-1].actor
    after = r.owner_after_re.match(c.content[m.end() :])  # 'the drills (of the US and South Korea)'
    if after:
        named = r.matcher.actor_mentions(c.content[m.end() + after.end() :][:60])
        if named and named[0].start == 0:
            return named[0].actor
    if _quoted(c) and r.pronoun_re.search(clause):
        return UNNAMED  # in a quote, 'they' and 'he' are others: the speaker says 'we' and 'I'
    return _embedded_source(r, c, before)


def _quoted(c: Context) -> bool:
    return c.unit.in_quote or c.unit.text.lstrip()[:1] in OPEN_QUOTES


def _embedded_source(r: Rules, c: Context, before: str) -> str | None:
    """The source of a report inside the unit ('officials in Washington have stated that ... on the table'): the
    steps after its verb are that source's, which the unit's own source only relays."""
    verbs = list(r.verb_re.finditer(before))
    if not verbs:
        return None
    subject = r.clause_split_re.split(before[: verbs[-1].start()])[-1]
    if len(subject.split()) > 8 or r.first_person_re.search(subject):
        return None
    named = r.matcher.actor_mentions(subject)
    return named[0].actor if named else None


def _words_before(c: Context, before: str) -> str:
    """The words before a mention, with the attribution's verb where the content opens with them ('Tokyo demanded |
    that Pyongyang ...')."""
    if len(before.split()) < 2 and c.att.leading and c.content.lstrip().startswith(before.strip()):
        return f"{c.att.leading[1]} {before}"
    return before


def _target(r: Rules, before: str) -> bool:
    """A party named after these words is a target or an addressee, not an agent: 'sanctions against Y', 'urged Y',
    'demanded that Y ...' (the demand is the speaker's call)."""
    words = [w.lower() for w in before.split()[-3:]]
    if words and words[-1] in r.target_words:
        return True
    return len(words) >= 2 and words[-1] == "that" and words[-2] in r.target_words


def _own_step(r: Rules, c: Context, m: re.Match[str], actor: str) -> bool:
    """The step is the actor's: it is named among the clause's agents ('Seoul and Washington fired ...') or the
    speaker refers to itself before it ('it had test-fired ...')."""
    before = c.content[: m.start()]
    clause = r.clause_split_re.split(before)[-1]
    self_ref = r.first_person_re if _quoted(c) else r.self_ref_re  # in a quote, 'it' is not the speaker
    return bool(self_ref.search(" ".join(clause.split()[-6:]))) or any(
        x.actor == actor for x in r.matcher.actor_mentions(clause)
        if (clause[: x.start].split() or [""])[-1].lower() not in r.target_words) or (
        actor in _listed_parties(r, before[: len(before) - len(clause)]))


def _listed_parties(r: Rules, before: str) -> list[str]:
    """The parties listed by commas right before a clause, each piece a name and nothing else: the agents of a
    headline's 'S. Korea, US stage combined drills' are both (a headline's 'Trump:' is its speaker, not one)."""
    out = []
    while before.endswith(","):
        piece = r.clause_split_re.split(before[:-1])[-1]
        named = r.matcher.actor_mentions(piece.strip())
        if len(named) != 1 or named[0].start != 0 or named[0].end != len(piece.strip()):
            break
        out.append(named[0].actor)
        before = before[: len(before) - 1 - len(piece)].rstrip()
    return out


def _targets_actor(r: Rules, c: Context, m: re.Match[str], actor: str) -> bool:
    """The step is aimed at the actor: the actor named after the cue, or a self-reference ('its', 'our') near it."""
    after = c.content[m.end() : m.end() + 80]
    if r.self_ref_re.search(after) or r.self_ref_re.search(c.content[max(0, m.start() - 30) : m.start()]):
        return True
    return any(x.actor == actor for x in r.matcher.actor_mentions(after))


def _targets_other(r: Rules, c: Context, m: re.Match[str], actor: str) -> bool:
    """Another party is named as the step's target ('sanctions on Pyongyang')."""
    after = c.content[m.end() : m.end() + 40]
    words = after.split()
    return bool(words) and words[0].lower() in r.target_words and any(
        x.actor != actor for x in r.matcher.actor_mentions(after))


def _own(r: Rules, c: Context, sc: Scope, group: str, actor: str, negated: bool = False,
         reported: bool = False) -> list[Match]:
    """Cues of ``group`` whose step belongs to ``actor`` (or to nobody named, i.e. the speaker). A source reporting
    a launch or a test without naming its owner, or a step in the passive with no agent, relays a fact ('the missile
    was fired from ...', 'new sanctions were announced'): not its step."""
    out = []
    for m, n in sc(group):
        owner = _owner(r, c, m)
        if n != negated:
            continue
        if owner not in (None, actor) and not _own_step(r, c, m, actor):
            continue
        if owner is None and reported and (_provocation(sc, m) or _passive_fact(r, c, m)) \
                and not _own_step(r, c, m, actor):
            continue  # a launch, or a step reported in the passive ('sanctions were published'), told as a fact
        out.append((m, n))
    return out


def _passive_fact(r: Rules, c: Context, m: re.Match[str]) -> bool:
    """The step is told in the past passive with no agent: 'sanctions ... were published', 'had been demolished'."""
    participle = m.group(0).split()[0].lower().endswith(tuple(r.scheme.grammar["participle_endings"]))
    return bool(r.passive_fact_re.match(c.content[m.end() :])
                or (participle and r.passive_aux_re.search(c.content[: m.start()])))


def _others(r: Rules, c: Context, sc: Scope, group: str, actor: str) -> bool:
    return any(_owner(r, c, m) not in (None, actor) for m, _ in sc(group))


def _near(a: re.Match[str], b: re.Match[str], words: int = 8) -> bool:
    lo, hi = sorted((a, b), key=lambda x: x.start())
    return len(lo.string[lo.end() : hi.start()].split()) <= words


def _refused(f: re.Match[str], d: re.Match[str], coercive: list[re.Match[str]]) -> bool:
    """Is the de-escalating step ``d`` what refusal ``f`` refuses? Right after it ("ruled out any talks") or just
    before it ("dialogue is impossible"), with no coercive step between ("rejected the sanctions and urged
    dialogue" refuses the sanctions, not the dialogue)."""
    after = d.start() > f.start()
    if not _near(f, d, REFUSED_WORDS if after else 3):
        return False
    lo, hi = (f, d) if after else (d, f)
    return not any(lo.end() <= k.start() < hi.start() for k in coercive)


# --- the readings, in the specification's order ---------------------------------------------------------------

def rd_none_actor(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """Actor none always goes with neutral."""
    return r.scheme.neutral_stance if actor == r.scheme.none_actor else None


def rd_human_cost(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """Warning of the human cost of war."""
    return r.scheme.deescalating if sc("human_cost", negated=False) else None


def rd_refusal(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """'ruled out talks', 'dialogue is impossible': refusing de-escalation is hardline; 'no option can be ruled
    out' keeps coercive options open (hardline). A refusal negated right before it ('would not rule out dialogue',
    'did not reject talks') refuses nothing and keeps the step after it open (conciliatory), unless another
    refusal refuses one; 'cannot rule out that the North tested a bomb' judges a fact, no option at all (this
    reading does not apply). A negation further back ('which has not tested since, rejected talks') is another
    clause's."""
    coercive = [k for k, _ in sc("coercive")]
    refusals = sc("refusal")
    if any(not neg and _refused(f, d, coercive) for f, neg in refusals for d, n in sc("deescalating") if not n):
        return r.scheme.coercive
    for f, neg in refusals:
        if not neg or c.content[f.end():].split()[:1] == ["that"]:
            continue
        if _negated_here(r, c.content[: f.start()]) and any(
                d.start() > f.start() and _refused(f, d, coercive) for d, _ in sc("deescalating")):
            return r.scheme.deescalating
        if any(_near(f, k) for k in coercive) or not sc("deescalating"):
            return r.scheme.coercive
    return None


def _negated_here(r: Rules, before: str) -> bool:
    """Does the word right before a cue (past a passive's 'be' or 'been') negate it: 'not', 'never', 'cannot',
    "didn't"? Only then is the negation the cue's own, not another clause's."""
    words = before.split()
    while words and words[-1].lower() in ("be", "been", "have", "has"):
        words.pop()
    return bool(words and r.negator_re and r.negator_re.search(words[-1]))


def rd_limits(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """'sanctions alone cannot solve the issue', 'pressure is not working': arguing against pressure. Judging a step
    that lowers tension futile or untimely (``futility``: 'talking is not the answer', 'it is premature to lift
    sanctions') argues for the pressure (hardline), where the two stand in one clause with no coercive step in it and
    no 'and' between them ('isolation is a dead end and talks must resume' judges the isolation), the judgement is
    not negated ('not premature'), not another party's ('Tokyo considers dialogue premature', relayed), and not
    conceded ('although talks may seem premature, ...'; 'dialogue is not the answer to every problem, but it is a
    start')."""
    if any(_near(lim, k, 6) for lim, _ in sc("limits") for k, _ in sc("coercive")):
        return r.scheme.deescalating
    contrast, coercive = r.cue_re.get("contrast"), r.cue_re.get("coercive") or NO_MATCH
    concession = r.cue_re.get("concession")
    for f, negated in sc("futility"):
        if negated or (contrast and contrast.search(c.content[f.end() : _words_end(c.content, f.end(), 10)])):
            continue
        if _owner(r, c, f) not in (None, actor):  # 'Lavrov said Tokyo considers dialogue premature': relayed
            continue
        head = c.content[: f.start()]
        if concession and any(not r.clause_split_re.search(head[m.end():]) for m in concession.finditer(head)):
            continue  # 'Although talks may seem premature, ...': conceded
        # the futility's clause: a coercive step anywhere in it ('premature to talk about new sanctions') may be
        # what is judged, so the clause argues nothing for the pressure
        starts = [m.end() for m in r.clause_split_re.finditer(c.content[: f.start()])]
        nxt = r.clause_split_re.search(c.content, f.end())
        lo_clause, hi_clause = (starts[-1] if starts else 0), (nxt.start() if nxt else len(c.content))
        if any(_judged_step(r, sc, k) for k in coercive.finditer(c.content, lo_clause, hi_clause)):
            continue
        for d, n in sc("deescalating"):
            lo, hi = (d.end(), f.start()) if d.start() < f.start() else (f.end(), d.start())
            between = c.content[lo:hi] if lo <= hi else ""
            if (not n and not _overlap(f, d) and _near(f, d, 6) and not r.clause_split_re.search(between)
                    and not r.coordination_re.search(between)):
                return r.scheme.coercive
    return None


def _judged_step(r: Rules, sc: Scope, k: re.Match[str]) -> bool:
    """A coercive cue that is a step in its own right, not part of a step that lowers tension ('sanctions relief',
    'ease sanctions') nor the object of one that stops or lifts it ('lift sanctions'); 'talk about new sanctions'
    names one."""
    stop_rx = r.cue_re.get("stopping")
    return not any(_overlap(k, d) or (stop_rx is not None and stop_rx.fullmatch(d.group()) and _governs(d, k))
                   for d, _ in sc("deescalating"))


def rd_negated_conciliatory(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """'no talks until ...', 'will never stop its programme': refusing de-escalation ('is not against talks' and
    'it is not premature to resume talks' are no refusals: the negation is the opposition's or the judgement's)."""
    refused = _own(r, c, sc, "deescalating", actor, negated=True)
    if not refused or _own(r, c, sc, "deescalating", actor):
        return None
    theirs = {id(m) for _, negated, m, _ in _opposed(r, c, sc, actor) if negated}
    # 'it is not premature to resume talks': the negation is the judgement's, not the step's
    judged = [f for f, n in sc("futility") if n]
    theirs |= {id(m) for m, _ in refused if any(f.end() <= m.start() and _near(f, m, 6)
                                                 and not r.clause_split_re.search(c.content[f.end() : m.start()])
                                                 for f in judged)}
    return r.scheme.coercive if any(id(m) not in theirs for m, _ in refused) else None


def rd_provocation(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """The actor itself provokes ('US provokes North Korea', read literally)."""
    if reported:
        return None
    ms = r.matcher.actor_mentions(c.content)
    if not ms or ms[0].actor != actor:
        return None
    for m, n in sc("criticism"):
        objects = [x for x in ms if x.start >= m.end() and not c.content[m.end() : x.start].strip()
                   and not re.search(r"['’]s?$", x.text)]  # 'denounces Pyongyang's test' judges the test
        if not n and _owner(r, c, m) == actor and objects and objects[0].actor != actor:
            return r.scheme.coercive
    return None


def _relative_judge(r: Rules, c: Context, m: re.Match[str], actor: str) -> bool:
    """A judging word inside a relative clause whose subject is another party ('drills, which North Korea considers
    a threat'): that party's judgement, reported, not the actor's."""
    before = c.content[: m.start()]
    openers = list(r.relative_re.finditer(before))
    clause = before[openers[-1].end() :] if openers else ""
    if not clause or re.search(r"[,;:]", clause):
        return False
    return any(x.actor != actor for x in r.matcher.actor_mentions(clause))


def _criticised(r: Rules, c: Context, sc: Scope, actor: str, group: str) -> list[re.Match[str]]:
    """Steps of ``group`` the actor criticises: with a judging word in the unit, steps not its own. A step after the
    judging word ('Moscow opposes the deployment') belongs to whoever is named between them, else to another."""
    if not (sc.judged("criticism") or sc.judged("refusal")):
        return []
    judges = [m for g in ("criticism", "refusal") for m, n in sc(g) if not n and not _relative_judge(r, c, m, actor)]
    if not judges and not sc.verbs & {"criticism", "refusal"}:
        return []
    out = []
    for m, negated in sc(group):
        if negated and group == "provocation":
            continue  # 'though the North has carried out no tests': a provocation that did not happen
        k = [j for j in judges if j.end() <= m.start()]
        if k or (sc.verbs & {"criticism", "refusal"}):
            start = k[-1].end() if k else 0
            between = [x for x in r.matcher.actor_mentions(c.content[start : m.start()])]
            if not between or between[-1].actor != actor:
                out.append(m)
        elif _owner(r, c, m) != actor:
            out.append(m)
    return out


def rd_relayed_judgement(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """A source that relays another party's position ('Lavrov said Tokyo opposes easing the sanctions', 'Wang Yi
    noted that Washington opposes any sanctions relief') without judging it: neutral, as a nested report is."""
    # a party's position ('opposes', 'rejected'), not a word the source judges with ('Washington is provoking
    # Pyongyang, Lavrov said' is Lavrov's judgement of Washington's conduct)
    judges = [j for g in ("refusal", "opposition") for j, n in sc(g) if not n]
    judging_words = [k for k, n in sc("criticism") if not n]
    if (reported and judges and not sc.verbs & {"criticism", "refusal", "support"}
            and all(any(_overlap(k, j) for j in judges) for k in judging_words)
            and all(_judged_by_other(r, c, j, actor) for j in judges)
            and not _own(r, c, sc, "coercive", actor, reported=reported)
            and not _own(r, c, sc, "deescalating", actor, reported=reported)):
        return r.scheme.neutral_stance  # ... unless the source takes a step of its own beside it
    return None


def rd_condemned_provocation(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """Condemning another party's provocation: the stance follows the remedy asked for (pressure: hardline; calm,
    restraint, dialogue: conciliatory); a bare condemnation is the actor's own confrontational response."""
    provs = _criticised(r, c, sc, actor, "provocation")
    if not provs:
        return None
    # 'called on North Korea to stop its tests': a demand that the provoker halt its provocation is no call for calm
    calm = [m for m, n in sc("deescalating")
            if not n and not any(p.start() > m.start() and _near(m, p, 3) for p, _ in sc("provocation"))]
    pressure = [m for m, n in sc("coercive") if not n and not _provocation(sc, m)]
    if calm and not pressure:
        return r.scheme.deescalating
    if calm and pressure:
        return r.scheme.deescalating if calm[-1].start() > pressure[-1].start() else r.scheme.coercive
    return r.scheme.coercive


def rd_defiance(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """Rejecting or denouncing sanctions, resolutions or demands aimed at oneself."""
    if not (sc.judged("criticism") or sc.judged("refusal")):
        return None
    for m, _ in sc("defiance_objects"):
        owner = _owner(r, c, m)
        if owner == actor:
            continue
        if _targets_actor(r, c, m, actor) or (owner is not None and not _targets_other(r, c, m, actor)):
            return r.scheme.coercive
    return None


def _opposed(r: Rules, c: Context, sc: Scope, actor: str) -> list[tuple[int, bool, re.Match[str], str]]:
    """Each word of opposition of the actor's own (no other party named before it in its clause: 'Lavrov said Japan
    remains against ...' relays Japan's) with the step named right after it, within a few words and with no party,
    negator, coordinator or clause break between: (the word, whether it is negated by the word right before it or
    by its own first word, the step, the step's group), the word given by where it starts. 'Not against talks'
    negates the opposition, not the talks. Found once per unit and actor: two readings ask."""
    key = ("opposed", actor)
    if key not in sc.memo:
        sc.memo[key] = _find_opposed(r, c, sc, actor)
    return sc.memo[key]


def _find_opposed(r: Rules, c: Context, sc: Scope, actor: str) -> list[tuple[int, bool, re.Match[str], str]]:
    rx = r.cue_re.get("opposition")
    if rx is None:
        return []
    steps = sorted(((m, g) for g in ("coercive", "deescalating") for m, _ in sc(g)), key=lambda x: x[0].start())
    # 'against' inside a longer judging phrase ('spoke out against') is that phrase's
    longer = [k for k, _ in sc("criticism")]
    words: list[tuple[int, int, str, bool]] = []  # (start, end, text, negated) in the content
    for o, _ in sc("opposition"):
        if any(k.start() <= o.start() and o.end() <= k.end() and k.end() - k.start() > o.end() - o.start()
               for k in longer) or _relative_judge(r, c, o, actor) or _owner(r, c, o) not in (None, actor):
            continue
        words.append((o.start(), o.end(), o.group(), _negated_here(r, c.content[: o.start()])))
    # the attribution's verb can open the phrase: 'China warned | against any easing ...'
    if c.att.leading and sc.start == 0:
        head = c.att.leading[1].rstrip()
        lead = len(c.content) - len(c.content.lstrip())
        joined = f"{head} {c.content.lstrip()}"
        for o in rx.finditer(joined):
            if o.start() < len(head) < o.end():
                end = o.end() - len(head) - 1 + lead
                words.append((lead, end, o.group(), _negated_here(r, joined[: o.start()])))
    out = []
    for start, end, text, negated in words:
        nxt = next((x for x in steps if x[0].start() >= end), None)
        if nxt is None:
            continue
        between = c.content[end : nxt[0].start()]
        if (len(between.split()) > OBJECT_WORDS or re.search(r"[,;:.!?]", between)
                or r.matcher.actor_mentions(between) or r.coordination_re.search(between)
                or (r.negator_re and r.negator_re.search(between))):
            continue
        if nxt[1] == "coercive" and r.self_ref_re.search(between):
            continue  # 'is against giving up its deterrent': a step of its own, not another's opposed
        negated = negated or bool(r.negator_re and r.negator_re.fullmatch(text.split()[0]))
        out.append((start, negated, nxt[0], nxt[1]))
    return out


def _aimed_at_actor(r: Rules, c: Context, m: re.Match[str], actor: str) -> bool:
    """The step names the actor as its target right after it ('new sanctions on it', 'sanctions against
    Pyongyang' from Pyongyang): a party's opposition to it is defiance."""
    after = c.content[m.end() : _words_end(c.content, m.end(), 4)]
    words = after.split()
    if not words or words[0].lower() not in r.target_words:
        return False
    rest = after[after.lower().index(words[0].lower()) + len(words[0]) :]
    named = r.matcher.actor_mentions(rest)  # a party named first ('of US missile defence': not 'us')
    return named[0].actor == actor if named else bool(r.self_ref_re.search(rest))


def rd_opposed_step(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """Being against the step named right after: against one that lowers tension favours the pressure ('opposes
    any easing of sanctions', 'is against any relaxation of pressure': hardline); against another's coercive step
    opposes it ('we are against any further pressure': conciliatory), unless the step names the actor as its target
    (defiance: hardline); negated, the other way ('is not against talks'). A provocation is left to the remedy asked
    for (``rd_condemned_provocation``)."""
    for _, negated, m, group in _opposed(r, c, sc, actor):
        if _provocation(sc, m):
            continue
        if group == "coercive" and not negated and _aimed_at_actor(r, c, m, actor):
            return r.scheme.coercive
        return r.scheme.coercive if (group == "deescalating") != negated else r.scheme.deescalating
    return None


def _judged_by_other(r: Rules, c: Context, j: re.Match[str], actor: str) -> bool:
    """The judging word's subject is another party named right before it ('Tokyo opposes', 'Washington firmly
    rejects'), not a possessive ('Pyongyang's threats ... were unacceptable' judges Pyongyang's threats)."""
    clause = r.clause_split_re.split(c.content[: j.start()])[-1]
    named = r.matcher.actor_mentions(clause)
    if not named or named[-1].actor == actor:
        return False
    rest = clause[named[-1].end :]
    possessive = re.search(r"['’]s?$", clause[named[-1].start : named[-1].end]) or re.match(r"['’]s?\b", rest)
    return not possessive and len(rest.split()) <= 2 and not r.coordination_re.search(rest)


def rd_opposed_coercion(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """Opposing another party's coercive step (its drills, deployments, sanctions) is conciliatory."""
    steps = [m for m in _criticised(r, c, sc, actor, "coercive") if not _provocation(sc, m)]
    return r.scheme.deescalating if steps else None


def rd_criticism(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """A judging word with no step named: judging another party's conduct ('Washington is provoking ...') is
    conciliatory; a bare protest is the actor's own confrontation (hardline)."""
    crit = [m.start() for m, n in sc("criticism") if not n and not _relative_judge(r, c, m, actor)]
    if "criticism" in sc.verbs:
        crit.insert(0, 0)
    if not crit:
        return None
    others = [x for x in r.matcher.actor_mentions(c.content) if x.actor != actor]
    if reported and others and (others[0].start < crit[0] or "criticism" in sc.verbs):
        return r.scheme.deescalating
    # 'it is alarming that ... Washington sought to provoke Pyongyang': the judged conduct is another party's
    if reported and any(_owner(r, c, m) not in (None, actor) for m, n in sc("criticism") if not n):
        return r.scheme.deescalating
    if _own(r, c, sc, "deescalating", actor) and not _own(r, c, sc, "coercive", actor, reported=reported):
        return None  # 'pressed Seoul to take its concerns seriously and call off the deployment': the call decides
    return r.scheme.coercive


def rd_support(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """Welcoming or backing a step ('welcomed the new sanctions', 'praised the summit') takes the step's stance."""
    starts = [s.start() for s, n in sc("support") if not n] + ([-1] if "support" in sc.verbs else [])
    for start in sorted(starts):
        after = [(m, g) for g in ("coercive", "deescalating") for m, _ in sc(g) if m.start() > start]
        if after:
            _, g = min(after, key=lambda x: x[0].start())
            return r.scheme.coercive if g == "coercive" else r.scheme.deescalating
    return None


def rd_negated_hardline(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """The actor itself not testing or not threatening: restraint."""
    if _own(r, c, sc, "coercive", actor, negated=True) and not _own(r, c, sc, "coercive", actor):
        return r.scheme.deescalating
    return None


def _polar(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """The actor's own steps: the side with more cues; a tie goes to the coercive step."""
    hard = _own(r, c, sc, "coercive", actor, reported=reported)
    soft = _own(r, c, sc, "deescalating", actor, reported=reported)
    demands = [d for d in soft if _halts_provocation(r, c, sc, d[0], actor)]
    if demands and len(demands) == len(soft):
        hard, soft = hard + demands, []  # pressing the provoker alone, with no step that lowers tension beside it
    if not hard and not soft:
        return None
    return r.scheme.deescalating if len(soft) > len(hard) else r.scheme.coercive


def _halts_provocation(r: Rules, c: Context, sc: Scope, d: re.Match[str], actor: str) -> bool:
    """'urges the DPRK to halt its nuclear and missile development': another party asked to halt its own provocation
    (the party addressed before the step, the provocation right after it)."""
    if not any(p.start() > d.start() and _near(d, p, 3) for p, _ in sc("provocation")):
        return False
    clause = r.clause_split_re.split(c.content[: d.start()])[-1]
    return any(x.actor != actor and r.complement_re.match(clause[x.end :]) for x in r.matcher.actor_mentions(clause))


def rd_hardline_cue(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """The actor's own coercive step or call for one."""
    s = _polar(r, c, sc, actor, reported)
    return s if s == r.scheme.coercive else None


def rd_conciliatory_cue(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """The actor's own call for dialogue, restraint or talks."""
    s = _polar(r, c, sc, actor, reported)
    return s if s == r.scheme.deescalating else None


def rd_quote_continuation(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """A sentence that goes on with the same speaker's quote ('... the drills were held. It seems they want a
    pretext," he said.') and takes no position of its own keeps the position the quote took before it."""
    u = c.unit
    last = c.memory.get(LAST_READING, "").split("|")
    if not (u.in_quote and len(last) == 4 and last[0] == actor and last[2] == str(u.paragraph)):
        return None
    continues = last[3] == "True" or (c.att.trailing is None and c.att.leading is None)
    return last[1] if continues and last[1] != r.scheme.neutral_stance else None


def rd_reported_other(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """A source that reports another party's position without judging it."""
    if reported and (_others(r, c, sc, "coercive", actor) or _others(r, c, sc, "deescalating", actor)):
        return r.scheme.neutral_stance
    return None


def rd_procedural(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """'discussed', 'informed', 'met': procedure, no position."""
    return r.scheme.neutral_stance if cues(r, c, "procedural") else None


def rd_no_cue(r: Rules, c: Context, sc: Scope, actor: str, reported: bool) -> str | None:
    """No cue of any kind: neutral."""
    return r.scheme.neutral_stance


Reading = Callable[[Rules, Context, Scope, str, bool], "str | None"]
READINGS: dict[str, Reading] = {
    "none_actor": rd_none_actor,
    "refusal": rd_refusal,
    "limits": rd_limits,
    "negated_conciliatory": rd_negated_conciliatory,
    "provocation": rd_provocation,
    "relayed_judgement": rd_relayed_judgement,
    "condemned_provocation": rd_condemned_provocation,
    "human_cost": rd_human_cost,
    "defiance": rd_defiance,
    "opposed_step": rd_opposed_step,
    "opposed_coercion": rd_opposed_coercion,
    "criticism": rd_criticism,
    "support": rd_support,
    "negated_hardline": rd_negated_hardline,
    "hardline_cue": rd_hardline_cue,
    "conciliatory_cue": rd_conciliatory_cue,
    "quote_continuation": rd_quote_continuation,
    "reported_other": rd_reported_other,
    "procedural": rd_procedural,
    "no_cue": rd_no_cue,
}


def decide(r: Rules, c: Context, actor: str, reported: bool) -> tuple[str, str]:
    """The first reading that applies and its stance; computed once per unit and actor."""
    key = f"reading:{actor}:{reported}"
    if key not in c.cue_cache:
        sc = Scope(r, c)
        c.cue_cache[key] = next(
            ((name, s) for name, fn in READINGS.items() if (s := fn(r, c, sc, actor, reported)) is not None),
            ("no_cue", r.scheme.neutral_stance),
        )
        u = c.unit
        if u.kind == "sentence":  # what the section's next sentence continues (rd_quote_continuation)
            c.memory[LAST_READING] = "|".join((actor, c.cue_cache[key][1], str(u.paragraph), str(u.quote_opens)))
    return c.cue_cache[key]


def _lf(name: str) -> StanceLF:
    def lf(r: Rules, c: Context, actor: str, reported: bool) -> str | None:
        chosen, stance = decide(r, c, actor, reported)
        return stance if chosen == name else None

    lf.__name__ = f"st_{name}"
    lf.__doc__ = READINGS[name].__doc__
    return lf


STANCE_LFS: dict[str, StanceLF] = {name: _lf(name) for name in READINGS}
