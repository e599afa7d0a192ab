"""What a reader knows about a unit besides its words: its kind and who is speaking.

The context is a short second text given to the encoder with the unit ("title; speaker: Lavrov"),
in training and in prediction alike. The speaker is the source phrase of the unit's attribution
("Geng Shuang said", a quote's "he said", "according to Suga"); a pronoun or a bare title ("he",
"the minister") is replaced by the last named speaker of the same article, so "he said" carries
the name it stands for. A unit that is not reported speech has no speaker.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from ..text.segment import CLOSE_QUOTES, Unit
from ..weak.attribution import parse, rules_for
from ..weak.scheme import LabelScheme

NO_SPEAKER = "-"


def format_context(kind: str, speaker: str | None) -> str:
    """The second text of the pair: also what a ``.jsonl`` line's optional ``kind`` and ``speaker`` give."""
    return f"{kind or 'sentence'}; speaker: {speaker or NO_SPEAKER}"


def parse_context(context: str) -> tuple[str, str | None]:
    """The (kind, speaker) a context was formatted from: the inverse of ``format_context``."""
    kind, _, rest = context.partition("; speaker: ")
    return kind or "sentence", None if rest in ("", NO_SPEAKER) else rest


def contexts(units: Sequence[Unit], scheme: LabelScheme) -> list[str]:
    """One context per unit, reading each article's units in order (speakers carry within an article only); a
    unit that names its speaker (``extra["speaker"]``, an imported gold unit's) keeps it."""
    return [format_context(u.kind, s) for u, s in zip(units, speakers(units, scheme))]


def speakers(units: Sequence[Unit], scheme: LabelScheme, last_named: dict[str, str] | None = None) -> list[str | None]:
    """Each unit's speaker (None for a unit that is not reported speech), reading the units in article order.

    ``last_named`` (article id → last named speaker) is the memory that "he said" is resolved with; pass the same
    dict again to carry it into the next part of the same article.
    """
    rules = rules_for(scheme)
    last_named = {} if last_named is None else last_named
    out: list[str | None] = []
    for u in units:
        if u.extra.get("speaker"):
            out.append(u.extra["speaker"])
            continue
        speaker = None
        source = _source(rules, u)
        if source:
            words = source.split()
            if rules.pronoun_re.fullmatch(source) or (len(words) <= 4 and rules.role_re.search(source)
                                                      and not rules.matcher.mentions(source)):
                speaker = last_named.get(u.article_id, source)  # "he", "the minister": the last named speaker
            elif rules.matcher.mentions(source) or source[:1].isupper():
                speaker = last_named[u.article_id] = " ".join(words[:8])
        out.append(speaker)
    return out


def _source(rules, u: Unit) -> str | None:
    """The source phrase of a unit's attribution: a heading's dash, a trailing or leading clause, the
    clause after a closing quote, an inserted "he said", or the attribution of the quote it belongs to."""
    att = parse(rules, u)
    # the heading's dash, the trailing clause, the leading one: the first that names someone ("Kim told the plenum
    # ..., according to the state news agency" has its speaker in the leading clause, not the lower-case trailing one)
    for source in (att.dash, att.trailing[0] if att.trailing else None, att.leading[0] if att.leading else None):
        if source and (source[:1].isupper() or rules.pronoun_re.fullmatch(source)):
            return source
    # after the quote the unit opens with ('"We hope ...," he said, also urging "others" to ...'), then after its last
    for cut in dict.fromkeys((att.quoted, max(u.text.rfind(q) for q in CLOSE_QUOTES))):
        if 0 < cut < len(u.text):
            lead = rules.leading_attribution(u.text[cut + 1 :].strip(" ,"))
            if lead:
                return lead[0]
    inserted = rules.verb_re.search(u.text)
    if inserted:
        before = u.text[: inserted.start()].rstrip().rsplit(",", 1)[-1].strip()
        if rules.pronoun_re.fullmatch(before):
            return before
    if u.in_quote and u.quote_attribution:
        lead = rules.leading_attribution(u.quote_attribution)
        return lead[0] if lead else None
    return None


class ContextReader:
    """Kind and speaker of each input row (path, record, unit or line number), read chunk by chunk.

    An article's units get their speakers from the rules, in article order; the memory of the last named
    speaker is kept from one chunk to the next while the rows come from the same file, so where a chunk ends
    never changes a context. A ``.jsonl`` line takes its optional ``kind`` and ``speaker`` fields (a bare
    sentence: kind sentence, no speaker) and never carries a speaker.
    """

    def __init__(self, scheme: LabelScheme) -> None:
        self.scheme = scheme
        self._file: str | None = None
        self._last_named: dict[str, str] = {}

    def __call__(self, chunk: Sequence[tuple[str, dict, Any]]) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for path, group in itertools.groupby(chunk, key=lambda row: row[0]):
            rows = list(group)
            if path != self._file:  # a new file: nothing carries over from the last one
                self._file, self._last_named = path, {}
            units = [w for _, _, w in rows if not isinstance(w, int)]
            from_units = iter(zip((u.kind for u in units), speakers(units, self.scheme, self._last_named)))
            out += [(r.get("kind") or "sentence", r.get("speaker") or None) if isinstance(w, int) else next(from_units)
                    for _, r, w in rows]
        return out


def chunk_contexts(chunk: list, scheme: LabelScheme, reader: ContextReader | None = None) -> list[str]:
    """Each input's context string (see ``ContextReader``); give the same ``reader`` for every chunk of a stream."""
    return [format_context(k, s) for k, s in (reader or ContextReader(scheme))(chunk)]
