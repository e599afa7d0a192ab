"""The label scheme: actors, aliases and stance cues, loaded from YAML and checked.

Keeping all of this in ``configs/labels/*.yaml`` lets a user adapt kpstance to another
conflict without touching Python. Every inconsistency is reported with the file and key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import KpstanceError

CUE_GROUPS = ("hardline", "conciliatory", "criticism", "human_cost", "procedural", "negators")


@dataclass(frozen=True)
class Actor:
    name: str
    aliases: tuple[str, ...]
    demonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelScheme:
    """Everything the rules and the model need to know about the label space."""

    name: str
    actors: tuple[Actor, ...]
    stances: tuple[str, ...]
    none_actor: str
    neutral_stance: str
    non_state_sources: tuple[str, ...]
    official_nouns: tuple[str, ...]
    speech_verbs: tuple[str, ...]
    according_to: tuple[str, ...]
    pronouns: tuple[str, ...]
    cues: dict[str, tuple[str, ...]] = field(hash=False)
    source: str = ""
    sha256: str = ""

    @property
    def actor_labels(self) -> list[str]:
        """Actor names in a fixed order, ``none`` last."""
        return [a.name for a in self.actors] + [self.none_actor]

    @property
    def stance_labels(self) -> list[str]:
        return list(self.stances)

    def id2label(self) -> dict[int, str]:
        """Label names for one classification head that holds both groups."""
        names = [f"actor={a}" for a in self.actor_labels] + [f"stance={s}" for s in self.stance_labels]
        return dict(enumerate(names))


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
        raise KpstanceError(f"'{key}' must be a list of non-empty strings", path)
    return tuple(v.strip() for v in value)


def load_scheme(source: str | os.PathLike | Mapping, name: str | None = None) -> LabelScheme:
    """Load and validate a label scheme from a YAML file or from the mapping Hydra composed.

    Errors name the file (``name`` for a mapping: the YAML it was composed from) and the key at fault.
    """
    if isinstance(source, Mapping):
        data = _plain(source)
        p = Path(name or "labels (composed config)")
        raw_bytes = json.dumps(data, sort_keys=True).encode()
    else:
        p = Path(source)
        try:
            raw_bytes = p.read_bytes()
        except OSError:
            raise KpstanceError("label file not found", p) from None
        try:
            data = yaml.safe_load(raw_bytes.decode("utf-8-sig"))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            line = getattr(getattr(e, "problem_mark", None), "line", None)
            raise KpstanceError(f"not valid YAML ({type(e).__name__})", p, None if line is None else line + 1) from None
        if isinstance(data, dict):
            raw_bytes = json.dumps(data, sort_keys=True).encode()
    if not isinstance(data, dict):
        raise KpstanceError("expected a mapping at the top level", p)
    for key in ("actors", "stances", "stance_cues"):
        if key not in data:
            raise KpstanceError(f"missing key '{key}'", p)
    stances = _strings(data["stances"], p, "stances")
    neutral = data.get("neutral_stance", "neutral")
    if neutral not in stances:
        raise KpstanceError(f"neutral_stance '{neutral}' is not one of stances {list(stances)}", p)
    none_actor = data.get("none_actor", "none")
    if not isinstance(data["actors"], dict) or not data["actors"]:
        raise KpstanceError("'actors' must be a non-empty mapping", p)
    actors: list[Actor] = []
    owner: dict[str, str] = {}
    for name, spec in data["actors"].items():
        if name == none_actor:
            raise KpstanceError(f"actor '{name}' is reserved for 'no actor'", p)
        spec = spec or {}
        if not isinstance(spec, dict) or set(spec) - {"aliases", "demonyms"}:
            raise KpstanceError(f"actors.{name}: only 'aliases' and 'demonyms' are allowed", p)
        aliases = _strings(spec.get("aliases"), p, f"actors.{name}.aliases")
        demonyms = _strings(spec.get("demonyms"), p, f"actors.{name}.demonyms")
        for alias in aliases + demonyms:
            if alias in owner and owner[alias] != name:
                raise KpstanceError(f"alias '{alias}' is claimed by two actors: {owner[alias]} and {name}", p)
            owner[alias] = name
        actors.append(Actor(name, aliases, demonyms))
    cues_raw = data["stance_cues"]
    if not isinstance(cues_raw, dict):
        raise KpstanceError("'stance_cues' must be a mapping", p)
    unknown = set(cues_raw) - set(CUE_GROUPS)
    if unknown:
        raise KpstanceError(f"stance_cues: unknown group(s) {sorted(unknown)}; allowed: {list(CUE_GROUPS)}", p)
    for group in ("hardline", "conciliatory"):
        if group not in stances:
            raise KpstanceError(f"stances must include '{group}' (the rules' cue groups use it)", p)
    cues = {g: _strings(cues_raw.get(g), p, f"stance_cues.{g}") for g in CUE_GROUPS}
    attribution = data.get("attribution") or {}
    return LabelScheme(
        name=str(data.get("name", p.stem)),
        actors=tuple(actors),
        stances=stances,
        none_actor=none_actor,
        neutral_stance=neutral,
        non_state_sources=_strings(data.get("non_state_sources"), p, "non_state_sources"),
        official_nouns=_strings(data.get("official_nouns"), p, "official_nouns"),
        speech_verbs=_strings(attribution.get("speech_verbs"), p, "attribution.speech_verbs"),
        according_to=_strings(attribution.get("according_to", ["according to"]), p, "attribution.according_to"),
        pronouns=_strings(attribution.get("pronouns", ["he", "she", "they"]), p, "attribution.pronouns"),
        cues=cues,
        source=str(p),
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
    )


def check_labels(actor: object, stance: object, scheme: LabelScheme, path: object, line: int) -> None:
    """Refuse a record whose labels are not in the scheme."""
    if actor not in scheme.actor_labels:
        raise KpstanceError(f"unknown actor '{actor}' (allowed: {', '.join(scheme.actor_labels)})", path, line)
    if stance not in scheme.stance_labels:
        raise KpstanceError(f"unknown stance '{stance}' (allowed: {', '.join(scheme.stance_labels)})", path, line)
