"""A seeded synthetic corpus from templates and phrase banks (YAML), labelled by construction.

It teaches the model the attribution patterns the article alone cannot cover: every actor under
many names and in roles that fit it, every stance, and every case of the label specification
(reported speech, quotes over several sentences attributed at their end, "he said", a surname or a
title alone after the full name, headlines, datelines, passives, joined agents, UN ambassadors,
unaffiliated experts, background, procedure, nested reports, condemnations, defiance, negation,
"but" concessions, human cost).

A template is a small article: one unit or several ("units:"), each with its own labels. The
article is written as text (one line per paragraph) and cut by the project's own segmenter, so a
unit's kind, quote run and quote attribution come from the same code as for real articles, and the
units of one article share an article id: ``systems.context`` then carries a named speaker to a
later "he said" exactly as it does in prediction. An article whose segmentation does not give back
the template's units is dropped. Every unit is kept away from the gold sentences by a token-overlap
(Jaccard) filter; one unit too close drops its whole article.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import KpstanceError
from ..text.overlap import jaccard, tokens
from ..text.segment import Unit, segment_article
from ..yamlfile import key_error, read_yaml
from .aliases import matcher_for
from .attribution import rules_for
from .scheme import LabelScheme

log = logging.getLogger("kpstance")

SLOT_RE = re.compile(r"\{(\w+)\}")
HEADLINE_KINDS = ("title", "subheading")
PERSON_SLOTS = ("full", "short", "title", "he")  # the article's named person of actor A (see `people:`)
ARTICLE_PREFIX = "synthetic-"
# The keys of a template file: the word lists a slot reads ({verb}, {belief}, {plural_belief}, {intro}) may be left
# out where no template uses that slot; `templates` is required. A misspelled key is refused, not ignored.
LISTS = {"speech_verbs": "verb", "belief_verbs": "belief", "plural_belief_verbs": "plural_belief", "intros": "intro"}
SPEC_KEYS = ("templates", *LISTS, "speaker_roles", "phrases", "plural_phrases", "roles", "people", "agents",
             "definite_names", "default_B", "default_demonym", "target_aliases")
# Slots filled from the actors and people of the article (see the template file's header); {X_<role>} and the
# phrase banks come on top.
TEMPLATE_KEYS = ("pattern", "actor", "stance", "units", "A", "B", "A2", "tags", "weight")
UNIT_KEYS = ("pattern", "actor", "stance", "tags", "same_paragraph")
PERSON_KEYS = ("full", "short", "he", "titles", "leads")
_warned: set[tuple[str, tuple[str, ...]]] = set()  # skipped names said once per file, however often it is read
ACTOR_SLOTS = ("A", "A2", "B", "A_agent", "A2_agent", "A_state", "B_state", "A_src", "B_src", "A_person", "B_person",
               "Dem_A", "Dem_B", "B_full")


@dataclass(frozen=True)
class Example:
    """One training unit, labelled by construction, with what the segmenter gave it inside its article."""

    text: str
    actor: str
    stance: str
    template: int
    tags: tuple[str, ...]
    article: int = 0  # the article's number in the corpus: units of one article share it
    index: int = 0  # the unit's position in its article
    kind: str = "sentence"
    paragraph: int = -1
    in_quote: bool = False
    quote_opens: bool = False
    quote_attribution: str | None = None

    def unit(self) -> Unit:
        """The unit a system trains on: its article id makes speakers carry between the article's units."""
        aid = f"{ARTICLE_PREFIX}{self.article:05d}"
        return Unit(id=f"{aid}-{self.index:03d}", article_id=aid, index=self.index, section=0, kind=self.kind,
                    text=self.text, paragraph=self.paragraph, in_quote=self.in_quote, quote_opens=self.quote_opens,
                    quote_attribution=self.quote_attribution)


@dataclass(frozen=True)
class Person:
    actor: str
    full: str  # a name the label YAML knows for the actor
    short: str | None  # the surname alone, when the label YAML knows it for the actor
    titles: tuple[str, ...]  # "the foreign minister": a bare title the context resolves to the last named speaker
    leads: tuple[str, ...]  # "Russian Foreign Minister": put before the full name
    he: str


class Generator:
    """Fill templates with phrases and actor names; the template states the labels."""

    def __init__(self, spec_path: str | os.PathLike, scheme: LabelScheme) -> None:
        p = Path(spec_path)
        self.path = p
        spec = read_yaml(p, "synthetic template file")
        self._check_spec(spec)
        self.spec = spec
        self.scheme = scheme
        self.banks: dict[str, list[str]] = {**(spec.get("phrases") or {}), **(spec.get("plural_phrases") or {})}
        for key, slot in LISTS.items():
            self.banks[slot] = spec.get(key) or ([""] if slot == "intro" else [])
        self.speaker_roles: list[str] = spec.get("speaker_roles") or []
        self.actors = {a.name: a for a in scheme.actors}
        self.roles: dict[str, list[str]] = {}
        for k, v in (spec.get("roles") or {}).items():
            self.roles[k] = self._actor_list(v, f"roles.{k}")
        self.people, self.skipped_names = self._people(spec.get("people") or {})
        self.agents = {a: [n for n in names if self._owner(n) == a]
                       for a, names in (spec.get("agents") or {}).items() if self._actor_list([a], f"agents.{a}")}
        self.skipped_names += [n for a, names in (spec.get("agents") or {}).items() for n in names
                                if n not in self.agents[a]]
        if self.skipped_names and (str(p), tuple(self.skipped_names)) not in _warned:  # a misspelt name would
            _warned.add((str(p), tuple(self.skipped_names)))  # leave its actor without people, in silence
            log.warning("%s: %d name(s) of people: or agents: that the label file does not give to that actor are "
                        "skipped: %s", p, len(self.skipped_names), ", ".join(self.skipped_names[:8])
                        + (", ..." if len(self.skipped_names) > 8 else ""))
        self.definite = set(spec.get("definite_names") or ())
        self.default_b = spec.get("default_B")
        self.default_demonym = spec.get("default_demonym")
        self.templates = [self._template(i, t) for i, t in enumerate(spec["templates"])]
        self.weights = [float(t.get("weight", 1.0)) for t in self.templates]
        self._deck: list[int] = []
        self.n_targets = int(spec.get("target_aliases", 3))

    # --- loading and checking -------------------------------------------------------------------
    def _error(self, message: str, *keys: str | int) -> KpstanceError:
        """One line naming the template file and the line of the deepest of ``keys``."""
        return key_error(message, self.path, *keys)

    def _check_spec(self, spec: object) -> None:
        """The file's shape, before anything reads it: a mapping of known keys, each of the right kind."""
        if not isinstance(spec, dict):
            raise self._error("expected a mapping at the top level (keys: templates, phrases, people, ...)")
        unknown = [k for k in spec if k not in SPEC_KEYS]
        if unknown:
            raise self._error(f"unknown key '{unknown[0]}' (allowed: {', '.join(SPEC_KEYS)})", unknown[0])
        if not isinstance(spec.get("templates"), list) or not spec["templates"]:
            raise self._error("'templates' must be a non-empty list", *(("templates",) if "templates" in spec else ()))
        if spec.get("default_demonym") is not None and not isinstance(spec["default_demonym"], str):
            raise self._error("'default_demonym' must be a word (the demonym written for an actor without one)",
                              "default_demonym")
        if "target_aliases" in spec and not (isinstance(spec["target_aliases"], int) and spec["target_aliases"] > 0):
            raise self._error("'target_aliases' must be a whole number above 0", "target_aliases")
        for key in (*LISTS, "speaker_roles", "definite_names"):
            v = spec.get(key)
            if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                raise self._error(f"'{key}' must be a list of strings", key)
        for key in ("phrases", "plural_phrases", "roles", "people", "agents"):
            v = spec.get(key)
            if v is not None and not isinstance(v, dict):
                raise self._error(f"'{key}' must be a mapping", key)
        reserved = {*LISTS.values(), *ACTOR_SLOTS, *PERSON_SLOTS}
        for key in ("phrases", "plural_phrases"):
            for name, v in (spec.get(key) or {}).items():
                if not (isinstance(v, list) and v and all(isinstance(x, str) for x in v)):
                    raise self._error(f"{key}.{name}: a non-empty list of strings", key, name)
                if name in reserved or str(name).startswith("X_"):  # the slot would never draw from this bank
                    raise self._error(f"{key}.{name}: the name of a slot the generator fills itself; name the bank "
                                      "otherwise", key, name)
        for actor, rows in (spec.get("people") or {}).items():
            if not isinstance(rows, list):
                raise self._error(f"people.{actor}: a list of people, each a mapping with 'full: ...'", "people", actor)
            for i, r in enumerate(rows):
                at = ("people", actor, i)
                if not isinstance(r, dict) or not isinstance(r.get("full"), str):
                    raise self._error(f"people.{actor}[{i}]: a mapping with the person's full name ('full: ...')", *at)
                self._check_keys(r, PERSON_KEYS, f"people.{actor}[{i}]", at)
                for key in ("short", "he"):
                    if r.get(key) is not None and not isinstance(r[key], str):
                        raise self._error(f"people.{actor}[{i}].{key}: a word or name", *at, key)
                for key in ("titles", "leads"):  # a string here was read letter by letter ("F Sergey Lavrov said")
                    if r.get(key) is not None and not (isinstance(r[key], list)
                                                       and all(isinstance(x, str) for x in r[key])):
                        raise self._error(f"people.{actor}[{i}].{key}: a list of strings", *at, key)
        for i, t in enumerate(spec["templates"]):
            if not isinstance(t, dict) or not isinstance(t.get("units", []), list):
                raise self._error(f"templates[{i}]: a mapping with a pattern (or a list of units)", "templates", i)
            self._check_keys(t, TEMPLATE_KEYS, f"templates[{i}]", ("templates", i))
            if not isinstance(t.get("weight", 1.0), (int, float)) or isinstance(t.get("weight"), bool):
                raise self._error(f"templates[{i}].weight: a number", "templates", i, "weight")
            for j, u in enumerate(t.get("units") or []):
                if isinstance(u, dict):
                    self._check_keys(u, UNIT_KEYS, f"templates[{i}].units[{j}]", ("templates", i, "units", j))

    def _check_keys(self, mapping: dict, allowed: tuple[str, ...], where: str, at: tuple[str | int, ...]) -> None:
        """A misspelled key of a template, unit or person ('stnace', 'shrot') is refused, not ignored."""
        unknown = [k for k in mapping if k not in allowed]
        if unknown:
            raise self._error(f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(allowed)})", *at, unknown[0])

    def _actor_list(self, value: object, where: str) -> list[str]:
        keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", where)]  # 'templates[3].A'
        names = self.roles.get(value) if isinstance(value, str) else value
        if names is None:
            raise self._error(f"{where}: unknown role '{value}' (roles: {', '.join(self.roles)})", *keys)
        if not isinstance(names, list) or not names:
            raise self._error(f"{where}: a role name or a non-empty list of actors", *keys)
        unknown = [a for a in names if a not in self.actors]
        if unknown:
            raise self._error(f"{where}: unknown actor '{unknown[0]}' (actors: {', '.join(self.actors)})", *keys)
        return list(names)

    def _people(self, spec: dict) -> tuple[dict[str, list[Person]], list[str]]:
        """Named people per actor; a name the label YAML does not give to that actor is skipped (and listed)."""
        matcher = matcher_for(self.scheme)
        rules = rules_for(self.scheme)
        owner = self._owner
        out: dict[str, list[Person]] = {a: [] for a in self.actors}
        skipped = []
        for actor, rows in spec.items():
            self._actor_list([actor], f"people.{actor}")
            for r in rows:
                if owner(r["full"]) != actor:
                    skipped.append(r["full"])
                    continue
                short = r.get("short") if r.get("short") and owner(r["short"]) == actor else None
                titles = tuple(t for t in r.get("titles", ()) if len(t.split()) <= 4 and rules.role_re.search(t)
                               and not matcher.mentions(t))
                out[actor].append(Person(actor, r["full"], short, titles, tuple(r.get("leads", ())), r.get("he", "he")))
        return out, skipped

    def _owner(self, name: str) -> str | None:
        """The actor the label YAML gives ``name`` to, when the whole of it is one mention."""
        ms = matcher_for(self.scheme).actor_mentions(name)
        return ms[0].actor if ms and ms[0].start == 0 and ms[0].end == len(name) else None

    def _template(self, i: int, t: dict) -> dict:
        where = f"templates[{i}]"
        units = t.get("units") or [{"pattern": t.get("pattern"), "actor": t.get("actor"), "stance": t.get("stance")}]
        at = ("templates", i)
        for j, u in enumerate(units):
            if not isinstance(u, dict) or not isinstance(u.get("pattern"), str):
                raise self._error(f"{where}.units[{j}]: a pattern is needed", *at, "units", j)
            if u.get("stance") not in self.scheme.stance_labels:
                raise self._error(f"{where}: unknown stance '{u.get('stance')}' (stances: "
                                  f"{', '.join(self.scheme.stance_labels)})", *at, "units", j)
            if u.get("actor") not in ("A", "B", self.scheme.none_actor):
                raise self._error(f"{where}: actor must be A, B or {self.scheme.none_actor}", *at, "units", j)
            if u["actor"] == self.scheme.none_actor and u["stance"] != self.scheme.neutral_stance:
                raise self._error(f"{where}: actor {self.scheme.none_actor} goes with "
                                  f"{self.scheme.neutral_stance}", *at, "units", j)
        found = self._slots(u["pattern"] for u in units)
        for slot, bank in found.items():
            self._check_slot(slot, f"{where}, phrase bank '{bank}'" if bank else where, at)
        slots = {slot.lower() for slot in found}  # in the patterns or any phrase they draw
        cand = self._actor_list(t.get("A", list(self.actors)), f"{where}.A")
        if slots & set(PERSON_SLOTS):  # A must have a named person with what the template needs
            cand = [a for a in cand if any(self._fits(p, slots) for p in self.people[a])]
        if "dem_a" in slots:
            cand = [a for a in cand if self.actors[a].demonyms]
        if not cand:
            raise self._error(f"{where}: no actor fits its role and its slots", *at)
        b = self._actor_list(t.get("B", self.default_b or list(self.actors)), f"{where}.B")
        a2 = self._actor_list(t["A2"], f"{where}.A2") if "A2" in t else list(self.actors)
        if "b_full" in slots:
            b = [x for x in b if self.people[x]]
        if "dem_b" in slots and not self.default_demonym:  # no demonym to write for a body such as the UN
            b = [x for x in b if self.actors[x].demonyms]
        if not b:  # an actor drawn outside its role would be written where the template cannot name it
            raise self._error(f"{where}: no actor fits B (its role and its slots: "
                              f"{'B_full needs people' if 'b_full' in slots else 'Dem_B needs a demonym'})", *at)
        return {**t, "units": units, "A": cand, "B": b, "A2": a2, "tags": tuple(t.get("tags", ())), "slots": slots}

    def _key(self, slot: str) -> str:
        """What a slot is filled from, as ``article`` reads it: '{Verb}' is the bank 'verb' capitalised."""
        low = slot[:1].lower() + slot[1:]
        return low if slot[:1].isupper() and (low in self.banks or low in PERSON_SLOTS) else slot

    def _slots(self, texts: Iterable[str]) -> dict[str, str | None]:
        """Every slot of ``texts`` and of the phrase banks they draw from, however deep, with the bank each was first
        met in (None: the text itself)."""
        out: dict[str, str | None] = {}
        todo = [(slot, None) for t in texts for slot in SLOT_RE.findall(t)]
        while todo:
            slot, bank = todo.pop(0)
            if slot in out:
                continue
            out[slot] = bank
            key = self._key(slot)
            todo += [(inner, key) for phrase in self.banks.get(key, ()) for inner in SLOT_RE.findall(phrase)]
        return out

    def _check_slot(self, slot: str, where: str, at: tuple[str | int, ...]) -> None:
        """A slot the generator can fill (checked when the file is read: an unknown one used to stop a run only once
        its folder was made)."""
        key = self._key(slot)
        if key in PERSON_SLOTS or key in ACTOR_SLOTS or (key.startswith("X_") and key[2:] in self.roles):
            return
        if key in LISTS.values() and not self.banks.get(key):
            raise self._error(f"{where}: slot '{{{slot}}}' needs the list "
                              f"'{next(k for k, v in LISTS.items() if v == key)}'", *at)
        if key not in self.banks:
            raise self._error(f"{where}: unknown slot '{{{slot}}}' (a phrase bank, a role's X_<role>, or one of "
                              f"{', '.join(ACTOR_SLOTS + PERSON_SLOTS)})", *at)

    @staticmethod
    def _fits(p: Person, slots: set[str]) -> bool:
        return ("short" not in slots or p.short is not None) and ("title" not in slots or bool(p.titles))

    # --- names --------------------------------------------------------------------------------------
    def _names(self, actor: str) -> list[str]:
        """The actor's aliases that read as a subject: no possessive forms, no lower-case or "The" variants."""
        al = self.actors[actor].aliases
        return [f"the {a}" if a in self.definite else a for a in al
                if not a.endswith(("'s", "’s")) and (a[:1].isupper() or a.startswith("the "))
                and not (a.startswith("The ") and "the " + a[4:] in al) and "the " + a not in al]

    def _agents(self, actor: str) -> list[str]:
        """Names that act for the state (`agents:`), else its own names."""
        return [f"the {a}" if a in self.definite else a for a in self.agents.get(actor, ())] or \
            self._names(actor)[: self.n_targets]

    def _speakers(self, actor: str, rng: random.Random) -> str:
        a = self.actors[actor]
        if a.demonyms and self.speaker_roles and rng.random() < 0.4:
            return rng.choice(self.speaker_roles).format(dem=rng.choice(a.demonyms))
        return rng.choice(self._names(actor))

    # --- generation -----------------------------------------------------------------------------
    def article(self, rng: random.Random) -> tuple[int, list[dict]]:
        """One filled template: its index and its units (text, labels, tags, paragraph break before it)."""
        if not self._deck:  # every template, `weight` times, in a shuffled round: all are used early on
            self._deck = [i for i, w in enumerate(self.weights) for _ in range(max(1, round(w)))]
            rng.shuffle(self._deck)
        ti = self._deck.pop()
        t = self.templates[ti]
        a = rng.choice(t["A"])
        b = rng.choice([x for x in t["B"] if x != a] or [x for x in self.actors if x != a and (
            self.default_demonym or "dem_b" not in t["slots"] or self.actors[x].demonyms)])
        a2 = rng.choice([x for x in t["A2"] if x not in (a, b)] or [x for x in self.actors if x not in (a, b)])
        slots = t["slots"]
        people = [p for p in self.people[a] if self._fits(p, slots)]
        person = rng.choice(people) if people else None
        b_person = rng.choice(self.people[b]) if self.people[b] else None
        fixed: dict[str, str] = {}  # person slots keep one value through the article
        if person is not None:
            fixed["he"] = person.he
            fixed["short"] = person.short or person.full
            fixed["title"] = rng.choice(person.titles) if person.titles else person.full
        out = []
        for u in t["units"]:
            values: dict[str, str] = {}

            def fill(slot: str, u=u, values=values) -> str:
                if slot in values:
                    return values[slot]
                key = self._key(slot)
                cap = key != slot  # '{Verb}': the bank 'verb', capitalised
                if key in fixed:
                    v = fixed[key]
                elif key == "full":
                    v = self._full(person, rng)
                elif key == "B_full":
                    v = self._full(b_person, rng)
                elif key in ("A", "A2", "B"):
                    actor = {"A": a, "A2": a2, "B": b}[key]
                    v = rng.choice(self._names(actor)[: self.n_targets] if key == "B" else self._names(actor))
                elif key in ("A_agent", "A2_agent"):
                    v = rng.choice(self._agents(a if key == "A_agent" else a2))
                elif key.startswith("X_") and key[2:] in self.roles:  # a state name of an actor of that role
                    v = rng.choice(self._names(rng.choice(self.roles[key[2:]]))[: self.n_targets])
                elif key in ("A_state", "B_state"):  # one of the state's own names (the label YAML lists them first)
                    v = rng.choice(self._names(a if key == "A_state" else b)[: self.n_targets])
                elif key in ("A_src", "B_src"):
                    v = self._speakers(a if key == "A_src" else b, rng)
                elif key in ("A_person", "B_person"):
                    pool = [n for n in self._names(a if key == "A_person" else b) if not n.startswith("the ")]
                    v = rng.choice(pool)
                elif key in ("Dem_A", "Dem_B"):
                    who = a if key == "Dem_A" else b  # an actor without demonyms: the file's default, else its name
                    v = rng.choice(self.actors[who].demonyms or ((self.default_demonym,) if self.default_demonym
                                                                 else self._names(who)[:1]))
                elif key in self.banks:
                    v = SLOT_RE.sub(lambda m: fill(m.group(1)), rng.choice(self.banks[key]))
                else:
                    raise KpstanceError(f"unknown slot '{{{slot}}}' in templates[{ti}]", self.path)
                if cap:
                    v = v[:1].upper() + v[1:]
                values[slot] = v
                return v

            text = re.sub(r"\s+", " ", SLOT_RE.sub(lambda m: fill(m.group(1)), u["pattern"])).strip()
            text = re.sub(r"(?<=[a-z]s)'s\b", "'", text)  # "the United States' drills"
            text = re.sub(r"(?<=[A-Z])\.\.(?=[\s\"”]|$)", ".", text)  # "by the U.S." at the end
            i = 1 if text[:1] in "\"“" else 0
            text = text[:i] + text[i : i + 1].upper() + text[i + 1 :]
            actor = {"A": a, "B": b}.get(u["actor"], self.scheme.none_actor)
            out.append({"text": text, "actor": actor, "stance": u["stance"],
                        "tags": tuple(dict.fromkeys((*t["tags"], *u.get("tags", ())))),
                        "same_paragraph": bool(u.get("same_paragraph"))})
        return ti, out

    @staticmethod
    def _full(person: Person | None, rng: random.Random) -> str:
        if person is None:
            raise KpstanceError("a template names a person of an actor with no people")
        if person.leads and rng.random() < 0.5:
            return f"{rng.choice(person.leads)} {person.full}"
        return person.full

    def example(self, rng: random.Random) -> Example:
        """One unit (the first of a filled template): for callers that want sentences, not articles."""
        ti, units = self.article(rng)
        u = units[0]
        return Example(u["text"], u["actor"], u["stance"], ti, u["tags"])

    def generate(self, n: int, seed: int, exclude: Sequence[str] = (), max_overlap: float = 0.8) -> list[Example]:
        """``n`` units from distinct articles, reproducible from ``seed``, none overlapping ``exclude`` too much.

        The units of an article follow each other in the list; an article that would overshoot ``n`` is
        passed over for a smaller one."""
        rng = random.Random(seed)
        self._deck = []
        refs: dict[int, list[frozenset[str]]] = {}  # by size: a Jaccard of t needs sizes within a factor t
        for r in exclude:
            tk = tokens(r)
            refs.setdefault(len(tk), []).append(tk)

        def too_close(text: str) -> bool:
            tk = tokens(text)
            lo, hi = int(len(tk) * max_overlap) - 1, int(len(tk) / max(max_overlap, 1e-9)) + 1
            return any(jaccard(tk, r) >= max_overlap for k in range(max(lo, 0), hi + 1) for r in refs.get(k, ()))

        seen: set[str] = set()
        out: list[Example] = []
        attempts = 0
        self.dropped = {"duplicate": 0, "overlap": 0, "segmentation": 0, "size": 0}
        while len(out) < n and attempts < 50 * n + 1000:
            attempts += 1
            ti, units = self.article(rng)
            lines: list[str] = []
            for u in units:
                if u["same_paragraph"] and lines:
                    lines[-1] += " " + u["text"]
                else:
                    lines.append(u["text"])
            body = "\n".join(lines)
            if body in seen:
                self.dropped["duplicate"] += 1
                continue
            if len(out) + len(units) > n:
                self.dropped["size"] += 1
                continue
            if any(too_close(u["text"]) for u in units):
                self.dropped["overlap"] += 1
                continue
            number = out[-1].article + 1 if out else 0
            seg = segment_article(body, f"{ARTICLE_PREFIX}{number:05d}")
            # the segmenter must cut the template's units, and read a headline as a title or subheading
            # ("... — N.K." ends with a full stop and would be read as a sentence)
            if [s.text for s in seg] != [u["text"] for u in units] or any(
                    "headline" in u["tags"] and s.kind not in HEADLINE_KINDS for u, s in zip(units, seg)):
                self.dropped["segmentation"] += 1
                continue
            seen.add(body)
            out += [Example(u["text"], u["actor"], u["stance"], ti, u["tags"], number, s.index, s.kind, s.paragraph,
                            s.in_quote, s.quote_opens, s.quote_attribution) for u, s in zip(units, seg)]
        return out

