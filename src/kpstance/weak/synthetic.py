"""A seeded synthetic corpus from templates and phrase banks (YAML), labelled by construction.

It teaches the model the attribution patterns the article alone cannot cover (every actor
under many names, every stance, reported speech, trailing quotes, headlines with "— X",
passive voice, joined actors, nested reports, negation, background), and it is kept away
from the gold sentences by a token-overlap (Jaccard) filter.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import KpstanceError
from ..text.overlap import jaccard, tokens
from .scheme import LabelScheme

SLOT_RE = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Example:
    text: str
    actor: str
    stance: str
    template: int
    tags: tuple[str, ...]


class Generator:
    """Fill templates with phrases and actor names; the template states the labels."""

    def __init__(self, spec_path: str | os.PathLike, scheme: LabelScheme) -> None:
        p = Path(spec_path)
        try:
            spec = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError:
            raise KpstanceError("synthetic template file not found", p) from None
        except yaml.YAMLError as e:
            raise KpstanceError(f"not valid YAML ({type(e).__name__})", p) from None
        self.spec = spec
        self.scheme = scheme
        self.path = p
        self.banks: dict[str, list[str]] = {**spec.get("phrases", {}), **spec.get("plural_phrases", {})}
        self.banks["verb"] = spec["speech_verbs"]
        self.banks["belief"] = spec["belief_verbs"]
        self.banks["plural_belief"] = spec["plural_belief_verbs"]
        self.banks["intro"] = spec.get("intros", [""])
        self.templates = spec["templates"]
        for i, t in enumerate(self.templates):
            if t["stance"] not in scheme.stance_labels:
                raise KpstanceError(f"templates[{i}]: unknown stance '{t['stance']}'", p)
            if t["actor"] not in ("A", scheme.none_actor):
                raise KpstanceError(f"templates[{i}]: actor must be A or {scheme.none_actor}", p)
        self.actors = {a.name: a for a in scheme.actors}
        self.weights = [float(t.get("weight", 1.0)) for t in self.templates]
        self.n_targets = int(spec.get("target_aliases", 3))

    def _names(self, actor: str) -> list[str]:
        return list(self.actors[actor].aliases)

    def _speakers(self, actor: str, rng: random.Random) -> str:
        a = self.actors[actor]
        if a.demonyms and rng.random() < 0.4:
            return rng.choice(self.spec["speaker_roles"]).format(dem=rng.choice(a.demonyms))
        return rng.choice(a.aliases)

    def example(self, rng: random.Random) -> Example:
        ti = rng.choices(range(len(self.templates)), weights=self.weights)[0]
        t = self.templates[ti]
        names = list(self.actors)
        a, b, a2 = rng.sample(names, 3)
        values: dict[str, str] = {}

        def fill(slot: str) -> str:
            if slot in values:
                return values[slot]
            cap = slot[:1].isupper() and slot.lower() in self.banks
            key = slot.lower() if cap else slot
            if key == "A":
                v = rng.choice(self._names(a))
            elif key == "A2":
                v = rng.choice(self._names(a2))
            elif key == "B":  # a target: one of the state's own names, not a person
                v = rng.choice(self._names(b)[: self.n_targets])
            elif key == "A_src":
                v = self._speakers(a, rng)
            elif key == "B_src":
                v = self._speakers(b, rng)
            elif key in ("A_person", "B_person"):
                pool = [n for n in self._names(a if key == "A_person" else b) if not n.startswith("the ")]
                v = rng.choice(pool)
            elif slot == "Dem_B":
                v = rng.choice(self.actors[b].demonyms or ("Western",))
            elif key in self.banks:
                v = SLOT_RE.sub(lambda m: fill(m.group(1)), rng.choice(self.banks[key]))
            else:
                raise KpstanceError(f"unknown slot '{{{slot}}}' in templates[{ti}]", self.path)
            if cap:
                v = v[:1].upper() + v[1:]
            values[slot] = v
            return v

        text = SLOT_RE.sub(lambda m: fill(m.group(1)), t["pattern"])
        text = re.sub(r"\s+", " ", text).strip()
        i = 1 if text[:1] in "\"“" else 0
        text = text[:i] + text[i : i + 1].upper() + text[i + 1 :]
        actor = a if t["actor"] == "A" else self.scheme.none_actor
        return Example(text, actor, t["stance"], ti, tuple(t.get("tags", ())))

    def generate(self, n: int, seed: int, exclude: Sequence[str] = (), max_overlap: float = 0.8) -> list[Example]:
        """``n`` distinct examples, reproducible from ``seed``, none overlapping ``exclude`` too much."""
        rng = random.Random(seed)
        refs = [tokens(r) for r in exclude]
        seen: set[str] = set()
        out: list[Example] = []
        attempts = 0
        while len(out) < n and attempts < 50 * n + 1000:
            attempts += 1
            ex = self.example(rng)
            if ex.text in seen:
                continue
            tk = tokens(ex.text)
            if any(jaccard(tk, r) >= max_overlap for r in refs):
                continue
            seen.add(ex.text)
            out.append(ex)
        return out
