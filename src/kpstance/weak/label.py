"""Weak (silver) labels for units in article order: actor functions, then stance functions, then aggregation.

Actor functions run first; the aggregated actor is then the context in which the stance
functions read the cues (criticising someone else's drills de-escalates, running drills is
coercive). Every function returns a label or ``None`` (abstain), so the label matrix can be
analysed per rule (``analysis.lf_analysis``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import KpstanceError
from ..text.segment import Unit
from .actor_lfs import ACTOR_LFS, ATTRIBUTION_LFS
from .aggregate import aggregate, make_aggregator
from .attribution import parse, rules_for
from .context import Context
from .scheme import LabelScheme
from .stance_lfs import STANCE_LFS


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


def check_lf_names(actor_lfs: Sequence[str], stance_lfs: Sequence[str]) -> None:
    """Refuse labeling-function names that are not in the registries, naming the known ones."""
    for key, names, known in (("rules.actor_lfs", actor_lfs, ACTOR_LFS), ("rules.stance_lfs", stance_lfs, STANCE_LFS)):
        if names is not None and len(names) == 0:  # an empty list would fall back to every function, silently
            raise KpstanceError(f"{key} is empty: name at least one labeling function (known: {', '.join(known)}), "
                                "or leave the key out for all of them")
        unknown = [n for n in names if n not in known]
        if unknown:
            raise KpstanceError(f"{key}: unknown labeling function(s) {', '.join(map(repr, unknown))} "
                                f"(known: {', '.join(known)})")


def label_units(
    units: Iterable[Unit],
    scheme: LabelScheme,
    actor_lfs: Sequence[str] | None = None,
    stance_lfs: Sequence[str] | None = None,
    aggregator: str = "majority",
) -> list[SilverLabel]:
    """Label units in article order (pronouns and quotes need the speakers before them).

    ``label_model`` first labels the units by majority to collect every function's votes, fits Snorkel's
    label model on them (no gold), then labels again with it.
    """
    rules = rules_for(scheme)
    check_lf_names(list(ACTOR_LFS) if actor_lfs is None else actor_lfs,
                   list(STANCE_LFS) if stance_lfs is None else stance_lfs)
    a_names = list(actor_lfs or ACTOR_LFS)
    s_names = list(stance_lfs or STANCE_LFS)
    aggregate({}, [], aggregator)  # refuse an unknown aggregator before any work
    units = list(units)
    fit = label_units(units, scheme, a_names, s_names, "majority") if aggregator == "label_model" else []
    agg_a = make_aggregator(aggregator, a_names, scheme.actor_labels, [s.actor_votes for s in fit])
    agg_s = make_aggregator(aggregator, s_names, scheme.stance_labels, [s.stance_votes for s in fit])
    out: list[SilverLabel] = []
    last: dict[str, str | None] = {}
    prev: dict[str, str] = {}
    # per article section: surnames and titles introduced so far (a section is the unit of cross-validation folds,
    # so a unit's labels do not depend on which other sections are labelled with it)
    memory: dict[tuple[str, int], dict[str, str]] = {}
    for u in units:
        mem = memory.setdefault((u.article_id, u.section), {})
        # a speaker the unit names (a .jsonl line's, an imported gold unit's) is who its "he" is
        given = u.extra.get("speaker")
        speaker = (rules.resolve_source(given, None, mem) if given else None) or last.get(u.article_id)
        c = Context(u, parse(rules, u), speaker, prev.get(u.article_id, ""), memory=mem)
        a_votes = {n: ACTOR_LFS[n](rules, c) for n in a_names}
        actor = agg_a(a_votes) or scheme.none_actor
        reported = any(a_votes.get(n) == actor for n in ATTRIBUTION_LFS)
        s_votes = {n: STANCE_LFS[n](rules, c, actor, reported) for n in s_names}
        stance = agg_s(s_votes) or scheme.neutral_stance
        if actor == scheme.none_actor:
            stance = scheme.neutral_stance
        elif u.kind == "sentence" and reported:
            last[u.article_id] = actor
        prev[u.article_id] = u.text
        rules.remember(u.text, mem)
        out.append(SilverLabel(u.id, u.text, actor, stance, a_votes, s_votes))
    return out
