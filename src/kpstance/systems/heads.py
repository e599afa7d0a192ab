"""The one classification head's layout: ``actor=…`` columns, then ``stance=…`` columns.

Owned here alone: the model builder names the columns, the loss slices them, the predictor
decodes them; a saved model's ``id2label`` is read back through ``HeadLayout.from_id2label``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import KpstanceError
from ..weak.scheme import LabelScheme

GROUPS = ("actor", "stance")


def best_per_group(scores: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The stock ``pipeline(top_k=None)`` output of one text (one softmax over every ``group=label``) -> the best
    label of each group, as the project's predictor picks it from its softmax per group."""
    top: dict[str, tuple[float, str]] = {}
    for s in scores:
        group, _, label = s["label"].partition("=")
        if group not in top or s["score"] > top[group][0]:
            top[group] = (s["score"], label)
    return {g: label for g, (_, label) in top.items()}


@dataclass(frozen=True)
class HeadLayout:
    actors: tuple[str, ...]
    stances: tuple[str, ...]
    actor_cols: tuple[int, ...]
    stance_cols: tuple[int, ...]

    @classmethod
    def from_scheme(cls, scheme: LabelScheme) -> HeadLayout:
        a, s = tuple(scheme.actor_labels), tuple(scheme.stance_labels)
        return cls(a, s, tuple(range(len(a))), tuple(range(len(a), len(a) + len(s))))

    @classmethod
    def from_id2label(cls, id2label: dict[int, str]) -> HeadLayout:
        """Read a saved model's labels; refuse any that are not ``actor=…`` or ``stance=…``."""
        cols: dict[str, list[tuple[int, str]]] = {g: [] for g in GROUPS}
        for i in sorted(id2label):
            group, _, label = id2label[i].partition("=")
            if group not in cols:
                raise KpstanceError(f"label '{id2label[i]}' is not of the form actor=… or stance=…")
            cols[group].append((i, label))
        if not cols["actor"] or not cols["stance"]:
            raise KpstanceError("the model's labels lack an actor or a stance group")
        return cls(tuple(n for _, n in cols["actor"]), tuple(n for _, n in cols["stance"]),
                   tuple(i for i, _ in cols["actor"]), tuple(i for i, _ in cols["stance"]))

    def id2label(self) -> dict[int, str]:
        names = {i: f"actor={a}" for i, a in zip(self.actor_cols, self.actors)}
        names.update({i: f"stance={s}" for i, s in zip(self.stance_cols, self.stances)})
        return dict(sorted(names.items()))

    @staticmethod
    def _index(cols: tuple[int, ...]) -> slice | list[int]:
        contiguous = list(cols) == list(range(cols[0], cols[0] + len(cols)))
        return slice(cols[0], cols[0] + len(cols)) if contiguous else list(cols)

    @property
    def actor_index(self) -> slice | list[int]:
        """Index of the actor columns in the logits (a slice where contiguous)."""
        return self._index(self.actor_cols)

    @property
    def stance_index(self) -> slice | list[int]:
        return self._index(self.stance_cols)
