"""The trend chart a researcher would put in a paper: one small panel per actor, stance shares (or the net
index) over time with their interval bands, shared axes, thin periods marked with their counts, and events.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..files import save_figure
from .summary import span

ROLE_COLORS = {"coercive": "#c0392b", "deescalating": "#2471a3", "neutral": "#7f8c8d"}
MARKERS = ("o", "^", "s", "D", "v")  # one shape per stance series, in the scheme's order
THIN = 20  # a period with fewer units than this shows its count
DODGE = 0.16  # how far apart, in periods, the stances' bars of one period stand


def read_events(path: str | os.PathLike) -> list[tuple[date, str]]:
    """(date, label) of each event of a YAML file ``events: [{date, name, label?}]``, in date order."""
    import yaml

    from ..files import read_utf8

    p = Path(path)
    try:
        # a missing, binary or non-UTF-8 file is one line naming it (read_utf8); strings: dates checked below
        data = yaml.load(read_utf8(p), Loader=yaml.BaseLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise KpstanceError(f"{p}{f':{mark.line + 1}' if mark else ''}: not valid YAML") from None
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise KpstanceError(f"{p}: needs a list 'events' of entries with a date and a name")
    out = []
    for i, ev in enumerate(events, start=1):
        if not isinstance(ev, dict) or not ev.get("name") or "date" not in ev:
            raise KpstanceError(f"{p}: event {i} needs a date and a name")
        d = ev["date"]
        if not isinstance(d, date):
            try:
                d = date.fromisoformat(str(d))
            except ValueError:
                raise KpstanceError(f"{p}: event {i} ('{ev['name']}'): date '{ev['date']}' is not YYYY-MM-DD") from None
        out.append((d, str(ev.get("label") or ev["name"])))
    return sorted(out)


def plot_trend(df: Any, path: str | os.PathLike, metric: str = "shares", estimator: str | None = None,
               events: Sequence[tuple[date, str]] | str | os.PathLike | None = None, thin: int = THIN
               ) -> dict[str, dict[str, list[float]]]:
    """Write the chart of a ``summarize`` table (``events``: (date, label) pairs or an events YAML file); returns
    what each panel drew (actor -> series -> values, one per period), so a caller can check the picture against
    the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    if isinstance(events, (str, os.PathLike)):
        events = read_events(events)
    est = estimator or (df.attrs.get("estimators") or list(df.estimator.unique()))[0]
    sub = df[df.estimator == est]
    totals = sub.groupby("actor", sort=False).units.sum()
    actors = [a for a in dict.fromkeys(sub.actor) if totals[a] > 0]  # an actor never present gets no panel
    if not actors:
        raise KpstanceError("nothing to plot: no actor has units in the input")
    stances = df.attrs.get("stances") or [c for c in df.columns if f"{c}_low" in df.columns and c != "net"]
    colors = {s: ROLE_COLORS.get(role) for role, s in (df.attrs.get("roles") or {}).items()}
    by = df.attrs.get("by", "all")
    timeline = by != "all"
    ncols = min(3, len(actors))
    nrows = math.ceil(len(actors) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.9 * nrows), sharex=True, sharey=True,
                             squeeze=False)
    series = [*stances] if metric == "shares" else ["net"]
    if timeline:  # events within the periods shown (first start to last end); others would stretch the axis
        from .summary import next_period

        first, last = sub.start.min().date(), sub.start.max().date()
        end = next_period(last, by)
        events = [(d, name) for d, name in events or () if first <= d < end]
    drawn: dict[str, dict[str, list[float]]] = {}
    dense = sub.start.nunique() > 12  # more periods than a panel's width holds side by side as 'n=12'
    low, high = (-1.0, 1.0) if metric == "net" else (0.0, 1.0)
    strip = 0.13 * (high - low)  # below the lowest value: the thin periods' counts, clear of the lines
    top = 0.09 * (high - low) if timeline and events else 0.02  # above the highest: the events' numbers
    for ax, actor in zip(axes.flat, actors):
        rows = sub[sub.actor == actor]
        # a period's points about its middle, so an event lies inside the period that holds its articles
        x = ([s.date() + (next_period(s.date(), by) - s.date()) / 2 for s in rows.start] if timeline
             else list(range(len(rows))))
        # positions as numbers (days on a date axis) and each period's width, for the stances set side by side
        xnum = [float(v) for v in mdates.date2num(x)] if timeline else [float(v) for v in x]
        width = [(next_period(s.date(), by) - s.date()).days for s in rows.start] if timeline else [1.0] * len(x)
        if timeline:
            ax.xaxis_date()  # the positions below are numbers of days
        drawn[actor] = {}
        for k, s in enumerate(series):
            y, lo, hi = (rows[c].astype(float).tolist() for c in (s, f"{s}_low", f"{s}_high"))
            # each stance's series a little to the side of the period's middle (a sixth of a period between two),
            # so that no stance's interval bar hides another's
            shift = (k - (len(series) - 1) / 2) * DODGE
            xs = [xn + shift * w for xn, w in zip(xnum, width)]
            color = colors.get(s, "#34495e") if s != "net" else "#34495e"
            # a shape per series as well as a colour: two stances at the same share (0.5 and 0.5) stay both visible,
            # and the chart reads in greyscale and to colour-blind readers
            # the first filled and small, each later one hollow and larger: coinciding points nest
            (line,) = ax.plot(xs, y, marker=MARKERS[k % len(MARKERS)], markersize=2.8 + 1.2 * k, linewidth=1.4,
                              color=color, label=s, markerfacecolor=color if k == 0 else "none", markeredgewidth=0.9)
            # a light fill, with its edges drawn thin in the series' colour: where the bands of two stances overlap,
            # the blend alone would not say whose band is whose
            ax.fill_between(xs, lo, hi, color=color, alpha=0.12, linewidth=0)
            for edge in (lo, hi):
                ax.plot(xs, edge, color=color, linewidth=0.6, alpha=0.55)
            banded = [not (math.isnan(a) or math.isnan(b)) for a, b in zip(lo, hi)]
            alone = [i for i in range(len(y)) if banded[i]  # a band needs a banded neighbour: a bar instead
                     and not any(0 <= j < len(y) and banded[j] for j in (i - 1, i + 1))]
            if alone:
                ax.errorbar([xs[i] for i in alone], [y[i] for i in alone], fmt="none", ecolor=color, alpha=0.6,
                            yerr=[[max(0.0, y[i] - lo[i]) for i in alone], [max(0.0, hi[i] - y[i]) for i in alone]],
                            elinewidth=1.2)
            drawn[actor][s] = [float(v) for v in line.get_ydata()]
        if metric == "net":
            ax.axhline(0.0, color="#999999", linewidth=0.8)
        total = int(rows.units.sum())
        ax.set_title(f"{actor.replace('_', ' ')} ({total:,} unit{'' if total == 1 else 's'})", fontsize=9)
        named = False
        for xi, n in zip(x, rows.units):
            if 0 < n < thin:  # a thin period: its count, so the reader weighs its band; where periods crowd, the
                # panel's first says 'n=' and the rest give the number alone, so neighbours do not run together
                ax.annotate(f"{n}" if dense and named else f"n={n}", (xi, low - strip / 2), ha="center",
                            va="center", fontsize=6 if not dense else 5.5, color="#777777")
                named = True
        for i, (d, _) in enumerate((events or []) if timeline else (), start=1):
            ax.axvline(d, color="#555555", linestyle=":", linewidth=0.8)
            # a number in a strip above the highest value, clear of the data and the title; the names in a key
            ax.annotate(str(i), (d, high + top / 2), ha="center", va="center", fontsize=6, color="#555555",
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        if not timeline:
            ax.set_xticks(x, list(rows.period))
            ax.set_xlim(-0.5, len(x) - 0.5)
    for ax in list(axes.flat)[len(actors):]:
        ax.set_visible(False)
    axes[0][0].set_ylim(low - strip, high + top)
    for ax in axes[:, 0]:
        ax.set_ylabel("net index" if metric == "net" else "share of units", fontsize=8)
    if timeline:  # a little room at each end, so the first and last points are not cut by the frame (in days as
        # numbers: a date moves by whole days only, and a short span's pad is a fraction of one)
        lo_day, hi_day = mdates.date2num(first), mdates.date2num(end)
        pad = 0.02 * (hi_day - lo_day)
        axes[0][0].set_xlim(lo_day - pad, hi_day + pad)
        fig.autofmt_xdate(rotation=30)
    # a panel with none below it in its column (the last row is short) keeps its dates: autofmt_xdate and the shared
    # axis keep them on the bottom row alone
    for i, ax in enumerate(list(axes.flat)[: len(actors)]):
        if i + ncols >= len(actors) and i // ncols < nrows - 1:
            ax.xaxis.set_tick_params(labelbottom=True)
            for label in ax.get_xticklabels():
                label.set_rotation(30 if timeline else 0)
                label.set_horizontalalignment("right" if timeline else "center")
    level = int(round(100 * df.attrs.get("level", 0.95)))
    what = "net stance index (hardline − conciliatory)" if metric == "net" else "stance shares"
    interval = "bootstrap over articles"
    if est == "acc":
        interval += " and dev reports"
    elif df.attrs.get("classifier_errors"):  # cc's and pcc's intervals carry the classifier's errors
        interval += " and the classifier's errors"
    # wrapped to the figure's width (11 characters an inch at 10 pt, with room): one panel is narrow
    title = textwrap.wrap(f"{what} {span(by)}: {est}, {level} % intervals ({interval})",
                          width=int(11 * fig.get_figwidth()))
    fig.suptitle("\n".join(title), fontsize=10)
    handles, labels = axes[0][0].get_legend_handles_labels()
    key = "; ".join(f"{i} {name} ({d:%Y-%m-%d})" for i, (d, name) in enumerate(events or [], start=1)) \
        if timeline else ""
    # the key wraps at what 6.5 pt text fits in the width (13 characters an inch, with room), and the figure
    # grows by its height, so the panels keep theirs however many events there are
    chars = int(13 * fig.get_figwidth())
    key_lines = textwrap.wrap(f"events: {key}", width=chars) if key else []
    # what a reader cannot see in the picture itself: what the counts under the panels are, and why a point has no
    # band (the bands are read as the intervals, so a point without one must not look like a certain one)
    notes = []
    if ((sub.units > 0) & (sub.units < thin)).any():
        notes.append(f"n = units of a period with fewer than {thin}")
    unbanded = sub[(sub.units > 0) & sub[f"{series[0]}_low"].isna()]
    if len(unbanded):
        notes.append("a point with no band or bar: one article, so no interval")
    key_lines = textwrap.wrap("; ".join(notes), width=chars) + key_lines if notes else key_lines
    key_in = 0.115 * len(key_lines) + (0.06 if key_lines else 0.0)
    legend_in = 0.32 if metric == "shares" else 0.0
    title_in = 0.18 * (len(title) - 1)  # a wrapped title's lines: the panels keep their height
    fig.set_figheight(fig.get_figheight() + key_in + legend_in + title_in)
    height = fig.get_figheight()
    if key_lines:
        fig.text(0.01, 0.03 / height, "\n".join(key_lines), ha="left", va="bottom", fontsize=6.5, color="#555555")
    if metric == "shares":
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False,
                   bbox_to_anchor=(0.5, key_in / height))
    fig.tight_layout(rect=(0, (key_in + legend_in) / height, 1, 1))  # it makes room for the title itself
    save_figure(fig, path, dpi=130)
    plt.close(fig)
    return drawn
