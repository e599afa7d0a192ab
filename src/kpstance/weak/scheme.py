"""The label scheme: actors, aliases and stance cues, loaded from YAML and checked.

Keeping all of this in ``configs/labels/*.yaml`` lets a user adapt kpstance to another
conflict without touching Python. Every inconsistency is reported with the file and key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import KpstanceError
from ..yamlfile import key_error, read_yaml

# Cue groups: the two polar stance roles' steps, then judging words, human cost, procedure, negators; then the
# words that settle conflicting cues (provocations among the coercive steps, refusals, limits of pressure, support,
# what a party defies, contrast, the verbs that stop a step, words of being against the step right after them,
# judgements that a step is futile, words that concede). Every group may be empty; an optional one may be left out (a label file written
# before it was added reads as before).
CUE_GROUPS = ("coercive", "deescalating", "criticism", "human_cost", "procedural", "negators", "provocation",
              "refusal", "limits", "support", "defiance_objects", "contrast", "stopping", "opposition", "futility",
              "concession")
CUE_OPTIONAL = ("opposition", "futility", "concession")
STANCE_ROLES = ("coercive", "deescalating", "neutral")
# Word lists about how the language expresses attribution and grammar (see the label YAML for their meaning).
ATTRIBUTION_LISTS = ("speech_verbs", "according_to", "pronouns", "adjunct_starters", "intro_words", "participle_endings",
                     "source_fillers", "copulas")
ATTRIBUTION_OPTIONAL = ("verb_particles", "determiners")
GRAMMAR_LISTS = ("passive_auxiliaries", "participle_endings", "target_words", "object_complement", "first_person",
                 "clause_openers", "coreference_nouns", "coreference_determiners")
GRAMMAR_OPTIONAL = ("self_reference", "not_person_words", "coordinators")
SITUATION_LISTS = ("determiners", "nouns", "headings", "background_openers", "past_perfect")
SITUATION_OPTIONAL = ("dated_openers",)
# Every key the top level of a label file may hold: a misspelled one ('titels') is refused, not silently ignored.
TOP_KEYS = ("name", "description", "none_actor", "stances", "stance_roles", "actors", "names", "non_state_sources",
            "titles", "official_nouns", "attribution", "grammar", "situation_subjects", "stance_cues", "directions")


@dataclass(frozen=True)
class Actor:
    name: str
    aliases: tuple[str, ...]
    demonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Name:
    """One name of an actor in a role: ``name`` is written into a swapped text, ``short`` where the text has a short
    form ("Lavrov" after "Sergey Lavrov"; "US" in "US-drafted"), ``also`` are other spellings only ever read;
    ``title``: the titles written before the name ("Secretary of State Rex Tillerson"), the first one written."""

    name: str
    short: str = ""
    also: tuple[str, ...] = ()
    title: tuple[str, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.name, *((self.short,) if self.short else ()), *self.also)


@dataclass(frozen=True)
class NameTable:
    """Names per actor by role (the label YAML's ``names``), for the counterfactual speaker swap (``weak.swap``)."""

    roles: tuple[str, ...] = ()
    required: tuple[str, ...] = ()  # roles every state fills; a state is an actor with the first of them
    actors: dict[str, dict[str, tuple[Name, ...]]] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class LabelScheme:
    """Everything the rules and the model need to know about the label space."""

    name: str
    actors: tuple[Actor, ...]
    stances: tuple[str, ...]
    none_actor: str
    roles: dict[str, str] = field(hash=False)  # stance role (coercive, deescalating, neutral) -> stance name
    description: str = ""  # what the labels are about ("the Korean Peninsula crisis of 2017-2019"): model cards say it
    non_state_sources: tuple[str, ...] = ()
    official_nouns: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()  # "the minister said": a title alone refers to the last person with it
    attribution: dict[str, tuple[str, ...]] = field(hash=False, default_factory=dict)
    grammar: dict[str, tuple[str, ...]] = field(hash=False, default_factory=dict)
    agent_marker: str = "by"
    situation: dict[str, tuple[str, ...]] = field(hash=False, default_factory=dict)
    cues: dict[str, tuple[str, ...]] = field(hash=False, default_factory=dict)
    names: NameTable = field(hash=False, compare=False, default_factory=NameTable)
    # a step and its reverse, form by form (``directions`` in the YAML; ``weak.direction``)
    directions: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    source: str = ""
    sha256: str = ""

    @property
    def coercive(self) -> str:
        return self.roles["coercive"]

    @property
    def deescalating(self) -> str:
        return self.roles["deescalating"]

    @property
    def neutral_stance(self) -> str:
        return self.roles["neutral"]

    @property
    def polar_stances(self) -> list[str]:
        """The two stances with a position (F_avg averages their F1)."""
        return [self.coercive, self.deescalating]

    @property
    def actor_labels(self) -> list[str]:
        """Actor names in a fixed order, ``none`` last."""
        return [a.name for a in self.actors] + [self.none_actor]

    @property
    def stance_labels(self) -> list[str]:
        return list(self.stances)



def _plain(obj: object) -> object:
    """OmegaConf containers → plain dicts and lists (without importing omegaconf here)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) or type(obj).__name__ == "ListConfig":
        return [_plain(v) for v in obj]
    return obj


def _strings(value: object, path: Path, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise key_error(f"'{key}' must be a list of non-empty strings", path, *key.split("."))
    return tuple(v.strip() for v in value)


def load_scheme(source: str | os.PathLike | Mapping, name: str | None = None, saved: bool = False) -> LabelScheme:
    """Load and validate a label scheme from a YAML file or from the mapping Hydra composed.

    Errors name the file (``name`` for a mapping: the YAML it was composed from) and the key at fault. ``saved``:
    the scheme a model was saved with, which may predate a cue group (read as empty, as it was then); a scheme being
    written must name every group.
    """
    if isinstance(source, Mapping):
        data = _plain(source)
        p = Path(name or "labels (composed config)")
    else:
        p = Path(source)
        data = read_yaml(p, "label file")
    if not isinstance(data, dict):
        raise KpstanceError("expected a mapping at the top level", p)
    raw_bytes = json.dumps(data, sort_keys=True).encode()  # the same hash for the file and the mapping composed of it
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown and not saved:  # a model's saved scheme may come from another version: read what this one knows
        raise key_error(f"unknown key '{unknown[0]}' (allowed at the top level: {', '.join(TOP_KEYS)})", p, unknown[0])
    for key in ("actors", "stances", "stance_cues"):
        if key not in data:
            raise KpstanceError(f"missing key '{key}'", p)
    stances = _strings(data["stances"], p, "stances")
    twice = sorted({x for x in stances if stances.count(x) > 1})
    if twice:
        raise key_error(f"stances: {', '.join(twice)} listed twice (a model would get two outputs for one label)", p,
                     "stances")
    roles = _roles(data, stances, p)
    none_actor = data.get("none_actor", "none")
    if not isinstance(data["actors"], dict) or not data["actors"]:
        raise key_error("'actors' must be a non-empty mapping", p, "actors")
    actors: list[Actor] = []
    owner: dict[str, str] = {}
    for name, spec in data["actors"].items():
        if name == none_actor:
            raise key_error(f"actor '{name}' is reserved for 'no actor'", p, "actors", name)
        spec = spec or {}
        if not isinstance(spec, dict):
            raise key_error(f"actors.{name}: expected a mapping with 'aliases' and 'demonyms'", p, "actors", name)
        extra = sorted(set(spec) - {"aliases", "demonyms"})
        if extra:
            raise key_error(f"actors.{name}: unknown key '{extra[0]}' (only 'aliases' and 'demonyms' are allowed)", p,
                         "actors", name, extra[0])
        aliases = _strings(spec.get("aliases"), p, f"actors.{name}.aliases")
        demonyms = _strings(spec.get("demonyms"), p, f"actors.{name}.demonyms")
        if not aliases + demonyms:
            raise key_error(f"actors.{name}: no aliases or demonyms (the rules could never name this actor)", p,
                         "actors", name)
        for alias in aliases + demonyms:
            if alias in owner and owner[alias] != name:
                raise key_error(f"alias '{alias}' is claimed by two actors: {owner[alias]} and {name}", p, "actors",
                             name)
            owner[alias] = name
        actors.append(Actor(name, aliases, demonyms))
    cues_raw = data["stance_cues"]
    if not isinstance(cues_raw, dict):
        raise key_error("'stance_cues' must be a mapping", p, "stance_cues")
    unknown = [g for g in cues_raw if g not in CUE_GROUPS]
    if unknown:
        raise key_error(f"stance_cues: unknown group '{unknown[0]}'; allowed: {', '.join(CUE_GROUPS)}", p,
                     "stance_cues", unknown[0])
    cues_raw = {**{g: [] for g in CUE_OPTIONAL}, **cues_raw}
    missing = [g for g in CUE_GROUPS if g not in cues_raw]
    if missing and saved:
        cues_raw = {**cues_raw, **{g: [] for g in missing}}
    elif missing:
        raise key_error(f"missing list(s) {', '.join(f'stance_cues.{g}' for g in missing)} (the rules read every "
                     "group; an empty list [] turns one off)", p, "stance_cues")
    cues = {g: _strings(cues_raw[g], p, f"stance_cues.{g}") for g in CUE_GROUPS}
    both = sorted(set(cues["coercive"]) & set(cues["deescalating"]))
    if both:
        raise key_error(f"stance_cues: {', '.join(repr(c) for c in both)} in both coercive and deescalating", p,
                     "stance_cues", "deescalating")
    attribution = _section(data, "attribution", ATTRIBUTION_LISTS, p, optional=ATTRIBUTION_OPTIONAL)
    grammar_raw = data.get("grammar") or {}
    agent_marker = grammar_raw.get("agent_marker", "by") if isinstance(grammar_raw, dict) else "by"
    if not isinstance(agent_marker, str) or not agent_marker.strip():
        raise key_error("'grammar.agent_marker' must be a non-empty string", p, "grammar", "agent_marker")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise key_error("'description' must be a string (what the labels are about)", p, "description")
    return LabelScheme(
        name=str(data.get("name", p.stem)),
        description=" ".join(description.split()),
        actors=tuple(actors),
        stances=stances,
        none_actor=none_actor,
        roles=roles,
        non_state_sources=_strings(data.get("non_state_sources"), p, "non_state_sources"),
        official_nouns=_strings(data.get("official_nouns"), p, "official_nouns"),
        titles=_strings(data.get("titles"), p, "titles"),
        attribution=attribution,
        grammar=_section(data, "grammar", GRAMMAR_LISTS, p, extra=("agent_marker",), optional=GRAMMAR_OPTIONAL),
        agent_marker=agent_marker.strip(),
        situation=_section(data, "situation_subjects", SITUATION_LISTS, p, optional=SITUATION_OPTIONAL),
        cues=cues,
        names=_names(data.get("names"), [a.name for a in actors], p),
        directions=_directions(data.get("directions"), p),
        source=str(p),
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
    )


def _roles(data: dict, stances: tuple[str, ...], p: Path) -> dict[str, str]:
    """``stance_roles``: which stance is the coercive one, which the de-escalating one, which the neutral one."""
    raw = data.get("stance_roles")
    if not isinstance(raw, dict):
        raise KpstanceError(f"missing mapping 'stance_roles' (keys {', '.join(STANCE_ROLES)}, values from stances)", p)
    missing = [r for r in STANCE_ROLES if r not in raw]
    unknown = sorted(set(raw) - set(STANCE_ROLES))
    if missing or unknown:
        raise key_error(f"stance_roles: needs exactly the keys {', '.join(STANCE_ROLES)}"
                     + (f" (missing {', '.join(missing)})" if missing else "")
                     + (f" (unknown {', '.join(unknown)})" if unknown else ""), p, "stance_roles", *unknown[:1])
    for role, stance in raw.items():
        if stance not in stances:
            raise key_error(f"stance_roles.{role}: '{stance}' is not one of stances {list(stances)}", p,
                         "stance_roles", role)
    if len(set(raw.values())) != len(STANCE_ROLES):
        raise key_error("stance_roles: each role needs its own stance", p, "stance_roles")
    return {r: str(raw[r]) for r in STANCE_ROLES}


def _section(data: dict, key: str, lists: tuple[str, ...], p: Path, extra: tuple[str, ...] = (),
             optional: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """A mapping of word lists; every list but the ``optional`` ones is required (the rules read each one), unknown
    keys are refused."""
    raw = data.get(key)
    if not isinstance(raw, dict):
        raise KpstanceError(f"missing mapping '{key}' (lists: {', '.join(lists)})", p)
    unknown = [k for k in raw if k not in lists + extra + optional]
    if unknown:
        raise key_error(f"{key}: unknown key '{unknown[0]}'; allowed: {', '.join(lists + optional + extra)}", p, key,
                     unknown[0])
    out = {name: _strings(raw.get(name), p, f"{key}.{name}") for name in optional}
    for name in lists:
        if name not in raw:
            raise key_error(f"missing list '{key}.{name}'", p, key)
        out[name] = _strings(raw[name], p, f"{key}.{name}")
    return out


def _directions(raw: object, p: Path) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """The ``directions`` list, checked: each entry two lists of non-empty strings of equal length (forms aligned).
    Errors name the file and the entry's line."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise key_error("'directions' must be a list of [forms of a step, forms of its reverse]", p, "directions")
    out = []
    for i, entry in enumerate(raw):
        ok = (isinstance(entry, list) and len(entry) == 2
              and all(isinstance(side, list) and side and all(isinstance(w, str) and w.strip() for w in side)
                      for side in entry))
        if not ok or len(entry[0]) != len(entry[1]):
            raise key_error(f"directions[{i}]: expected two lists of words with as many forms each (a step's "
                            "forms, then its reverse's, aligned)", p, "directions", i)
        out.append((tuple(w.strip() for w in entry[0]), tuple(w.strip() for w in entry[1])))
    return tuple(out)


def _names(raw: object, actors: Sequence[str], p: Path) -> NameTable:
    """The ``names`` table, checked: known actors and roles, each state with every required role, entries that are a
    name or ``{name, short, also, title}``, no spelling claimed by two actors. Errors name the file and line."""
    if raw is None:
        return NameTable()

    def fail(msg: str, *keys: str) -> KpstanceError:
        return key_error(msg, p, "names", *keys)

    if not isinstance(raw, dict):
        raise fail("'names' must be a mapping (roles, required, actors)")
    unknown = sorted(set(raw) - {"roles", "required", "actors"})
    if unknown:
        raise fail(f"names: unknown key(s) {unknown}; allowed: roles, required, actors", unknown[0])
    roles = _strings(raw.get("roles"), p, "names.roles")
    required = _strings(raw.get("required"), p, "names.required")
    for r in required:
        if r not in roles:
            raise fail(f"names.required: unknown role '{r}' (roles: {', '.join(roles)})", "required")
    table = raw.get("actors") or {}
    if not isinstance(table, dict):
        raise fail("'names.actors' must be a mapping of actor -> role -> names", "actors")
    out: dict[str, dict[str, tuple[Name, ...]]] = {}
    owner: dict[str, str] = {}
    for actor, spec in table.items():
        if actor not in actors:
            raise fail(f"names.actors: unknown actor '{actor}' (actors: {', '.join(actors)})", "actors", actor)
        if not isinstance(spec, dict) or not spec:
            raise fail(f"names.actors.{actor}: expected a mapping of role -> names", "actors", actor)
        out[actor] = {}
        for role, entries in spec.items():
            where = ("actors", actor, role)
            if role not in roles:
                raise fail(f"names.actors.{actor}: unknown role '{role}' (roles: {', '.join(roles)})", *where)
            if not isinstance(entries, list) or not entries:
                raise fail(f"names.actors.{actor}.{role}: expected a non-empty list of names", *where)
            names = tuple(_name(e, f"names.actors.{actor}.{role}", lambda m, w=where: fail(m, *w)) for e in entries)
            for form in (f for n in names for f in n.forms):
                if owner.setdefault(form, actor) != actor:
                    raise fail(f"names.actors.{actor}.{role}: '{form}' is claimed by two actors: {owner[form]} and "
                               f"{actor}", *where)
            out[actor][role] = names
        if required and required[0] in spec:
            missing = [r for r in required if r not in spec]
            if missing:
                raise fail(f"names.actors.{actor}: missing role(s) {', '.join(missing)} (every state, an actor with "
                           f"'{required[0]}', needs {', '.join(required)})", "actors", actor)
    return NameTable(roles, required, out)


def _name(entry: object, key: str, fail: Callable[[str], KpstanceError]) -> Name:
    """A names entry: a string, or ``{name, short, also, title}``."""
    if isinstance(entry, str) and entry.strip():
        return Name(entry.strip())
    if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"].strip() \
            and not set(entry) - {"name", "short", "also", "title"}:
        short, also, title = entry.get("short") or "", entry.get("also") or [], entry.get("title") or []
        title = [title] if isinstance(title, str) else title
        if isinstance(short, str) and all(isinstance(x, list) and all(isinstance(a, str) and a.strip() for a in x)
                                          for x in (also, title)):
            return Name(entry["name"].strip(), short.strip(), tuple(a.strip() for a in also),
                        tuple(t.strip() for t in title))
    raise fail(f"{key}: each name is a string or {{name, short, also, title}} (also, title: lists of strings), "
               f"got {entry!r}")


def check_labels(actor: object, stance: object, scheme: LabelScheme, path: object, line: int) -> None:
    """Refuse a record whose labels are not in the scheme."""
    if actor not in scheme.actor_labels:
        raise KpstanceError(f"unknown actor '{actor}' (allowed: {', '.join(scheme.actor_labels)})", path, line)
    if stance not in scheme.stance_labels:
        raise KpstanceError(f"unknown stance '{stance}' (allowed: {', '.join(scheme.stance_labels)})", path, line)


LABELS_REL = "configs/labels/korean_peninsula.yaml"


def project_file(rel: str) -> str | None:
    """A file of the project's (``configs/``, ``data/``): under $KPSTANCE_ROOT, the current folder, or the source
    checkout; None where none holds it (an installed package without them)."""
    for root in (os.environ.get("KPSTANCE_ROOT"), os.getcwd(), str(Path(__file__).resolve().parents[3])):
        if root and (Path(root) / rel).is_file():
            return str(Path(root) / rel)
    return None


def default_labels() -> str:
    """The project's label YAML (``project_file``), else its path relative to the current folder."""
    return project_file(LABELS_REL) or LABELS_REL
