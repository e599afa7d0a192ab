"""What a labeling function sees of one unit: the unit, its parsed attribution, the article so far."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text.segment import Unit
from .attribution import Attribution, Rules

CHAIN_WORDS = 2  # words that may join two cues of one chain ("tests or launches", "launches of missiles")


@dataclass
class Context:
    unit: Unit
    att: Attribution
    last_speaker: str | None  # the actor of the article's last attributed sentence
    prev_text: str = ""
    # the section's surnames and titles (Rules.remember) and the reading of its last sentence (stance_lfs.decide)
    memory: dict[str, str] = field(default_factory=dict)
    cue_cache: dict[str, list] = field(default_factory=dict)  # cue matches per group, computed once

    @property
    def content(self) -> str:
        return self.att.content


def cues(r: Rules, c: Context, group: str) -> list[tuple[re.Match[str], bool]]:
    """Matches of a cue group in the unit's content, each with whether a negator stands within
    four words before it and after any contrast word; computed once per unit and group (every stance function asks).

    A negation carries along a chain of cues of the group joined by at most two words and no punctuation ("did not
    conduct any tests or launches of missiles": none of the three happened)."""
    if group in c.cue_cache:
        return c.cue_cache[group]
    rx = r.cue_re.get(group)
    text = c.content
    out: list[tuple[re.Match[str], bool]] = []
    contrast = r.cue_re.get("contrast")
    if rx is not None:
        for m in rx.finditer(text):
            window = " ".join(text[: m.start()].split()[-5:])
            turn = list(contrast.finditer(window)) if contrast else []
            if turn:  # 'must not merely delay but completely halt': the negation stays before the contrast
                window = window[turn[-1].end() :]
            negated = bool(r.negator_re and r.negator_re.search(window))
            if not negated and out and out[-1][1]:
                gap = text[out[-1][0].end() : m.start()]
                negated = len(gap.split()) <= CHAIN_WORDS and not re.search(r"[,;:.!?\"“”()]", gap) and not (
                    contrast and contrast.search(gap))
            out.append((m, negated))
    c.cue_cache[group] = out
    return out
