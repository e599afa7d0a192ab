"""The gold corpora: hand-labelled units, their splits and whole articles, behind one interface
(:class:`GoldCorpus`), loaded and checked here and nowhere else."""

from .base import Article, GoldCorpus, hash_split, match_article, report_of, sentence_units
from .load import gold_units, load_contrast, load_corpora, load_extra_gold, load_gold, load_multisource, seed_corpus

__all__ = ["Article", "GoldCorpus", "gold_units", "hash_split", "load_contrast", "load_corpora", "load_extra_gold", "load_gold", "load_multisource",
           "match_article", "report_of", "seed_corpus", "sentence_units"]
