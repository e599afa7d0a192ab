"""Direction-flipped copies: the same sentence with one step turned to its reverse.

The specification reads the direction of a step ("suspend the drills" is conciliatory, "resume the drills" is not),
while a small model learns the topic. The label YAML's ``directions`` pairs a step's word with its reverse's, form
by form; a copy of a unit turns one of its occurrences into its partner, keeping the case of the first letter.
What the copy's stance is, these words do not say (the reverse of a criticised step is often a welcomed one, and
"condemned the suspension" is not "condemned the resumption" turned round), so copies get no label here: with
``data.teacher.pool_direction`` they join the distillation pool, where the teacher alone labels them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..text.segment import Unit
from .scheme import LabelScheme
from .swap import _seed


@dataclass(frozen=True)
class Flip:
    """A direction-flipped copy of ``units[index]``."""

    index: int
    unit: Unit
    word: str  # the step word as written in the original


class DirectionFlipper:
    """Turns one step word of a text into its reverse (``LabelScheme.directions``)."""

    def __init__(self, scheme: LabelScheme) -> None:
        self.partner: dict[str, str] = {}
        for step, reverse in scheme.directions:
            for a, b in zip(step, reverse):
                # the first pair that names a form decides it: a word listed twice keeps one reverse
                self.partner.setdefault(a.lower(), b)
                self.partner.setdefault(b.lower(), a)
        words = sorted(self.partner, key=len, reverse=True)
        self.pattern = (re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in words) + r")(?![\w-])",
                                   re.IGNORECASE) if words else None)

    def sites(self, text: str) -> list[re.Match[str]]:
        """Every occurrence of a step word in ``text``, left to right."""
        return list(self.pattern.finditer(text)) if self.pattern is not None else []

    def flip(self, text: str, site: re.Match[str]) -> str:
        """``text`` with the word at ``site`` turned into its partner, its first letter's case (or all capitals)
        kept."""
        word = site.group(0)
        new = self.partner[word.lower()]
        if word.isupper() and len(word) > 1:
            new = new.upper()
        elif word[:1].isupper():
            new = new[:1].upper() + new[1:]
        return text[:site.start()] + new + text[site.end():]

    def copies(self, units: Sequence[Unit], n: int, key: object = "",
               speakers: Sequence[str | None] | None = None) -> list[Flip]:
        """Up to ``n`` copies of each unit, each turning another of its step words (chosen by a seed of the unit's
        id and ``key``, so a copy is the same on every run), each a unit of its own (id and article ``<id>~dir<k>``)
        read with the original's speaker (``speakers``: the speaker each unit is read with in its article)."""
        out: list[Flip] = []
        if n <= 0 or self.pattern is None:
            return out
        for i, u in enumerate(units):
            sites = self.sites(u.text)
            if not sites:
                continue
            random.Random(_seed("direction", key, u.id)).shuffle(sites)
            speaker = speakers[i] if speakers is not None else u.extra.get("speaker")
            extra = {**u.extra, "direction_of": u.id, **({"speaker": speaker} if speaker else {})}
            for k, site in enumerate(sites[:n]):
                cid = f"{u.id}~dir{k}"
                out.append(Flip(i, replace(u, id=cid, article_id=cid, text=self.flip(u.text, site), extra=extra),
                                site.group(0)))
        return out
