"""Counterfactual speaker swap: the same words said by another actor.

The label specification says what is said decides the stance, never who says it. A unit whose actor is Russia is
copied with every mention of Russia replaced by another actor's name of the same role, from the label YAML's
``names`` table: "Lavrov said" -> "Wang Yi said", "Russian officials" -> "Japanese officials", "the US-drafted
resolution" -> "the Russia-drafted resolution", "Lavrov's" -> "Kono's". The copy keeps the unit's stance; its actor
is the swapped-in one. A stance that changes under the swap was read from the speaker (``eval.swap`` measures
this on every run; ``data.swap_augment`` trains on such copies).

A copy is made only when it is clean: the unit names its actor, every name the scheme knows for that actor is
covered by the table in a role the target also fills, the target is not already mentioned, and after the swap no
name of the source is left (a person's name part such as "Kim" included). Otherwise the unit is skipped and the
reason counted. Names choices are seeded by the unit's id, so a copy is the same on every run.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ..text.segment import Unit
from .aliases import matcher_for, memo_method
from .scheme import LabelScheme, Name

COUNTRY, DEMONYM = "country", "demonym"  # roles the swap treats apart: a country used as a modifier, plurals
HEADLINES = ("title", "subtitle", "subheading")  # kinds written without articles ("US ready to meet North Korea")
# why a unit got no copy: no name of its actor in the text; every other actor already mentioned; no clean swap
SKIP_REASONS = ("no_mention", "no_target", "unclean")
# English words after "the <name>" that show the name is the subject (besides the scheme's verbs and prepositions)
MODALS = frozenset({"can", "could", "should", "must", "may", "might", "shall", "did", "does", "do", "or", "also",
                    "still", "now", "then", "itself", "alone", "as", "wants", "will"})
# a determiner or possessive in the two words before a name: no article is added to it ("for the presidential ...")
_DETERMINED = re.compile(r"(?:^|\s)(?:the|a|an|its|his|her|their|our|[\w.]+['’]s?)\s+(?:[\w-]+\s+){0,2}$", re.I)
_THE = re.compile(r"(?:^|(?<=\W))([Tt]he) $")


class Unclean(Exception):
    """A swap that would leave the text inconsistent (a role the target lacks, a name of the source left over)."""


@dataclass(frozen=True)
class _Form:
    actor: str
    role: str
    index: int  # the entry within the role
    kind: str  # name | short | also | plural (a demonym's plural)


@dataclass(frozen=True)
class _Mention:
    start: int  # an absorbed "the" included
    end: int  # the possessive excluded
    form: _Form
    use: str  # noun | modifier ("US officials") | compound ("US-drafted")
    the: str  # the absorbed article as written ("the", "The"), or ""
    possessive: str
    title: str = ""  # the entry's title before a person's name, as written ("Secretary of State")
    determined: bool = False  # a determiner or possessive comes just before ("its presidential Cheong Wa Dae")


def _core(text: str) -> tuple[str, bool]:
    return (text[4:], True) if text.startswith("the ") else (text, False)


def _abbreviation(name: str) -> bool:
    """"US", "U.S.", "DPRK": the forms used as modifiers after "the" ("the US move"); a full name rarely is."""
    return name.replace(".", "").isupper()


def _plural(demonym: str) -> str:
    return demonym if demonym.endswith(("ese", "s")) else demonym + "s"


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class Copy:
    """One swapped copy: the target actor and the swapped texts, in the order given."""

    target: str
    texts: tuple[str, ...]


class Swapper:
    """Swaps one actor's names for another's in texts, role for role, by the scheme's names table."""

    def __init__(self, scheme: LabelScheme, seed: int = 0, remember: bool = True) -> None:
        self.scheme, self.seed = scheme, seed
        self.remember = remember  # keep each text's mentions and copies (memo_method): False for a predictor's
        self.table = scheme.names.actors
        self.matcher = matcher_for(scheme)
        self.non_state = set(scheme.non_state_sources)
        self.titles = {w.split()[0].lower() for w in (*scheme.titles, *scheme.official_nouns)}
        at, gr = scheme.attribution, scheme.grammar
        self.function_words = {w for key in ("speech_verbs", "source_fillers", "copulas", "adjunct_starters")
                               for w in at.get(key, ())} | \
            {w for key in ("target_words", "clause_openers", "passive_auxiliaries") for w in gr.get(key, ())} | \
            set(scheme.cues.get("contrast", ())) | set(scheme.cues.get("negators", ())) | MODALS
        forms: dict[str, _Form] = {}
        for actor, roles in self.table.items():
            for role, entries in roles.items():
                for i, e in enumerate(entries):
                    forms.setdefault(_core(e.name)[0], _Form(actor, role, i, "name"))
                    if e.short:
                        forms.setdefault(e.short, _Form(actor, role, i, "short"))
                    for a in e.also:  # an also-form keeps its "the" ("the North" is not "North")
                        forms.setdefault(a, _Form(actor, role, i, "also"))
                    if role == DEMONYM and _plural(e.name) != e.name:
                        forms.setdefault(_plural(e.name), _Form(actor, role, i, "plural"))
        self.forms = forms
        alts = "|".join(("[Tt]" + re.escape(f[1:]) if f.startswith("the ") else re.escape(f))
                        for f in sorted(forms, key=len, reverse=True))
        self._re = re.compile(rf"(?<!\w)(?P<name>{alts})(?P<poss>['’]s(?!\w)|['’](?=\s|$))?(?!\w)") if forms else None
        # the parts of each actor's person names ("Kim" of "Kim Jong Un"): a part left alone after a swap is unclean
        not_person = set(scheme.grammar.get("not_person_words", ()))
        self.name_parts = {actor: {w for entries in roles.values() for e in entries for f in e.forms
                                   if len(_core(f)[0].split()) > 1 and not set(_core(f)[0].split()) & not_person
                                   for w in _core(f)[0].split()}
                           for actor, roles in self.table.items()}
        # roles with a name written with "the" ("the United States", "the Kremlin"): a "the" before such a name
        # used as a noun belongs to it and goes with it
        self.article_roles = {role for roles in self.table.values() for role, entries in roles.items()
                              if any(_core(e.name)[1] for e in entries)}

    # -- what a text mentions

    def mentions(self, text: str, headline: bool = False) -> tuple[_Mention, ...]:
        """The table's names in ``text``, left to right, longest first. Outside headlines (often in title case), a
        country or capital directly followed by a capitalised word that is not a title is part of a longer name
        ("the Washington Post") and left alone."""
        return self._mentions(text, bool(headline))

    @memo_method
    def _mentions(self, text: str, headline: bool) -> list[_Mention]:
        out: list[_Mention] = []
        if self._re is None:
            return out
        for m in self._matches(text):
            name = m.group("name")
            form = self.forms.get(name) or self.forms[name[0].lower() + name[1:]]
            poss = m.group("poss") or ""
            after = text[m.end():]
            nxt = re.match(r"\s+([\w’'.-]+)", after)
            word = nxt.group(1) if nxt else ""
            title = word.lower().strip(".,;:") in self.titles
            if form.role in (COUNTRY, "capital") and not headline and (
                    not poss and word[:1].isupper() and not title or self._of_name(text[: m.start()])):
                continue
            art = _THE.search(text[: m.start()])
            use = "compound" if not poss and after.startswith("-") else \
                "modifier" if not poss and form.role != DEMONYM and (title or art and _abbreviation(name)
                                                                     and self._noun_after(word)) \
                else "noun"
            start, the, said = m.start(), "", ""
            if use == "noun" and art and form.role in self.article_roles and not name.lower().startswith("the "):
                start, the = art.start(1), art.group(1)
            entry = self.table[form.actor][form.role][form.index]
            for t in (*entry.title, *(t.lower() for t in entry.title)):
                at = start - len(t) - 1
                if text[: m.start()].endswith(t + " ") and (at == 0 or not text[at - 1].isalnum()):
                    start, said = at, t
                    break
            det = bool(_DETERMINED.search(text[: m.start()]))
            out.append(_Mention(start, m.end("name"), form, use, the, poss, said, det))
        return out

    def _matches(self, text: str) -> Iterator[re.Match[str]]:
        """The table's names left to right; a match whose last word opens a longer name ("The South" in "The South
        Korean leader") gives way to that longer name."""
        pos = 0
        while self._re is not None and (m := self._re.search(text, pos)):
            last = m.start() + m.group("name").rfind(" ") + 1
            if last > m.start():
                longer = self._re.match(text, last)
                if longer is not None and longer.end("name") > m.end("name"):
                    pos = last
                    continue
            yield m
            pos = m.end()

    def _of_name(self, before: str) -> bool:
        """Whether a name ends "<Name> of" before it, making it part of a longer name ("Sea of Japan"), unless that
        word is a title ("President of Russia")."""
        m = re.search(r"(?<!\w)([A-Z][\w-]*) of $", before)
        return bool(m) and m.group(1).lower() not in self.titles

    def _noun_after(self, word: str) -> bool:
        """Whether the word after "the <abbreviation>" is a noun it modifies ("the US move", "the U.S. mainland"),
        not the verb or function word of a name used as a noun ("the US said", "the US might", "the US and Japan")."""
        w = word.strip(".,;:!?\"”’'")
        return bool(w) and w.islower() and w not in self.function_words and not w.endswith(("ed", "ly", "s", "ing"))

    def mentioned(self, texts: Sequence[str]) -> set[str]:
        """Every actor the texts name: by the table, or by the scheme's aliases and demonyms."""
        return {m.form.actor for t in texts for m in self.mentions(t)} | \
            {m.actor for t in texts for m in self.matcher.mentions(t)}

    def usable(self, actor: str, role: str) -> list[int]:
        """The entries of a role that may be swapped in or out for ``actor``: names the scheme's own aliases and
        demonyms count for it, so that the copy's actor is the one the label specification gives it (Xinhua, a
        non-state source to the scheme, is never swapped)."""
        return [i for i, e in enumerate(self.table.get(actor, {}).get(role, ())) if self._counts_for(e.name, actor)]

    def _counts_for(self, name: str, actor: str) -> bool:
        core = _core(name)[0]
        found = self.matcher.mentions(core)
        return bool(found) and core not in self.non_state and all(m.actor == actor for m in found)

    # -- swapping

    def targets(self, texts: Sequence[str], source: str, key: object) -> list[str]:
        """Actors a copy may take, in a seeded order: every other actor with names that the texts do not mention."""
        named = self.mentioned(texts)
        out = [a for a in self.table if a != source and a not in named]
        random.Random(_seed(self.seed, key, source)).shuffle(out)
        return out

    def swap(self, texts: Sequence[str], source: str, target: str, key: object = "",
             kinds: Sequence[str] | None = None, strict: bool = True) -> tuple[str, ...]:
        """``texts`` with every name of ``source`` replaced by ``target``'s name of the same role (one person for one
        person throughout). ``strict``: raise Unclean where the swap is not clean; else leave such names as they are
        (a caller checks each part, as for a whole article)."""
        kinds = list(kinds or ["sentence"] * len(texts))
        mentions = [self.mentions(t, k in HEADLINES) for t, k in zip(texts, kinds)]
        if strict:
            self._check_covered(texts, mentions, source)
        rng = random.Random(_seed(self.seed, key, source, target))
        chosen: dict[tuple[str, int], int] = {}
        free: dict[str, list[int]] = {}
        out = []
        for t, ms, kind in zip(texts, mentions, kinds):
            parts, pos = [], 0
            for m in ms:
                if m.form.actor != source:
                    continue
                try:
                    new = self._fit(t, m, self._replacement(m, target, kind in HEADLINES, rng, chosen, free))
                except Unclean:
                    if strict:
                        raise
                    continue
                parts += [_article_before(t[pos:m.start], new), new, _possessive(new, m.possessive)]
                pos = m.end + len(m.possessive)
            out.append("".join(parts) + t[pos:])
        if strict:
            for t in out:
                self.check_clean(t, source)
        return tuple(out)

    def _check_covered(self, texts: Sequence[str], mentions: Sequence[list[_Mention]], source: str) -> None:
        """Every name the scheme knows for ``source`` must hold a table name, the rest of it titles ("Russian Foreign
        Ministry spokeswoman"); "Secretary of State", "US Forces Korea" have no counterpart in another actor."""
        for t, ms in zip(texts, mentions):
            spans = [(m.start, m.end) for m in ms if m.form.actor == source]
            for sm in self.matcher.mentions(t):
                if sm.actor != source:
                    continue
                inside = [(a, b) for a, b in spans if a < sm.end and b > sm.start]
                if not inside:
                    raise Unclean(f"'{sm.text}' has no counterpart in the names table")
                rest = t[sm.start:sm.end]
                for a, b in inside:
                    rest = rest.replace(t[max(a, sm.start):min(b, sm.end)], " ")
                if any(w[:1].isupper() and w.lower() not in self.titles and w not in self.forms
                       and w not in self.matcher.owner for w in re.findall(r"[\w.-]+", rest)):
                    raise Unclean(f"'{sm.text}' is longer than the names table's name in it")

    def check_clean(self, text: str, source: str) -> None:
        """Raise Unclean when ``text`` still names ``source``: an alias the scheme knows, or part of a person's name
        ("Kim") outside the names of other actors."""
        if any(m.actor == source and (m.kind == "alias" or m.role == "official") for m in self.matcher.mentions(text)):
            raise Unclean(f"a name of {source} is left")
        masked = text
        for m in self.mentions(text):
            if m.form.actor != source:
                masked = masked[:m.start] + " " * (m.end - m.start) + masked[m.end:]
        for sm in self.matcher.mentions(text):
            if sm.actor != source:
                masked = masked[:sm.start] + " " * (sm.end - sm.start) + masked[sm.end:]
        words = set(re.findall(r"[\w’'-]+", masked))
        left = sorted(self.name_parts.get(source, set()) & words)
        if left:
            raise Unclean(f"part of a name of {source} is left: {left[0]}")

    def _replacement(self, m: _Mention, target: str, headline: bool, rng: random.Random,
                     chosen: dict[tuple[str, int], int], free: dict[str, list[int]]) -> str:
        """The target's name for one mention: the same person for the same source entry, a demonym for a country
        used as a modifier, a short form for a short form or in compounds and headlines."""
        f = m.form
        if not self._counts_for(self.table[f.actor][f.role][f.index].name, f.actor):
            raise Unclean(f"the scheme does not count '{self.table[f.actor][f.role][f.index].name}' for {f.actor}")
        role = DEMONYM if f.role == COUNTRY and m.use == "modifier" else f.role
        if role != f.role:  # "US officials": the target's demonym, its only entry
            idx = self.usable(target, role)
            if not idx:
                raise Unclean(f"{target} has no usable {role}")
            return self.table[target][role][idx[0]].name
        key = (role, f.index)
        if key not in chosen:
            if role not in free:
                free[role] = self.usable(target, role)
                rng.shuffle(free[role])
            if not free[role]:
                raise Unclean(f"{target} has no (further) usable {role}")
            chosen[key] = free[role].pop(0)
        entry: Name = self.table[target][role][chosen[key]]
        if m.title:  # "Secretary of State Rex Tillerson" -> "Foreign Minister Sergey Lavrov"
            title = entry.title[0] if entry.title else m.title
            title = title.lower() if m.title.islower() else title
            return f"{title} {entry.name if f.kind != 'short' or not entry.short else entry.short}"
        if f.kind == "plural":
            return _plural(entry.name)
        core, article = _core(entry.name)
        compact = entry.short if entry.short and self._counts_for(entry.short, target) else core
        if f.kind == "short" and entry.short and self._counts_for(entry.short, target):
            return entry.short
        if m.use == "compound" or (headline and role == COUNTRY):
            return compact
        if m.use == "modifier" or headline or role not in self.article_roles or (not m.the and m.determined):
            return core
        return f"the {core}" if article else core

    @staticmethod
    def _fit(text: str, m: _Mention, new: str) -> str:
        """Capitalise an article at a sentence start, and keep an abbreviation's sentence-final full stop."""
        before = text[: m.start].rstrip(" “\"‘'([")
        if new.startswith("the ") and (m.the == "The" or not before or before.endswith((".", "!", "?", ":"))):
            new = "T" + new[1:]
        old = text[m.start:m.end]
        if old.endswith(".") and not new.endswith(".") and not text[m.end:].strip(" ”\"’')"):
            new += "."
        return new

    # -- alias variety: the same actors, named otherwise

    def written_forms(self, actor: str, role: str, index: int) -> list[str]:
        """The forms of one entry an alias-varied copy may write: its name, short form and other spellings that the
        scheme counts for ``actor`` ("North Korea", "DPRK", "Democratic People's Republic of Korea", "N. Korea")."""
        e = self.table[actor][role][index]
        forms = [_core(e.name)[0], *([e.short] if e.short else []), *e.also]
        return [f for f in dict.fromkeys(forms) if self._counts_for(f, actor)]

    def vary(self, texts: Sequence[str], key: object, kinds: Sequence[str] | None = None) -> tuple[str, ...] | None:
        """``texts`` with every country (or international body) named by another of its forms, the same form for the
        same entry throughout, seeded by ``key``; None when no name changed. An abbreviation or a formal name
        ("DPRK", "Republic of Korea") takes "the" as a noun and stands bare as a modifier ("DPRK officials") and in
        headlines; a long form is never used as a modifier."""
        kinds = list(kinds or ["sentence"] * len(texts))
        rng = random.Random(_seed(self.seed, key, "alias"))
        chosen: dict[tuple[str, str, int], str] = {}
        out, changed = [], False
        for t, kind in zip(texts, kinds):
            headline = kind in HEADLINES
            parts, pos = [], 0
            for m in self.mentions(t, headline):
                f = m.form
                if f.role not in (COUNTRY, "body") or m.title:
                    continue
                k = (f.actor, f.role, f.index)
                if k not in chosen:
                    chosen[k] = rng.choice(self.written_forms(*k) or [t[m.start:m.end]])
                form = chosen[k]
                bare = _abbreviation(form) or form.startswith("the ") is False and len(form.split()) == 1
                if m.use in ("modifier", "compound") and not _abbreviation(form):
                    continue  # "Democratic People's Republic of Korea officials" is not written
                new = form if headline or m.use != "noun" or form.startswith("the ") or not _takes_the(form) \
                    else f"the {form}"
                new = new[4:] if headline and new.startswith("the ") and not bare else new
                new = self._fit(t, m, new)
                if new.lower() == t[m.start:m.end].lower():
                    continue
                parts += [_article_before(t[pos:m.start], new), new, _possessive(new, m.possessive)]
                pos = m.end + len(m.possessive)
                changed = True
            out.append("".join(parts) + t[pos:])
        return tuple(out) if changed else None

    def copies(self, texts: Sequence[str], source: str, key: object, n: int,
               kinds: Sequence[str] | None = None) -> tuple[list[Copy], str | None]:
        """Up to ``n`` clean copies for different targets (seeded order), and why there is none when there is none."""
        made, reason = self._copies(tuple(texts), source, key, n, None if kinds is None else tuple(kinds))
        return list(made), reason

    @memo_method
    def _copies(self, texts: tuple[str, ...], source: str, key: object, n: int,
                kinds: tuple[str, ...] | None) -> tuple[tuple[Copy, ...], str | None]:
        """``copies``, remembered: the model and the rules are swap-tested on the same copies."""
        if source not in self.table or not any(m.form.actor == source for t in texts for m in self.mentions(t)):
            return (), "no_mention"
        targets = self.targets(texts, source, key)
        if not targets:
            return (), "no_target"
        out: list[Copy] = []
        for target in targets:
            try:
                out.append(Copy(target, self.swap(texts, source, target, key, kinds)))
            except Unclean:
                continue
            if len(out) == n:
                break
        return tuple(out), None if out else "unclean"


def _takes_the(form: str) -> bool:
    """Whether a country's form takes "the" as a noun: abbreviations ("the DPRK", "the U.S.") and formal names
    ("the Republic of Korea", "the Russian Federation", "the United Nations"), but not "Russia" or "N. Korea"."""
    words = form.split()
    if len(words) == 1:
        return _abbreviation(form)
    return " of " in f" {form} " or words[0] in ("United",) or words[-1] in ("Federation", "Nations", "States")


def _possessive(name: str, poss: str) -> str:
    """The possessive after a swapped-in name: "the United States'" for "Russia's", "Russia's" for "the United
    States'"."""
    if not poss:
        return poss
    if name.endswith("s") and len(poss) == 2:
        return poss[0]
    return poss + "s" if len(poss) == 1 and not name.endswith("s") else poss


_A_AN = re.compile(r"(?:^|(?<=\W))([Aa])(n?) $")


def _article_before(before: str, new: str) -> str:
    """The text before a swapped-in name, its last word "a"/"an" agreeing with the name ("an American", "a US")."""
    m = _A_AN.search(before)
    if not m:
        return before
    vowel = new[:1] in "AEIO" or (new[:1] == "U" and new[1:2].islower() and not new.startswith("Uni"))
    return before[: m.start()] + m.group(1) + ("n" if vowel else "") + " "


@dataclass(frozen=True)
class SwappedUnit:
    """A swapped copy of ``units[index]``, to be labelled ``target`` with the original's stance."""

    index: int
    target: str
    unit: Unit


def vary_units(swapper: Swapper, units: Sequence[Unit], n: int) -> list[SwappedUnit]:
    """Up to ``n`` alias-varied copies of each unit that names a country (id ``<id>~alias<k>``), labels kept; the
    copy keeps the original's speaker as given (``extra["speaker"]`` is varied with the text)."""
    out: list[SwappedUnit] = []
    for i, u in enumerate(units):
        seen: set[tuple[str, ...]] = set()
        for k in range(n):
            speaker = u.extra.get("speaker") or ""
            texts = swapper.vary([u.text, speaker, u.quote_attribution or ""], (u.id, k), [u.kind, "sentence",
                                                                                          "sentence"])
            if texts is None or texts in seen:
                continue
            seen.add(texts)
            text, new_speaker, attribution = texts
            extra = {**u.extra, "alias_of": u.id}
            if speaker:
                extra["speaker"] = new_speaker
            cid = f"{u.id}~alias{k}"
            out.append(SwappedUnit(i, "", replace(u, id=cid, article_id=cid, text=text,
                                                  quote_attribution=attribution or u.quote_attribution, extra=extra)))
    return out


def swap_units(swapper: Swapper, units: Sequence[Unit], actors: Sequence[str], n: int,
               speakers: Sequence[str | None] | None = None) -> tuple[list[SwappedUnit], Counter[str]]:
    """Up to ``n`` copies of each unit whose actor has names, each a unit of its own (id ``<id>~<target>``) with its
    text, its quote's attribution and its speaker (``speakers``: the speaker each unit is read with) swapped; and
    the count of units skipped, by reason (units of the none actor are not counted)."""
    out: list[SwappedUnit] = []
    skipped: Counter[str] = Counter()
    for i, (u, actor) in enumerate(zip(units, actors)):
        if actor == swapper.scheme.none_actor:
            continue
        speaker = speakers[i] if speakers is not None else u.extra.get("speaker")
        texts = [u.text, speaker or "", u.quote_attribution or ""]
        made, reason = swapper.copies(texts, actor, u.id, n, [u.kind, "sentence", "sentence"])
        if reason:
            skipped[reason] += 1
        for c in made:
            text, new_speaker, attribution = c.texts
            cid = f"{u.id}~{c.target}"
            extra = {**u.extra, "swap_of": u.id, "swap_target": c.target}
            if speaker:
                extra["speaker"] = new_speaker
            out.append(SwappedUnit(i, c.target, replace(u, id=cid, article_id=cid, text=text,
                                                        quote_attribution=attribution or u.quote_attribution,
                                                        extra=extra)))
    return out, skipped
