"""``kpstance compare``: runs side by side, from the MLflow store or from run folders alone.

One row per run, or per group with mean ± std (over seeds, say); the config values that
differ between the runs shown; the headline metrics; the difference from a baseline. Runs
scored on different gold sets are refused unless ``--allow-mixed-gold`` (then marked).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import NOISE_KEYS, key_applies
from ..errors import KpstanceError
from ..files import save_figure
from ..systems.registry import current_key

# the multi-source dev split (where choices are made), then its test split (the one to trust for new news), with
# beside its F1s the share of speaker-swapped copies whose stance changed (eval.swap; lower is better; "-" for a
# run that did not measure it); the last one shown sorts the rows
DEFAULT_METRICS = ("dev_actor_macro_f1", "dev_stance_macro_f1", "dev_joint_accuracy", "test_actor_macro_f1",
                   "test_stance_macro_f1", "test_swap_stance_flip", "test_joint_accuracy")


def runs_from_folders(root: str | os.PathLike) -> list[dict]:
    """Every finished run folder under ``root`` (see ``scan_run_folders``)."""
    return scan_run_folders(root)[0]


def scan_run_folders(root: str | os.PathLike) -> tuple[list[dict], int]:
    """The finished run folders under ``root``, and how many unfinished ones were left out.

    A run folder holds config.yaml; it finished when it holds run_info.json, which a run writes last (after its
    model, metrics.json and tracking). Hydra's ``.hydra`` copies, hidden temporary folders and saved models
    (kpstance.json) are not run folders. A corrupt file of a finished run is a one-line error naming it.
    """
    from .store import run_params

    base = Path(root)
    if not base.is_dir():
        raise KpstanceError("runs folder not found", base)
    runs, unfinished = [], 0
    for c in sorted(base.rglob("config.yaml")):
        folder = c.parent
        if any(part.startswith(".") for part in folder.relative_to(base).parts) or (folder / "kpstance.json").exists():
            continue
        if not ((folder / "run_info.json").is_file() and (folder / "metrics.json").is_file()):
            unfinished += 1
            continue
        config, info = read_yaml_mapping(c), read_json_object(folder / "run_info.json")
        metrics = read_json_object(folder / "metrics.json")
        runs.append({
            "name": info.get("run_name", folder.name),
            "experiment": config.get("task_name", "?"),
            "params": {k: str(v) for k, v in run_params(config).items()},
            "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float))},
            "tags": {"gold_sha256": metrics.get("gold_sha256", "?"), "run_dir": str(folder),
                     **({"labels_sha256": metrics["labels_sha256"]} if metrics.get("labels_sha256") else {})},
        })
    return runs, unfinished


def read_json_object(path: Path) -> dict:
    """A JSON object from a run folder; anything else (truncated, not JSON, not an object) is one line naming it."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise KpstanceError("not valid JSON (a corrupt or truncated file)", path) from None
    if not isinstance(obj, dict):
        raise KpstanceError("not a JSON object as train.py writes it", path)
    return obj


def read_yaml_mapping(path: Path) -> dict:
    import yaml

    try:
        obj = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError):
        raise KpstanceError("not valid YAML (a corrupt or truncated file)", path) from None
    if not isinstance(obj, dict):
        raise KpstanceError("not a config as train.py writes it", path)
    return obj


def runs_from_store(db_path: str | os.PathLike, experiment: str | None = None) -> list[dict]:
    from .store import read_store

    return read_store(db_path, experiment)


def applies(run: dict, key: str) -> bool:
    """Whether ``key`` is a parameter of ``run``'s system (see ``config.key_applies``)."""
    return key in run["params"] and key_applies(key, run["params"].get("system.name"))


def values(runs: Sequence[dict], key: str) -> set:
    """The values of ``key`` over the runs it applies to."""
    return {r["params"][key] for r in runs if applies(r, key)}


def _spread(row: dict, k: str) -> float:
    """A group's std of ``k`` for an error bar: 0 where one run alone has the figure."""
    sd = row["std"].get(k, 0.0)
    return 0.0 if math.isnan(sd) else sd


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan")
    # exact arithmetic (statistics works in fractions): identical runs have a spread of 0, not 4e-18
    # one value has no spread to show (nan, printed without ±), not a spread of zero
    return statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else float("nan")


def build_rows(runs: list[dict], metrics: Sequence[str] = DEFAULT_METRICS, group_by: str | None = None,
               baseline: str | None = None, sort: str | None = None, allow_mixed_gold: bool = False) -> dict:
    """The comparison as data: one row per run or group; as columns, the config keys whose values differ
    between the rows shown, counting a key only on the rows of systems it applies to (blank on the others)."""
    if not runs:
        raise KpstanceError("no runs to compare")
    golds = {r["tags"].get("gold_sha256", "?") for r in runs}
    if len(golds) > 1 and not allow_mixed_gold:
        raise KpstanceError(
            f"runs were evaluated on {len(golds)} different gold sets ({', '.join(sorted(g[:8] for g in golds))}); "
            "their scores are not comparable. Filter with --experiment, or pass --allow-mixed-gold to show them marked"
        )
    # the label YAML is data, not a config key: runs whose label files differ (their rules read other cues) show it
    # as a column, its hash's first 8 characters
    if len({r["tags"].get("labels_sha256") for r in runs}) > 1:
        runs = [{**r, "params": {**r["params"], "labels_sha256": str(r["tags"].get("labels_sha256") or "?")[:8]}}
                for r in runs]
    keys = sorted({k for r in runs for k in r["params"]} - NOISE_KEYS)
    # a value counts only on the rows of systems it applies to: a rules row has no encoder or learning rate
    differing = [k for k in keys if len(values(runs, k)) > 1]
    rows: list[dict] = []
    group_by = current_key(group_by) if group_by else group_by  # keys of earlier versions -> today's
    if group_by:
        by_experiment = group_by == "experiment"  # one group per experiment: its seeds and repeats together
        if not by_experiment and not any(group_by in r["params"] for r in runs):
            raise KpstanceError(f"--group-by: no run has the config key '{group_by}' (e.g. experiment, system.name, "
                                "trainer.lr)")
        groups: dict[tuple, list[dict]] = {}
        for r in runs:
            value = r["experiment"] if by_experiment else r["params"][group_by] if applies(r, group_by) else ""
            groups.setdefault((r["experiment"], value), []).append(r)
        mixed: set[str] = set()  # keys that vary within a group: the group pools runs of several values
        for (exp, value), members in groups.items():
            config: dict[str, Any] = {}
            for k in differing:
                vals = values(members, k)
                if len(vals) == 1:
                    config[k] = vals.pop()
                elif vals:  # shown as the list of values, so a mean over unlike runs is never mistaken for one config
                    config[k] = sorted(vals, key=_natural)
                    mixed.add(k)
            row = {"name": exp if by_experiment else f"{exp} [{group_by}={value}]", "experiment": exp, "n": len(members), "config": config,
                   "metrics": {}, "std": {}, "runs": [m["name"] for m in members],
                   "gold": sorted({m["tags"].get("gold_sha256", "?")[:8] for m in members})}
            for k in metrics:
                row["metrics"][k], row["std"][k] = _mean_std([m["metrics"].get(k) for m in members])
            rows.append(row)
        differing = [k for k in differing if k != group_by
                     and (k in mixed or len({r["config"][k] for r in rows if k in r["config"]}) > 1)]
        for r in rows:
            r["config"] = {k: r["config"][k] for k in differing if k in r["config"]}
    else:
        for r in runs:
            rows.append({"name": r["name"], "experiment": r["experiment"], "n": 1,
                         "config": {k: r["params"][k] for k in differing if applies(r, k)},
                         "metrics": {k: r["metrics"].get(k, float("nan")) for k in metrics}, "std": {},
                         "runs": [r["name"]], "gold": [r["tags"].get("gold_sha256", "?")[:8]]})
    if baseline:
        base = next((r for r in rows if r["name"] == baseline), None)
        if base is None:
            matches = [r for r in rows if r["experiment"] == baseline or baseline in r["runs"]]
            if len(matches) > 1:  # never one of them picked unsaid: its figures would pass for the experiment's
                hint = ("name one row" if group_by else "name one run, or add --group-by experiment to compare with "
                        "their mean")
                raise KpstanceError(f"--baseline '{baseline}' matches {len(matches)} rows (e.g. {matches[0]['name']}); "
                                    + hint)
            if matches and matches[0]["n"] > 1 and baseline in matches[0]["runs"]:  # a run inside a group's mean
                raise KpstanceError(f"--baseline '{baseline}' is one of the {matches[0]['n']} runs of the group "
                                    f"'{matches[0]['name']}': name the group to compare with their mean")
            base = matches[0] if matches else None
        if base is None:
            raise KpstanceError(f"--baseline '{baseline}' matches no run, group or experiment shown")
        for r in rows:
            r["delta"] = {k: r["metrics"][k] - base["metrics"][k] for k in metrics}
    key = sort or metrics[-1]
    if key not in metrics:
        raise KpstanceError(f"--sort {key}: not one of the metrics shown ({', '.join(metrics)})")
    sign = 1 if lower_is_better(key) else -1  # the best run first: the lowest flip or calibration error, else highest
    rows.sort(key=lambda r: (math.isnan(r["metrics"][key]), sign * (0.0 if math.isnan(r["metrics"][key])
                                                                     else r["metrics"][key]), r["name"]))
    return {"metrics": list(metrics), "config_keys": differing, "rows": rows, "baseline": baseline,
            "group_by": group_by, "mixed_gold": len(golds) > 1}


def _natural(v: Any) -> tuple:
    """Numbers in numeric order (seeds 1, 2, 10), then text; ties by the text, so the order never varies."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = math.nan
    return (0, x, str(v)) if math.isfinite(x) else (1, 0.0, str(v))


def _config_cell(v: Any) -> str:
    """A config value; a group whose runs differ in it shows them all, in braces."""
    return "{" + ", ".join(map(str, v)) + "}" if isinstance(v, list) else str(v)


def _cell(row: dict, k: str) -> str:
    v = row["metrics"][k]
    if math.isnan(v):
        return "-"
    sd = row["std"].get(k, float("nan"))
    return f"{v:.3f} ± {sd:.3f}" if row["n"] > 1 and not math.isnan(sd) else f"{v:.3f}"


def _table_cells(data: dict) -> tuple[list[str], list[list[str]]]:
    header = ["run" if not data["group_by"] else "group", "experiment"] + (["n"] if data["group_by"] else [])
    header += data["config_keys"] + data["metrics"]
    if data["baseline"]:
        header += [f"Δ {k}" for k in data["metrics"]]
    if data["mixed_gold"]:
        header.append("gold set")
    body = []
    for r in data["rows"]:
        cells = [r["name"], r["experiment"]] + ([str(r["n"])] if data["group_by"] else [])
        cells += [_config_cell(r["config"].get(k, "")) for k in data["config_keys"]]
        cells += [_cell(r, k) for k in data["metrics"]]
        if data["baseline"]:
            cells += [f"{r['delta'][k]:+.3f}" for k in data["metrics"]]
        if data["mixed_gold"]:
            cells.append("*" + ",".join(r["gold"]))
        body.append(cells)
    return header, body


def _csv_cells(data: dict) -> list[list[str]]:
    """The table for analysis: every figure at full precision in a column of its own (a group's standard deviation
    in ``<metric>_std``, a baseline's difference in ``delta_<metric>``), a figure a run lacks as an empty cell."""
    def num(v: float) -> str:
        return "" if v is None or math.isnan(v) else repr(float(v))

    grouped, metrics = bool(data["group_by"]), data["metrics"]
    header = ["run" if not grouped else "group", "experiment"] + (["n"] if grouped else []) + data["config_keys"]
    header += [c for k in metrics for c in ((k, f"{k}_std") if grouped else (k,))]
    header += [f"delta_{k}" for k in metrics] if data["baseline"] else []
    header += ["gold_set"] if data["mixed_gold"] else []
    rows = [header]
    for r in data["rows"]:
        cells = [r["name"], r["experiment"]] + ([str(r["n"])] if grouped else [])
        cells += [_config_cell(r["config"].get(k, "")) for k in data["config_keys"]]
        for k in metrics:
            cells += [num(r["metrics"][k])] + ([num(r["std"][k]) if r["n"] > 1 else ""] if grouped else [])
        cells += [num(r["delta"][k]) for k in metrics] if data["baseline"] else []
        cells += [",".join(r["gold"])] if data["mixed_gold"] else []
        rows.append(cells)
    return rows


def render(data: dict, fmt: str) -> str:
    if fmt == "json":
        out = []
        for r in data["rows"]:
            # one type per field: a key with one value in this row under "config", a key whose runs in a group differ
            # under "config_values" as the list of its values
            obj = {"name": r["name"], "experiment": r["experiment"],
                   "config": {k: v for k, v in r["config"].items() if not isinstance(v, list)},
                   "metrics": r["metrics"], "n": r["n"], "runs": r["runs"]}
            varies = {k: v for k, v in r["config"].items() if isinstance(v, list)}
            if varies:
                obj["config_values"] = varies
            if r["n"] > 1:
                obj["metrics_std"] = r["std"]
            if "delta" in r:
                obj["delta"] = r["delta"]
            out.append(obj)
        return json.dumps(out, indent=2, allow_nan=True) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")  # as every other file the project writes, not CRLF
        w.writerows(_csv_cells(data))
        return buf.getvalue()
    header, body = _table_cells(data)
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        return "\n".join(lines) + "\n"
    if fmt == "table":
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        mixed = any(isinstance(v, list) for r in data["rows"] for v in r["config"].values())
        table = Table(title="kpstance runs" + (" (* mixed gold sets)" if data["mixed_gold"] else "")
                      + (" ({…}: the values a group's runs differ in)" if mixed else ""))
        for h in header:
            table.add_column(h, justify="right" if h in data["metrics"] or h.startswith("Δ") else "left", no_wrap=True)
        for row in body:
            table.add_row(*[Text(c) for c in row])  # plain text: '[key=value]' is not rich markup
        console = Console(file=io.StringIO(), width=1000, force_terminal=False)  # never squeeze columns
        console.print(table)
        return console.file.getvalue()
    raise KpstanceError(f"unknown --format '{fmt}' (table, markdown, csv, json)")


def lower_is_better(metric: str) -> bool:
    """Rates of error (the swap flip, calibration error, a share's error): a good run has them near 0."""
    return any(part in metric for part in ("_flip", "_ece", "_mae", "_skipped"))


# figures that are no score even where they lie in [0, 1]: counts, temperatures, thresholds
NOT_SCORES = ("_n", "_pairs", "_temperature", "_min_score", "_skipped", "_units", "_recovered")


def _in_unit(data: dict, k: str) -> bool:
    """Every row's figure of ``k`` lies in [0, 1] (or is missing)."""
    return all(math.isnan(r["metrics"][k]) or 0 <= r["metrics"][k] <= 1 for r in data["rows"])


def _scores_in_unit(data: dict, metrics: Sequence[str]) -> bool:
    """Scores where higher is better and every row's figure lies in [0, 1]."""
    return all(not lower_is_better(k) and not k.endswith(NOT_SCORES) and _in_unit(data, k) for k in metrics)


def plot_panels(data: dict) -> list[list[str]]:
    """The chart's panels: scores (higher is better, every figure in [0, 1]) on a shared 0-1 axis first, then rates
    where lower is better (every figure in [0, 1]) on an axis of their own, then each other figure alone (a count,
    a temperature, a threshold, or a figure outside [0, 1]): a flip of 0.02 beside a count of 193 would read as no
    bar."""
    scores = [k for k in data["metrics"] if _scores_in_unit(data, [k])]
    rates = [k for k in data["metrics"] if k not in scores and lower_is_better(k) and _in_unit(data, k)]
    others = [[k] for k in data["metrics"] if k not in scores and k not in rates]
    return [p for p in (scores, rates) if p] + others


def plot(data: dict, path: str | os.PathLike) -> None:
    """Grouped bars: one group per metric, one bar per row, error bars for std over a group. Scores share a 0-1
    axis; rates where lower is better (the flip is about 0.02 beside F1s of 0.8) and figures outside [0, 1] get a
    panel with an axis of their own, or they would read as no bar at all."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["rows"]
    panels = plot_panels(data)
    scores = panels[0] if _scores_in_unit(data, panels[0]) else None
    width = 0.8 / max(1, len(rows))
    fig, axes = plt.subplots(1, len(panels), squeeze=False, width_ratios=[len(p) for p in panels],
                             figsize=(max(6, 1.6 * len(data["metrics"]) + 0.25 * len(rows)), 4.5))
    # beyond 10 rows the default cycle repeats its colours (two runs would look like one): 20, then a continuous map
    cmap = plt.get_cmap("tab10" if len(rows) <= 10 else "tab20" if len(rows) <= 20 else "turbo")
    for ax, panel in zip(axes[0], panels):
        for i, r in enumerate(rows):
            xs = [j + i * width for j in range(len(panel))]
            color = cmap(i) if len(rows) <= 20 else cmap(i / max(1, len(rows) - 1))
            ax.bar(xs, [r["metrics"][k] for k in panel], width,
                   yerr=[_spread(r, k) for k in panel] if r["n"] > 1 else None, label=r["name"], capsize=2, color=color)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(panel))], panel, rotation=15, ha="right")
        if panel is scores:
            ax.set_ylim(0, 1)
            ax.set_ylabel("score on gold (higher is better)")
        else:
            ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
            ax.set_ylabel("own scale" + (" (lower is better)" if all(map(lower_is_better, panel)) else ""))
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def check_metrics(runs: list[dict], metrics: Sequence[str]) -> None:
    """Refuse a metric that no run has: a typo would show as a column of "-", which reads as missing data. (The
    default columns may be missing from some runs, e.g. the swap keys of a run without the swap test.)"""
    known = {k for r in runs for k in r["metrics"]}
    unknown = [k for k in metrics if k not in known]
    if unknown and runs:
        import difflib

        close = sorted({c for k in unknown for c in difflib.get_close_matches(k, known, n=3, cutoff=0.6)})
        raise KpstanceError(f"--metrics: no run has {', '.join(unknown)}"
                            + (f" (close: {', '.join(close)})" if close else ""))


def compare(args: Any) -> str:
    """Entry point for the CLI: returns the rendered comparison (and writes the plot if asked)."""
    if args.runs_dir:
        runs, unfinished = scan_run_folders(args.runs_dir)
        if unfinished:
            print(f"kpstance: warning: {unfinished} unfinished run folder(s) under {args.runs_dir} skipped "
                  "(no run_info.json)", file=sys.stderr)
        if not runs:
            raise KpstanceError("no finished run folder under it (a run folder holds config.yaml, metrics.json and "
                                "run_info.json; train.py writes them under outputs/)", args.runs_dir)
    else:
        runs = runs_from_store(args.store, None)
    if args.experiment:
        wanted = set(args.experiment.split(","))
        runs = [r for r in runs if r["experiment"] in wanted]
        if not runs:
            raise KpstanceError(f"no runs of experiment(s) {', '.join(sorted(wanted))}")
    metrics = tuple(args.metrics.split(",")) if args.metrics else DEFAULT_METRICS
    if args.metrics:
        check_metrics(runs, metrics)
    data = build_rows(runs, metrics, args.group_by, args.baseline, args.sort, args.allow_mixed_gold)
    if args.plot:
        plot(data, args.plot)
    return render(data, args.format)
