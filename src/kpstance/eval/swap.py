"""The counterfactual speaker-swap test and the counter-prior slice, run on every held-out corpus.

A system that reads stance from what is said gives a unit's swapped copy (``weak.swap``: the same words, another
actor's names) the stance it gave the original, and the swapped-in actor. Keys, for each split (and its whole
articles, ``{split}_articles_``):

- ``swap_stance_flip``: share of copies whose predicted stance differs from the prediction on the original;
- ``swap_actor_follow``: share of copies whose predicted actor is the swapped-in actor;
- ``swap_stance_macro_f1``: the copies' stance against the original's (unchanged) gold stance;
- ``swap_n`` copies scored, ``swap_skipped`` units with a named actor that gave no clean copy.

The counter-prior slice (``counter_stance_macro_f1``, ``counter_n``) scores the test units whose (actor, stance)
pair makes up under ``COUNTER_SHARE`` of that actor's training units: where a speaker's usual stance is no help.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..corpora import Article, match_article, sentence_units
from ..text.segment import Unit, segment_article
from ..weak.scheme import LabelScheme
from ..weak.swap import Swapper, Unclean, swap_units
from .metrics import score

N_TARGETS = 2  # swapped copies per unit, each for another actor
COUNTER_SHARE = 0.25


@dataclass
class SwapResult:
    """The copies a system was scored on (one row each, with both predictions) and the units skipped."""

    rows: list[dict] = field(default_factory=list)
    skipped: int = 0

    def metrics(self, prefix: str, scheme: LabelScheme) -> dict[str, float]:
        """``{prefix}swap_*``; with no copy, only the counts (a figure not measured is left out, never nan)."""
        out: dict[str, float] = {}
        if self.rows:
            n = len(self.rows)
            gold = [(r["target"], r["gold_stance"]) for r in self.rows]
            pred = [(r["swapped_actor"], r["swapped_stance"]) for r in self.rows]
            out[f"{prefix}swap_stance_flip"] = round(sum(r["swapped_stance"] != r["original_stance"]
                                                         for r in self.rows) / n, 6)
            out[f"{prefix}swap_actor_follow"] = round(sum(r["swapped_actor"] == r["target"] for r in self.rows) / n, 6)
            out[f"{prefix}swap_stance_macro_f1"] = score(gold, pred, scheme)["stance_macro_f1"]
        out[f"{prefix}swap_n"] = len(self.rows)
        out[f"{prefix}swap_skipped"] = self.skipped
        return out

    def worst(self, k: int) -> list[dict]:
        """The copies whose stance moved most: flipped first, then by how far the original's stance lost probability."""
        return sorted(self.rows, key=lambda r: (r["swapped_stance"] == r["original_stance"], -r["drop"]))[:k]


def _row(uid: str, original: Unit, copy: Unit, target: str, gold_stance: str, p: Mapping[str, Any],
         q: Mapping[str, Any]) -> dict:
    stance = p["stance"]
    return {"id": uid, "text": original.text, "swapped_text": copy.text, "target": target, "gold_stance": gold_stance,
            "original_actor": p["actor"], "original_stance": stance, "swapped_actor": q["actor"],
            "swapped_stance": q["stance"],
            "drop": round(p.get("stance_probs", {}).get(stance, 1.0) - q.get("stance_probs", {}).get(stance, 0.0), 6)}


def swap_units_test(system: Any, units: Sequence[Unit], gold: Sequence[tuple[str, str]], swapper: Swapper,
                    originals: Sequence[Mapping[str, Any]] | None = None, n: int = N_TARGETS) -> SwapResult:
    """Swap each unit with a named gold actor for ``n`` other actors and predict the copies; ``originals`` are the
    system's predictions on ``units`` when it has already made them."""
    copies, skipped = swap_units(swapper, units, [a for a, _ in gold], n)
    res = SwapResult(skipped=sum(skipped.values()))
    if not copies:
        return res
    originals = originals if originals is not None else system.predict(list(units))
    preds = system.predict([c.unit for c in copies])
    res.rows = [_row(units[c.index].id, units[c.index], c.unit, c.target, gold[c.index][1], originals[c.index], q)
                for c, q in zip(copies, preds)]
    return res


def _most_named(actors: Iterable[str], scheme: LabelScheme) -> str | None:
    """The actor most units have (ties by name), the none actor aside: an article's main actor."""
    named = Counter(a for a in actors if a != scheme.none_actor)
    return min(named, key=lambda a: (-named[a], a)) if named else None


def swap_article_text(swapper: Swapper, text: str, source: str, target: str, key: str) -> str:
    """An article's text with ``source`` swapped for ``target`` throughout, line by line (the title and short lines
    without a final stop read as headlines); a name that cannot be swapped is left, and the units holding it are
    not scored."""
    lines = text.splitlines()
    kinds = ["title" if i == 0 or (len(ln.split()) <= 16 and not ln.rstrip().endswith((".", "!", "?", '"', "”", ":")))
             else "sentence" for i, ln in enumerate(lines)]
    return "\n".join(swapper.swap(lines, source, target, key, kinds, strict=False)) + ("\n" if text.endswith("\n")
                                                                                      else "")


def swap_articles_test(system: Any, articles: Sequence[Article], swapper: Swapper, scheme: LabelScheme,
                       language: str = "en", n: int = N_TARGETS) -> SwapResult:
    """Each article's main actor (its most frequent gold actor) swapped throughout for ``n`` other actors; the copy
    is segmented and predicted as ``kpstance predict ARTICLE.txt`` does, so "he said" carries the swapped speaker.
    Scored: the gold units of the main actor that the segmenter finds (a unit it misses counts as skipped)."""
    res = SwapResult()
    for a in articles:
        source = _most_named((g["actor"] for g in a.gold), scheme)
        if source is None or source not in swapper.table:
            continue
        units = a.units(language)
        matched, _ = match_article(a, units)
        scored = [(g["id"], u, g["stance"]) for g, u in zip(a.gold, matched) if g["actor"] == source and u is not None]
        res.skipped += sum(g["actor"] == source and u is None for g, u in zip(a.gold, matched))
        if scored:
            _swap_article(system, swapper, scheme, a.text, a.path.stem, units, scored, source, language, n, res)
    return res


def _swap_article(system: Any, swapper: Swapper, scheme: LabelScheme, text: str, stem: str, units: Sequence[Unit],
                  scored: Sequence[tuple[str, Unit, str]], source: str, language: str, n: int, res: SwapResult,
                  originals: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Add to ``res`` the copies of one article for up to ``n`` targets (seeded order) whose segmentation pairs unit
    for unit with the original. ``scored``: (id, unit, reference stance) of the units to score; a copy is left out
    when its original names the target, its swapped text or carried speaker still names the source, or neither changed
    (a dateline given to the source: a copy of itself would pad the count with no flip), and a unit
    with no copy left counts once in ``res.skipped``, as in the sentence test."""
    from ..systems.context import speakers

    originals = originals or dict(zip((u.id for u in units), system.predict(list(units))))
    index = {u.id: i for i, u in enumerate(units)}
    said_before = speakers(units, scheme)
    copied: set[str] = set()  # units with at least one scored copy; the others are skipped, once each
    done = 0
    for target in swapper.targets([], source, stem):
        if done == n:
            break
        copy_units = segment_article(swap_article_text(swapper, text, source, target, stem), f"{stem}~{target}",
                                     language)
        if len(copy_units) != len(units):  # the swap changed the segmentation: no unit can be paired
            continue
        done += 1
        said = speakers(copy_units, scheme)
        keep: list[tuple[str, Unit, Unit, str]] = []
        for uid, u, stance in scored:
            c = copy_units[index[u.id]]
            try:
                if target in swapper.mentioned([u.text]):
                    raise Unclean("the target is named in the original")
                swapper.check_clean(c.text, source)
                swapper.check_clean(said[index[u.id]] or "", source)
                if c.text == u.text and said[index[u.id]] == said_before[index[u.id]]:
                    raise Unclean("neither the words nor the carried speaker name the source")  # a copy of itself
            except Unclean:
                continue
            keep.append((uid, u, c, stance))
            copied.add(uid)
        preds = dict(zip((u.id for u in copy_units), system.predict(copy_units)))
        res.rows += [_row(uid, u, c, target, stance, originals[u.id], preds[c.id]) for uid, u, c, stance in keep]
    res.skipped += sum(uid not in copied for uid, _, _ in scored)


def probe_article(system: Any, text: str, stem: str, swapper: Swapper, scheme: LabelScheme,
                  source: str | None = None, language: str = "en", n: int = N_TARGETS) -> tuple[SwapResult, str | None]:
    """The swap test on a user's article: ``source`` (default: the actor the system gives most units) swapped
    throughout; scored, the units the system gives to ``source``, against the stance it gave them."""
    units = segment_article(text, stem, language)
    preds = system.predict(units)
    source = source or _most_named((p["actor"] for p in preds), scheme)
    res = SwapResult()
    if source is None or source not in swapper.table:
        return res, source
    scored = [(u.id, u, p["stance"]) for u, p in zip(units, preds) if p["actor"] == source]
    if scored:
        _swap_article(system, swapper, scheme, text, stem, units, scored, source, language, n, res,
                      dict(zip((u.id for u in units), preds)))
    return res, source


def counter_prior(train_labels: Sequence[tuple[str, str]], scheme: LabelScheme,
                  share: float = COUNTER_SHARE) -> set[tuple[str, str]]:
    """The (actor, stance) pairs that make up under ``share`` of that actor's training units (none excluded; an
    actor with no training unit has no prior and no pair)."""
    per_actor = Counter(a for a, _ in train_labels)
    pairs = Counter(train_labels)
    return {(a, s) for a in per_actor if a != scheme.none_actor for s in scheme.stance_labels
            if pairs[(a, s)] < share * per_actor[a]}


def counter_scores(recs: Sequence[Mapping[str, Any]], preds: Sequence[Mapping[str, Any]],
                   rare: set[tuple[str, str]], scheme: LabelScheme, prefix: str) -> dict[str, float]:
    """``{prefix}counter_stance_macro_f1`` and ``{prefix}counter_n`` over the units whose gold pair is in ``rare``."""
    idx = [i for i, r in enumerate(recs) if (r["actor"], r["stance"]) in rare]
    out: dict[str, float] = {}
    if idx:
        s = score([(recs[i]["actor"], recs[i]["stance"]) for i in idx],
                  [(preds[i]["actor"], preds[i]["stance"]) for i in idx], scheme)
        out[f"{prefix}counter_stance_macro_f1"] = s["stance_macro_f1"]
    out[f"{prefix}counter_n"] = len(idx)
    return out


def probe_units(system: Any, units: Sequence[Unit], actors: Sequence[str], swapper: Swapper,
                n: int = N_TARGETS) -> SwapResult:
    """The swap test on a user's units, whose actor is given (no gold stance: the original's prediction stands in,
    so ``swap_stance_macro_f1`` measures agreement with it)."""
    originals = system.predict(list(units))
    gold = [(a, p["stance"]) for a, p in zip(actors, originals)]
    return swap_units_test(system, units, gold, swapper, originals, n)


def sentence_test(system: Any, recs: Sequence[Mapping[str, Any]], swapper: Swapper,
                  originals: Sequence[Mapping[str, Any]] | None = None) -> SwapResult:
    """The swap test on gold sentence records, each read alone as the held-out scores read it."""
    return swap_units_test(system, sentence_units(recs), [(r["actor"], r["stance"]) for r in recs], swapper,
                           originals)

