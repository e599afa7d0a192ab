"""Who stands where: actor × stance tables per article and for the whole corpus.

Counts and shares with one example sentence per cell, as a pandas DataFrame, a printed
table and a stacked bar chart. Only counts and the first example of each cell are kept,
so a corpus of any size is summarised in constant memory.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

CORPUS = "(corpus)"


class Summary:
    """Accumulates (article, actor, stance, text) rows."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.examples: dict[tuple[str, str, str], str] = {}

    def add(self, article: str, actor: str, stance: str, text: str) -> None:
        for scope in (article, CORPUS):
            key = (scope, actor, stance)
            self.counts[key] += 1
            self.examples.setdefault(key, text)

    def frame(self) -> Any:
        """DataFrame with columns scope, actor, stance, count, share (of the scope's sentences), example."""
        import pandas as pd

        totals = Counter()
        for (scope, _, _), n in self.counts.items():
            totals[scope] += n
        rows = [
            {"scope": scope, "actor": actor, "stance": stance, "count": n, "share": n / totals[scope],
             "example": self.examples[(scope, actor, stance)]}
            for (scope, actor, stance), n in self.counts.items()
        ]
        df = pd.DataFrame(rows, columns=["scope", "actor", "stance", "count", "share", "example"])
        order = {CORPUS: 0}
        return df.sort_values(["scope", "count"], key=lambda c: c.map(lambda v: (order.get(v, 1), v)) if c.name == "scope" else -c,
                              kind="stable").reset_index(drop=True)


def summarize_predictions(rows: Iterable[Mapping[str, Any]], article_key: str = "article_id") -> Any:
    """DataFrame of actor × stance per article and for the corpus, from predicted rows (dicts)."""
    s = Summary()
    for r in rows:
        s.add(str(r.get(article_key, "input")), r["actor"], r["stance"], r["text"])
    return s.frame()


def summarize(model: str | os.PathLike | Any, inputs: Sequence[str], batch_size: int = 64,
              labels: str | os.PathLike | None = None) -> Any:
    """Predict the inputs (articles, .jsonl files, folders) with a saved model (a folder or a loaded
    ``StancePredictor``) and summarise them."""
    s = Summary()
    for r in predicted_units(model, inputs, batch_size, labels):
        s.add(r["article"], r["actor"], r["stance"], r["text"])
    return s.frame()


def predicted_units(model: str | os.PathLike | Any, inputs: Sequence[str], batch_size: int = 64,
                    labels: str | os.PathLike | None = None) -> Iterator[dict]:
    """The unit-level labels a summary counts: predicted exactly as ``kpstance predict`` does (the same
    ``predict_rows``, so each unit is read with its kind and carried speaker), one dict per unit with its id,
    article, text, actor, stance and scores."""
    from ..systems.predictor import StancePredictor
    from ..text.read import iter_inputs

    predictor = model if isinstance(model, StancePredictor) else StancePredictor.load(model)
    for chunk in predictor.predict_rows(iter_inputs(list(inputs)), predictor.scheme(labels), batch_size):
        for (path, rec, _), p in chunk:
            yield {"id": rec.get("id"), "article": str(rec.get("article_id", os.path.basename(path))),
                   "text": rec["text"], "actor": p["actor"], "stance": p["stance"], "actor_score": p["actor_score"],
                   "stance_score": p["stance_score"]}


def pivot(df: Any, scope: str, stances: Sequence[str] | None = None) -> Any:
    """Actors as rows, stances as columns: 'count (share)' strings for one scope."""
    sub = df[df.scope == scope]
    table = sub.pivot_table(index="actor", columns="stance", values="count", aggfunc="sum", fill_value=0)
    if stances:
        table = table.reindex(columns=[s for s in stances if s in table.columns])
    return table


ROLE_COLORS = {"coercive": "#c0392b", "deescalating": "#2e86c1", "neutral": "#95a5a6"}


def plot_stacked(df: Any, path: str | os.PathLike, scope: str = CORPUS, roles: Mapping[str, str] | None = None) -> None:
    """Stacked bars: one bar per actor, segments per stance, for one scope.

    ``roles`` (the label scheme's stance roles) colours each stance by its role.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = pivot(df, scope)
    colors = {stance: ROLE_COLORS[role] for role, stance in (roles or {}).items() if role in ROLE_COLORS}
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(table)), 4))
    bottom = [0] * len(table)
    for stance in table.columns:
        vals = list(table[stance])
        ax.bar(list(table.index), vals, bottom=bottom, label=stance, color=colors.get(stance))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("sentences")
    ax.set_title(f"actor × stance — {scope}")
    ax.legend()
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render_tables(df: Any) -> str:
    """One rich table per scope: actor rows, stance columns with count (share), and an example per cell."""
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, width=160, force_terminal=False)
    for scope in dict.fromkeys(df.scope):
        sub = df[df.scope == scope]
        stances = list(dict.fromkeys(sub.stance))
        table = Table(title=f"{scope}: {int(sub['count'].sum())} sentences", show_lines=True)
        table.add_column("actor", no_wrap=True)
        for st in stances:
            table.add_column(st)
        for actor in dict.fromkeys(sub.actor):
            cells = []
            for st in stances:
                hit = sub[(sub.actor == actor) & (sub.stance == st)]
                if hit.empty:
                    cells.append(Text("-"))
                else:
                    r = hit.iloc[0]
                    ex = r.example if len(r.example) <= 70 else r.example[:67] + "…"
                    cells.append(Text(f"{r['count']} ({r.share:.0%})\n{ex}"))
            table.add_row(Text(actor), *cells)
        console.print(table)
    return buf.getvalue()
