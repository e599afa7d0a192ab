"""Training sets: the article's units (silver or gold labels, repeated), the synthetic corpus, any silver
corpus and the train parts the gold corpora contribute, with every sentence too close to a held-out gold
sentence dropped (no leakage), no unit of a report that some corpus holds out, and no gold unit that rewords a
held-out statement of the same actor from the same days (another outlet's report of the same quote, whatever
stance either was given)."""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..text.overlap import drop_leaks, jaccard, tokens
from ..text.segment import Unit
from .scheme import LabelScheme
from .synthetic import Generator

log = logging.getLogger("kpstance")
Labelled = tuple[list[Unit], list[tuple[str, str]]]
# a held-out unit as a statement: its gold actor, its report's date (ISO) and its text
Statement = tuple[str, str, str]
# the date a written counterfactual unit carries instead of its event's: it reports nothing, so it rewords nothing
COUNTERFACTUAL = "counterfactual"


def _day(text: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(text)[:10]) if text else None
    except ValueError:
        return None


@dataclass
class TrainPart:
    """Labelled units one source adds to every training set, shown ``repeat`` times. ``count_key`` names the metric
    that counts them (``count_kept``: after the leak guard, by unit id; else as offered); ``reports`` gives each
    unit's source report, so that a report another corpus holds out stays out of training whole."""

    name: str
    units: list[Unit]
    labels: list[tuple[str, str]]
    repeat: int = 1
    count_key: str | None = None
    count_kept: bool = False
    reports: list[str] = field(default_factory=list)
    # each unit's report date (ISO), "" where the source has none, COUNTERFACTUAL for a member we wrote reversed
    dates: list[str] = field(default_factory=list)

    def _kept(self, keep: Sequence[int]) -> TrainPart:
        def pick(xs: list) -> list:
            return [xs[i] for i in keep] if xs else []

        return TrainPart(self.name, pick(self.units), pick(self.labels), self.repeat, self.count_key, self.count_kept,
                         pick(self.reports), pick(self.dates))

    def without_reports(self, held: Collection[str]) -> TrainPart:
        """The part less its units of held-out reports (warned about: they are left out whole)."""
        if not self.reports or not held:
            return self
        keep = [i for i, r in enumerate(self.reports) if r not in held]
        if len(keep) < len(self.units):
            log.warning("%s: %d train unit(s) of reports held out for dev or test left out of training", self.name,
                        len(self.units) - len(keep))
        return self._kept(keep)

    def without_leaks(self, protected: Sequence[str], threshold: float) -> TrainPart:
        """The part less its units within token Jaccard ``threshold`` of a held-out text, before any copy is made of
        them (a copy's swapped names could take it under the threshold)."""
        if not protected or not self.units:
            return self
        keep = drop_leaks([u.text for u in self.units], protected, threshold)
        return self if len(keep) == len(self.units) else self._kept(keep)

    def without_rewordings(self, held: Sequence[Statement], threshold: float, days: int) -> TrainPart:
        """The part less its units that reword a held-out statement: the same actor, report dates at most ``days``
        apart, token Jaccard at least ``threshold`` (another outlet's wording of the same quote or step, which the
        exact guard at 0.8 does not catch), whatever stance either was given: a twin labelled otherwise is the
        hardest leak of all. A contrast set's reversed member (``COUNTERFACTUAL``: the same words with the other
        step, written by us) reports nothing and stays. Datelines are left to the exact guard; a unit without a
        date stays, and is counted in the log."""
        if not self.units or not held or threshold <= 0:
            return self
        by_actor: dict[str, list[tuple[datetime.date, frozenset[str]]]] = {}
        for actor, date, text in held:
            if (d := _day(date)) is not None:
                by_actor.setdefault(actor, []).append((d, tokens(text)))
        keep, undated = [], 0
        dates = self.dates or [""] * len(self.units)
        for i, (u, (actor, _), date) in enumerate(zip(self.units, self.labels, dates)):
            d, near = _day(date), by_actor.get(actor, ())
            undated += not date and u.kind != "dateline"
            if d is not None and u.kind != "dateline":
                near = [ht for hd, ht in near if abs((d - hd).days) <= days]
                own = tokens(u.text) if near else frozenset()  # once per unit, not once per held-out statement
                if near and max(jaccard(own, ht) for ht in near) >= threshold:
                    continue
            keep.append(i)
        if undated:
            log.info("%s: %d train unit(s) without a date are not checked for rewordings of held-out statements "
                     "(give a record a 'date' to check it)", self.name, undated)
        if len(keep) < len(self.units):
            log.info("%s: %d train unit(s) that reword a held-out statement of the same actor (token Jaccard >= %.2f, "
                     "within %d days) left out of training", self.name, len(self.units) - len(keep), threshold, days)
        return self._kept(keep)


def synthetic_part(cfg: Any, scheme: LabelScheme, avoid: Sequence[str]) -> TrainPart:
    """The seeded synthetic corpus, none of it within the leak threshold of a text in ``avoid``; each synthetic
    article keeps its id, kind and quote attribution, so speakers carry to its later units."""
    if int(cfg.data.synthetic.n or 0) <= 0:  # switched off: the template file is not read (nor need it fit)
        return TrainPart("synthetic", [], [], count_key="n_synthetic")
    gen = Generator(cfg.data.synthetic.templates, scheme)
    synth = gen.generate(int(cfg.data.synthetic.n), int(cfg.data.synthetic.seed), list(avoid),
                         float(cfg.evaluation.max_overlap))
    log.info("synthetic corpus: %d units in %d articles from %d templates", len(synth),
             len({e.article for e in synth}), len(gen.templates))
    return TrainPart("synthetic", [e.unit() for e in synth], [(e.actor, e.stance) for e in synth],
                     count_key="n_synthetic")


def silver_corpus_part(cfg: Any, scheme: LabelScheme) -> TrainPart:
    """A folder of articles labelled by the rules (``data.corpus``); empty without one."""
    if cfg.data.corpus is None:
        return TrainPart("silver corpus", [], [], count_key="n_corpus")
    from .corpus import label_folder

    c = cfg.data.corpus
    ds = label_folder(c.path, scheme, c.num_proc, c.max_articles, cfg.data.language,
                      {"actor_lfs": list(cfg.rules.actor_lfs), "stance_lfs": list(cfg.rules.stance_lfs),
                       "aggregator": str(cfg.rules.aggregator)})
    log.info("silver corpus: %d units from %s", len(ds), c.path)
    return TrainPart("silver corpus", [Unit.of_text(t, i, a, k, s) for t, i, a, k, s in
                                       zip(ds["text"], ds["id"], ds["article_id"], ds["kind"], ds["section"])],
                     list(zip(ds["actor"], ds["stance"])), count_key="n_corpus")


def swap_part(parts: Sequence[TrainPart], scheme: LabelScheme, n: int, seed: int,
              speakers_of: Callable[[Sequence[Unit]], Sequence[str | None]] | None = None,
              pair_only: bool = False) -> TrainPart:
    """Counterfactual augmentation: up to ``n`` speaker-swapped copies (``weak.swap``) of each unit of ``parts`` with a
    named actor, labelled with the swapped-in actor and the unit's own stance, so that the training mix shows every
    actor taking each stance. ``speakers_of`` gives the speaker each unit is read with (a "he said" carries the
    name before it), which the copy carries swapped. ``pair_only``: the copies serve only as partners for
    counterfactual logit pairing (``extra["pair_only"]``), not as training examples of their own."""
    from .swap import Swapper, swap_units

    swapper = Swapper(scheme, seed)
    if not scheme.names.actors:  # the remedy the training mix relies on would be off in silence
        log.warning("%s: no names table ('names:'), so no speaker-swapped copies are made and no swap test is "
                    "scored; add one to train and measure the invariance to the speaker", scheme.source)
    units: list[Unit] = []
    labels: list[tuple[str, str]] = []
    skipped = 0
    for p in parts:
        said = speakers_of(p.units) if speakers_of is not None else None
        copies, why = swap_units(swapper, p.units, [a for a, _ in p.labels], n, said)
        units += [replace(c.unit, extra={**c.unit.extra, "pair_only": True}) if pair_only else c.unit
                  for c in copies]
        labels += [(c.target, p.labels[c.index][1]) for c in copies]
        skipped += sum(why.values())
    log.info("speaker-swapped copies: %d (%d units with a named actor gave none)", len(units), skipped)
    if pair_only:
        return TrainPart("speaker-swapped partners", units, labels, count_key="n_pair_partners")
    return TrainPart("speaker-swapped copies", units, labels, count_key="n_swap_train")


def alias_part(parts: Sequence[TrainPart], scheme: LabelScheme, n: int, seed: int) -> TrainPart:
    """Alias variety: up to ``n`` copies of each unit of ``parts`` that names a country, every country named by
    another of its forms ("the DPRK", "the Republic of Korea", "U.S."), labels kept, so that a model does not learn
    one spelling per actor."""
    from .swap import Swapper, vary_units

    swapper = Swapper(scheme, seed)
    units: list[Unit] = []
    labels: list[tuple[str, str]] = []
    for p in parts:
        copies = vary_units(swapper, p.units, n)
        units += [c.unit for c in copies]
        labels += [p.labels[c.index] for c in copies]
    log.info("alias-varied copies: %d", len(units))
    return TrainPart("alias-varied copies", units, labels, count_key="n_alias_train")


def unlike_part(parts: Sequence[TrainPart], scheme: LabelScheme, n: int, seed: int,
                speakers_of: Callable[[Sequence[Unit]], Sequence[str | None]] | None = None) -> TrainPart:
    """Direction-flipped copies for unlikelihood (``data.direction_unlike``): up to ``n`` per unit of ``parts`` whose
    stance is hardline or conciliatory, one step word each turned into its reverse (``weak.direction``), read with
    the original's speaker. Each keeps the original's labels and is marked ``extra["unlike"]``: its actor is trained
    as usual, its stance only away from the original's."""
    from .direction import DirectionFlipper

    flipper = DirectionFlipper(scheme)
    polar = {scheme.coercive, scheme.deescalating}
    units: list[Unit] = []
    labels: list[tuple[str, str]] = []
    for p in parts:
        said = speakers_of(p.units) if speakers_of is not None else None
        for f in flipper.copies(p.units, n, ("unlike", seed), said):
            if p.labels[f.index][1] in polar:
                units.append(replace(f.unit, extra={**f.unit.extra, "unlike": True}))
                labels.append(p.labels[f.index])
    log.info("direction-flipped copies for unlikelihood: %d", len(units))
    return TrainPart("direction-flipped copies (unlikelihood)", units, labels, count_key="n_unlike_train")


def wants_pool(cfg: Any) -> bool:
    """Whether the run distils and asks for a transfer pool (``data.teacher.pool_*``)."""
    t = cfg.data.teacher
    return bool(float(cfg.trainer.get("distill_weight", 0.0) or 0.0)
                and (int(t.pool_swap) or int(t.pool_alias) or int(t.pool_synthetic) or int(t.pool_direction)
                     or list(t.get("pool_files") or [])))


def pool_file_units(paths: Sequence[str]) -> list[Unit]:
    """The units of the pool files (``data.teacher.pool_files``): one a line, its kind and named speaker kept, ids
    prefixed by the file's stem so that two files cannot collide; a bad line is one error naming file and line."""
    from ..text.read import iter_jsonl

    units: list[Unit] = []
    for path in paths:
        stem = Path(path).stem
        for line, rec in iter_jsonl(path):
            uid = f"{stem}:{rec.get('id') or line}"
            u = Unit.of_text(rec["text"], uid, uid, rec.get("kind") or "sentence")
            if rec.get("speaker"):
                u.extra["speaker"] = str(rec["speaker"])
            units.append(u)
    return units


def teacher_pool(cfg: Any, scheme: LabelScheme, avoid: Sequence[str], parts: Sequence[TrainPart],
                 speakers_of: Callable[[Sequence[Unit]], Sequence[str | None]] | None = None) -> list[TrainPart]:
    """The transfer pool of a distilling run (``data.teacher.pool_*``): texts the student learns from the teacher's
    distributions alone (``extra["teacher_only"]``; the labels kept with them are never trained on). Swapped copies
    take names drawn with another seed than the labelled copies', and ids of their own."""
    if not wants_pool(cfg):
        return []
    t = cfg.data.teacher
    n_swap, n_alias, n_synth = int(t.pool_swap), int(t.pool_alias), int(t.pool_synthetic)
    n_dir = int(t.pool_direction)
    from .direction import DirectionFlipper
    from .swap import Swapper, swap_units, vary_units

    seed = int(cfg.seed) + 7_919  # not the labelled copies' names
    units: list[Unit] = []
    labels: list[tuple[str, str]] = []

    def add(u: Unit, label: tuple[str, str], source: str) -> None:
        units.append(replace(u, id=f"{u.id}~pool", article_id=f"{u.article_id}~pool",
                             extra={**u.extra, "teacher_only": True, "pool": source}))
        labels.append(label)

    if n_synth:
        gen = Generator(cfg.data.synthetic.templates, scheme)
        for e in gen.generate(n_synth, int(cfg.data.synthetic.seed) + seed, list(avoid),
                              float(cfg.evaluation.max_overlap)):
            add(e.unit(), (e.actor, e.stance), "synthetic")
    swapper, flipper = Swapper(scheme, seed), DirectionFlipper(scheme)
    for p in parts:
        said = speakers_of(p.units) if speakers_of is not None and (n_swap or n_dir) else None
        if n_swap:
            copies, _ = swap_units(swapper, p.units, [a for a, _ in p.labels], n_swap, said)
            for c in copies:
                add(replace(c.unit, extra={k: v for k, v in c.unit.extra.items() if k != "swap_of"}),
                    (c.target, p.labels[c.index][1]), "swap")
        if n_alias:
            for c in vary_units(swapper, p.units, n_alias):
                add(replace(c.unit, extra={k: v for k, v in c.unit.extra.items() if k != "alias_of"}),
                    p.labels[c.index], "alias")
        if n_dir:  # the label kept with a flipped copy is the original's, never trained on
            for f in flipper.copies(p.units, n_dir, seed, said):
                add(replace(f.unit, extra={k: v for k, v in f.unit.extra.items() if k != "direction_of"}),
                    p.labels[f.index], "direction")
    for u in pool_file_units([str(f) for f in t.get("pool_files") or []]):
        # a placeholder label, never trained on; the id stays the line's (its distributions are keyed by text)
        units.append(replace(u, extra={**u.extra, "teacher_only": True, "pool": "file"}))
        labels.append((scheme.none_actor, scheme.neutral_stance))
    log.info("distillation pool: %d units the teacher alone labels (%s)", len(units),
             ", ".join(f"{k} {sum(u.extra['pool'] == k for u in units)}"
                       for k in ("synthetic", "swap", "alias", "direction", "file")))
    return [TrainPart("distillation pool", units, labels, count_key="n_pool_train")]


def root_id(uid: str) -> str:
    """The id of the unit a copy was made from (copies append ``~swap target``, ``~alias0``, ``~dir0``, ``~pool``)."""
    return uid.split("~", 1)[0]


def fold_of(source: str, folds: int) -> int:
    """The cross-fitting fold of a source: a hash of its name (the same on every run and machine, unlike ``hash``)."""
    return int(hashlib.sha256(source.encode()).hexdigest()[:12], 16) % folds


class TrainingData:
    """The parts every training set shares, and how to add the article's units."""

    def __init__(self, cfg: Any, scheme: LabelScheme, avoid: Sequence[str],
                 labels_of: Callable[[Unit], tuple[str, str]], protected: Sequence[str] = (),
                 parts: Sequence[TrainPart] = (), held_reports: Collection[str] = (),
                 augment: Callable[[Sequence[TrainPart]], Sequence[TrainPart]] | None = None,
                 held_statements: Sequence[Statement] = ()) -> None:
        """``avoid``: texts the synthetic corpus must not copy (every gold text a model is scored on); ``protected``: held-out
        texts (dev and test of every corpus) no training set may come close to; ``parts``: labelled units added to
        every training set (the gold corpora's train splits), between the synthetic corpus and any silver corpus;
        ``held_reports``: reports some corpus holds out, whose units no part may train on; ``augment``: builds more
        parts, added last, from the synthetic corpus and the ``parts`` (speaker-swapped and alias-varied copies);
        ``held_statements``: the held-out units (actor, date, text) that no dated part may reword."""
        self.protected = list(protected)
        # real sentences are few: show them more often; 0 leaves the article's (silver) units out of training
        self.repeat = max(0, int(cfg.data.article_repeat))
        self.max_overlap = float(cfg.evaluation.max_overlap)
        self.labels_of = labels_of
        ev = cfg.evaluation
        shared = [synthetic_part(cfg, scheme, avoid),
                  *(p.without_reports(held_reports).without_rewordings(held_statements, float(ev.reworded_overlap),
                                                                        int(ev.reworded_days)) for p in parts),
                  silver_corpus_part(cfg, scheme)]
        # the exact guard before any copy is made (a copy of a dropped unit would otherwise survive it), and again
        # on the whole set below, copies included
        n_before = sum(len(p.units) * p.repeat for p in shared)
        shared = [p.without_leaks(self.protected, self.max_overlap) for p in shared]
        n_pre_dropped = n_before - sum(len(p.units) * p.repeat for p in shared)
        # each unit's source, for cross-fitting: a gold unit's report, else its article; copies go with their original
        self.sources: dict[str, str] = {}
        for p in shared:
            for j, u in enumerate(p.units):
                self.sources.setdefault(root_id(u.id), p.reports[j] if p.reports else root_id(u.article_id))
        t = cfg.data.get("teacher")
        # a cross-fitted teacher (data.teacher.folds) trains on every fold but its own
        self.holdout = (int(t.fold), int(t.folds)) if t is not None and int(t.get("folds", 0) or 0) else None
        if augment is not None:
            shared += augment(shared[:-1])
        self.extra: list[Unit] = []
        self.extra_labels: list[tuple[str, str]] = []
        spans = []
        for p in shared:
            log.info("training part %s: %d units (x%d)", p.name, len(p.units), p.repeat)
            start = len(self.extra)
            self.extra += list(p.units) * p.repeat
            self.extra_labels += list(p.labels) * p.repeat
            spans.append((p, start, len(self.extra)))
        # the shared parts against dev and test once here, not once per fold in build()
        keep = drop_leaks([u.text for u in self.extra], self.protected, self.max_overlap) if self.protected else None
        self.n_shared_dropped = n_pre_dropped + (0 if keep is None else len(self.extra) - len(keep))
        kept = range(len(self.extra)) if keep is None else keep
        self.counts: dict[str, int] = {}
        for p, start, end in spans:
            if p.count_key:
                n = len({self.extra[i].id for i in kept if start <= i < end}) if p.count_kept else len(p.units)
                self.counts[p.count_key] = self.counts.get(p.count_key, 0) + n
        if keep is not None:
            self.extra = [self.extra[i] for i in keep]
            self.extra_labels = [self.extra_labels[i] for i in keep]

    def source_of(self, u: Unit) -> str:
        """The source a training example comes from (its copies share it): what cross-fitting folds by."""
        return self.sources.get(root_id(u.id), root_id(u.article_id))

    def folds_of(self, units: Sequence[Unit], folds: int) -> list[int]:
        return [fold_of(self.source_of(u), folds) for u in units]

    def build(self, train_units: Sequence[Unit], held_texts: Sequence[str]) -> Labelled:
        """The article's ``train_units`` (repeated) plus the shared parts, minus leaks into ``held_texts`` and
        the protected texts, and minus a cross-fitted teacher's own fold."""
        own = list(train_units) * self.repeat
        units = own + self.extra
        labels = [self.labels_of(u) for u in train_units] * self.repeat + self.extra_labels
        held = [*held_texts, *self.protected]
        # the article's units against everything held out; the shared parts (checked against dev and test in
        # __init__) against this fold's held texts
        keep_own = drop_leaks([u.text for u in own], held, self.max_overlap) if held else range(len(own))
        keep_extra = (drop_leaks([u.text for u in self.extra], list(held_texts), self.max_overlap) if held_texts
                      else range(len(self.extra)))
        keep = [*keep_own, *(len(own) + i for i in keep_extra)]
        dropped = len(units) - len(keep) + self.n_shared_dropped
        if dropped:
            log.info("dropped %d training sentences overlapping held-out gold (Jaccard >= %.2f)", dropped,
                     self.max_overlap)
        if self.holdout is not None:
            fold, folds = self.holdout
            of = self.folds_of([units[i] for i in keep], folds)
            log.info("cross-fitting: fold %d of %d (%d training examples) left out", fold, folds,
                     sum(f == fold for f in of))
            keep = [i for i, f in zip(keep, of) if f != fold]
        return [units[i] for i in keep], [labels[i] for i in keep]
