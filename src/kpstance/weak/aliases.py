"""Find actor mentions in text with the alias dictionary from the label YAML.

One compiled regex per scheme: longest alias first, word boundaries, optional possessive
("Washington's", "Washington’s"). Demonyms ("Russian", "North Korean") count for their
state only when an official noun follows ("the Russian top diplomat"); followed by a
non-state noun ("Japanese analysts") they mark a source that is nobody's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any, TypeVar

from .scheme import LabelScheme

POSSESSIVE = r"(?:['’]s|['’])?"
MEMO_SIZE = 1 << 15  # texts remembered per matcher; a corpus of unique sentences clears it, never grows it past this

T = TypeVar("T")


def memo_method(method: Callable[..., Sequence[T]]) -> Callable[..., tuple[T, ...]]:
    """A method that is a pure function of its positional arguments (called with all of them, so that one text is
    one key), remembered per instance as a tuple: the rules, the swapped copies and the swap test read the same
    sentences many times (a smoke run: 200,000 calls for 13,000 texts). An instance whose ``remember`` is false
    (a predictor's, which reads each sentence of a corpus once) keeps nothing."""
    name = f"_memo_{method.__qualname__}"

    @wraps(method)
    def remembered(self: Any, *args: Any) -> tuple[T, ...]:
        if not getattr(self, "remember", True):
            return tuple(method(self, *args))
        memo = self.__dict__.setdefault(name, {})
        hit = memo.get(args)
        if hit is None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            hit = memo[args] = tuple(method(self, *args))
        return hit

    return remembered


@dataclass(frozen=True)
class Mention:
    actor: str
    start: int
    end: int
    text: str
    kind: str  # alias | demonym
    role: str = ""  # official | non_state | "" (for demonyms: what follows)


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _suffix(word: str) -> bool:
    """A contraction suffix ("n't", "'ll") is written onto the word before it, so it has no left word boundary."""
    return word[:1] in "'’" or word[:2].lower() in ("n'", "n’")


def word_regex(words: list[str] | tuple[str, ...], flags: int = 0) -> re.Pattern[str]:
    """A regex matching any of ``words`` as whole words (longest first); contraction suffixes end a word."""
    whole = [w for w in words if not _suffix(w)]
    parts = [rf"(?<![\w-])(?:{_alternation(whole)})"] if whole else []
    if len(whole) < len(words):
        parts.append(f"(?:{_alternation([w for w in words if _suffix(w)])})")
    return re.compile(rf"(?:{'|'.join(parts)})(?![\w-])", flags)


class AliasMatcher:
    """Locate mentions of the scheme's actors in a sentence."""

    def __init__(self, scheme: LabelScheme) -> None:
        self.scheme = scheme
        self.owner: dict[str, tuple[str, str]] = {}
        for actor in scheme.actors:
            for a in actor.aliases:
                self.owner[a] = (actor.name, "alias")
            for d in actor.demonyms:
                self.owner[d] = (actor.name, "demonym")
        self._re = re.compile(rf"(?<![\w-])(?P<name>{_alternation(list(self.owner))}){POSSESSIVE}(?![\w-])")
        roles = list(scheme.official_nouns) + list(scheme.non_state_sources)
        self._role_re = re.compile(
            rf"\s+(?:[\w-]+\s+){{0,2}}?(?P<role>{_alternation(roles)})(?![\w-])", re.IGNORECASE
        )
        self._official = {r.lower() for r in scheme.official_nouns}

    def _finditer(self, text: str):
        """Alias matches left to right; a match whose last word opens a longer name ("the North" in "the North
        Korean threat") gives way to that longer name."""
        pos = 0
        while True:
            m = self._re.search(text, pos)
            if m is None:
                return
            last = m.start() + m.group(0).rfind(" ") + 1
            if last > m.start():
                longer = self._re.match(text, last)
                if longer is not None and longer.end() > m.end():
                    pos = last
                    continue
            yield m
            pos = m.end()

    @memo_method
    def mentions(self, text: str) -> list[Mention]:
        out: list[Mention] = []
        for m in self._finditer(text):
            name = m.group("name")
            actor, kind = self.owner[name]
            role = ""
            if kind == "demonym":
                r = self._role_re.match(text, m.end())
                if r:
                    role = "official" if r.group("role").lower() in self._official else "non_state"
            out.append(Mention(actor, m.start(), m.end(), m.group(0), kind, role))
        return out

    def actor_mentions(self, text: str) -> list[Mention]:
        """Mentions that stand for a state: aliases, and demonyms before an official noun."""
        return [m for m in self.mentions(text) if m.kind == "alias" or m.role == "official"]


@lru_cache(maxsize=8)
def matcher_for(scheme: LabelScheme) -> AliasMatcher:
    return AliasMatcher(scheme)


PLACEHOLDER = "someone"


def blind(text: str, matcher: AliasMatcher, placeholder: str = PLACEHOLDER) -> str:
    """``text`` with every mention of an actor (alias or demonym) replaced by ``placeholder``, possessives kept
    ("Lavrov's warning" -> "someone's warning"): what a stance reader that must not know the speaker sees."""
    out, pos = [], 0
    for m in matcher.mentions(text):
        poss = m.text[len(m.text.rstrip("'’s")):] if m.text.endswith(("'s", "’s", "'", "’")) else ""
        out += [text[pos:m.start], placeholder + poss]
        pos = m.end
    return "".join(out) + text[pos:]
