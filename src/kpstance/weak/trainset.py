"""Training sets: the article's units (silver or gold labels, repeated), the synthetic corpus and any
silver corpus, with every sentence too close to a held-out gold sentence dropped (no leakage)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..text.overlap import drop_leaks
from ..text.segment import Unit
from .scheme import LabelScheme
from .synthetic import Generator

log = logging.getLogger("kpstance")
Labelled = tuple[list[Unit], list[tuple[str, str]]]


class TrainingData:
    """The parts every training set shares (synthetic and silver corpora) and how to add the article's units."""

    def __init__(self, cfg: Any, scheme: LabelScheme, gold_texts: Sequence[str],
                 labels_of: Callable[[Unit], tuple[str, str]], protected: Sequence[str] = (),
                 gold_train: Labelled | None = None, extra_gold: Labelled | None = None) -> None:
        """``protected``: held-out texts (multi-source and extra gold dev and test) no training set may come close
        to; ``gold_train``: hand-labelled units added to every training set (the multi-source train split);
        ``extra_gold``: the train split of the imported gold sets (data.extra_gold), added likewise."""
        self.protected = list(protected)
        # real sentences are few: show them more often; 0 leaves the article's (silver) units out of training
        self.repeat = max(0, int(cfg.data.article_repeat))
        self.max_overlap = float(cfg.evaluation.max_overlap)
        self.labels_of = labels_of
        gen = Generator(cfg.data.synthetic.templates, scheme)
        synth = gen.generate(int(cfg.data.synthetic.n), int(cfg.data.synthetic.seed), [*gold_texts, *self.protected],
                             self.max_overlap)
        log.info("synthetic corpus: %d units in %d articles from %d templates", len(synth),
                 len({e.article for e in synth}), len(gen.templates))
        # each synthetic article keeps its id, kind and quote attribution: speakers carry to its later units
        self.extra: list[Unit] = [e.unit() for e in synth]
        self.extra_labels = [(e.actor, e.stance) for e in synth]
        self.n_synthetic = len(synth)
        self.n_gold_train = 0
        if gold_train is not None:
            rep = int(cfg.data.multisource.repeat)
            self.extra += list(gold_train[0]) * rep
            self.extra_labels += list(gold_train[1]) * rep
            self.n_gold_train = len(gold_train[0])
            log.info("multi-source train split: %d gold units (x%d)", self.n_gold_train, rep)
        self.n_extra_gold = 0  # the imported units that train: counted after the leak guard, below
        span = (len(self.extra), len(self.extra))
        if extra_gold is not None:
            rep = int(cfg.data.extra_gold_repeat)
            self.extra += list(extra_gold[0]) * rep
            self.extra_labels += list(extra_gold[1]) * rep
            span = (span[0], len(self.extra))
            log.info("extra gold, train split: %d units (x%d)", len(extra_gold[0]), rep)
        self.n_corpus = 0
        if cfg.data.corpus is not None:
            from .corpus import label_folder

            c = cfg.data.corpus
            ds = label_folder(c.path, scheme, c.num_proc, c.max_articles, cfg.data.language,
                              {"actor_lfs": list(cfg.rules.actor_lfs), "stance_lfs": list(cfg.rules.stance_lfs),
                               "aggregator": str(cfg.rules.aggregator)})
            self.extra += [Unit.of_text(t, i, a, k, s) for t, i, a, k, s in
                           zip(ds["text"], ds["id"], ds["article_id"], ds["kind"], ds["section"])]
            self.extra_labels += list(zip(ds["actor"], ds["stance"]))
            self.n_corpus = len(ds)
            log.info("silver corpus: %d units from %s", self.n_corpus, c.path)
        # the shared parts against dev and test once here, not once per fold in build()
        keep = drop_leaks([u.text for u in self.extra], self.protected, self.max_overlap) if self.protected else None
        self.n_shared_dropped = 0 if keep is None else len(self.extra) - len(keep)
        kept = range(len(self.extra)) if keep is None else keep
        self.n_extra_gold = len({self.extra[i].id for i in kept if span[0] <= i < span[1]})
        if keep is not None:
            self.extra = [self.extra[i] for i in keep]
            self.extra_labels = [self.extra_labels[i] for i in keep]

    def build(self, train_units: Sequence[Unit], held_texts: Sequence[str]) -> Labelled:
        """The article's ``train_units`` (repeated) plus the shared parts, minus leaks into ``held_texts`` and
        the protected texts."""
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
        return [units[i] for i in keep], [labels[i] for i in keep]
