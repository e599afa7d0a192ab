"""The ``kpstance`` command: rule labels, predictions, actor × stance summaries and run comparisons.

Every user error ends in one line on stderr (``kpstance: error: FILE:LINE: …``) and exit
code 2; output files are written to a temporary name and renamed only when complete.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

from .errors import KpstanceError, Terminated, sigterm_raises
from .files import check_outputs, remove_temporaries
from .weak.scheme import LABELS_REL, default_labels


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """stdout, or a file written under a temporary name and renamed into place on success."""
    if path is None:
        yield sys.stdout
        return
    from .files import atomic_open

    with atomic_open(path) as f:
        yield f


def cmd_label(args: argparse.Namespace) -> None:
    from .text.read import expand_inputs, file_units, records, txt_roots
    from .weak.label import label_units
    from .weak.scheme import load_scheme

    check_outputs([args.output], [*args.input, args.labels])
    files = expand_inputs(args.input)
    for path in files:
        if Path(path).suffix.lower() in (".csv", ".parquet"):
            raise KpstanceError("kpstance label reads .txt articles and .jsonl units; for a .csv or .parquet corpus "
                                "run `kpstance predict MODEL --explain`, whose rules_actor, rules_stance and "
                                "rules_fired columns are these labels", path)
    scheme = load_scheme(args.labels or default_labels())
    roots = txt_roots(args.input)
    with _output(args.output) as out:
        for path in files:
            recs = list(records(path, roots=roots))
            if not recs:
                print(f"kpstance: warning: {path}: no units (the file holds no lines); nothing labelled from it",
                      file=sys.stderr)
            units = file_units(path, recs)
            for (rec, _), u, s in zip(recs, units, label_units(units, scheme)):
                row = {"id": u.id, **rec, "actor": s.actor, "stance": s.stance, "rules_fired": s.rules_fired}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")


def cmd_predict(args: argparse.Namespace) -> None:
    """Stream a corpus through the model into a table: a chunk of whole articles at a time, constant memory."""
    from .scale.local import Options, predict_table
    from .systems.precision import default_precision
    from .systems.predictor import StancePredictor
    from .text.corpus import Columns, estimate_units

    check_outputs([args.output], [*args.input, args.model_dir, args.labels])
    if args.min_score is not None and not 0.0 <= args.min_score <= 1.0:
        raise KpstanceError(f"--min-score must be a probability between 0 and 1, got {args.min_score}")
    if args.chunk_size < 1:
        raise KpstanceError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if args.speaker_average is not None and args.speaker_average < 0:
        raise KpstanceError(f"--speaker-average must be 0 or more, got {args.speaker_average}")
    if args.resume and not args.output:
        raise KpstanceError("--resume needs --output: the shards and their manifest are kept beside that file")
    if args.resume and "-" in args.input:
        raise KpstanceError("--resume cannot read stdin: a resumed run must read the same input again")
    if args.output:
        from .scale.table import output_format

        output_format(args.output)
    opts = Options(Columns.parse(args.columns), args.rows, args.min_score, args.probs, args.labels, args.explain)
    if args.engine == "ray":
        from .scale.ray_engine import predict_ray

        predict_ray(args, opts)
        return
    expected = None
    if args.labels:
        from .weak.scheme import load_scheme

        scheme = load_scheme(args.labels)
        expected = {"actor": scheme.actor_labels, "stance": scheme.stance_labels}
    requested = args.precision or default_precision()
    n_units = estimate_units(args.input) if requested == "auto" else None
    predictor = StancePredictor.load(args.model_dir, device=args.device, precision=requested,
                                     expected_labels=expected, n_units=n_units, speaker_average=args.speaker_average)
    show = not args.quiet and sys.stderr.isatty()  # a terminal: say which model, and show progress
    if show and predictor.meta.get("run_name"):
        m = predictor.meta
        print(f"kpstance: model {m['run_name']} (experiment {m.get('experiment', '?')}, {m.get('base_model', '?')})",
              file=sys.stderr)
    if not args.quiet and (show or requested == "auto"):
        print(f"kpstance: precision {predictor.precision} ({predictor.choice.reason})", file=sys.stderr)

    def truncated(row: tuple) -> None:
        path, rec, where = row
        loc = f"{path}:{where}" if isinstance(where, int) else f"{path}: unit {rec['id']}"
        print(f"kpstance: warning: {loc}: sentence longer than {predictor.max_length} tokens, truncated",
              file=sys.stderr)

    def resumed(items: int, units: int) -> None:
        print(f"kpstance: resuming: {items} items ({units} units) were written before", file=sys.stderr, flush=True)

    with _output(None) as out, _progress(show, args.input, args.rows) as progress:
        stats = predict_table(predictor, args.input, args.output, out, opts, predictor.scheme(args.labels),
                              args.batch_size, args.workers, args.chunk_size, resume=args.resume,
                              model_dir=args.model_dir, on_progress=progress, on_truncated=truncated,
                              on_resume=None if args.quiet else resumed)
    if stats.get("repeated_ids"):
        aid, where = stats["first_repeat"]
        print(f"kpstance: warning: {stats['repeated_ids']} article(s) reuse an earlier article's id (first: "
              f"{aid!r} at {where}); their unit ids repeat in the table", file=sys.stderr)
    if stats.get("repeated_unit_ids"):
        uid, where = stats["first_unit_repeat"]
        print(f"kpstance: warning: {stats['repeated_unit_ids']} unit(s) reuse an earlier unit's id (first: {uid!r} at "
              f"{where}); the table holds each, so ids repeat in it", file=sys.stderr)
    for path in stats.get("empty_files", []):
        print(f"kpstance: warning: {path}: no units (the file holds no rows); nothing predicted from it",
              file=sys.stderr)
    if 0 < stats.get("undated_units", 0) < stats["news_units"]:  # some dated, some not: a time series loses these
        print(f"kpstance: warning: {stats['undated_units']} of {stats['news_units']} news units have no date (no date "
              f"field, and no dateline that gives the year; first: {stats['first_undated']!r}); a summary by period "
              "leaves them out", file=sys.stderr)
    if stats.get("replaced_fields"):
        print(f"kpstance: warning: input field(s) {', '.join(sorted(stats['replaced_fields']))} are named like output "
              "columns and are not kept (rename them to keep them)", file=sys.stderr)
    if stats.get("dropped_fields"):
        print(f"kpstance: warning: input field(s) {', '.join(sorted(stats['dropped_fields']))} are not columns of a "
              f"{Path(args.output).suffix} table and were left out (a .jsonl output keeps them)", file=sys.stderr)
    if stats.get("stale_parts"):
        print(f"kpstance: removed {stats['stale_parts']}, the shards of an earlier --resume run this run replaced",
              file=sys.stderr)
    if stats.get("resumed_items") and not args.quiet:
        print(f"kpstance: {stats['items']} more items ({stats['units']} units) predicted; {args.output} is complete",
              file=sys.stderr)


@contextlib.contextmanager
def _progress(show: bool, inputs: list[str] | None = None, rows: str = "units") -> Iterator[Any]:
    """On a terminal, a progress bar on stderr: items done of all, sentences, sentences/s and the time left;
    yields the callback ``(items, units)`` that advances it (None when not shown)."""
    if not show:
        yield None
        return
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .text.corpus import count_items

    total = count_items(inputs, rows) if inputs else None
    start, units = time.perf_counter(), [0]
    with Progress(SpinnerColumn(), BarColumn(), TextColumn("{task.completed}/{task.total} items"),
                  TextColumn("{task.fields[units]:,} sentences, {task.fields[rate]:.0f}/s"), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("predict", total=total or None, units=0, rate=0.0)

        def advance(items: int, n: int) -> None:
            units[0] += n
            bar.update(task, advance=items, units=units[0], rate=units[0] / max(time.perf_counter() - start, 1e-9))

        yield advance


class _Parser(argparse.ArgumentParser):
    """argparse whose refusals read like every other user error: one line ``kpstance: error: …``, exit 2 (argparse
    prints a usage block); its message names the option and, for a choice, the valid values."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"kpstance: error: {message} (see {self.prog} --help)\n")


def project_root() -> Path:
    """$KPSTANCE_ROOT, else the nearest folder at or above the current one that holds configs/train.yaml,
    else the current folder: where ``train.py`` keeps ``mlflow.db``."""
    if os.environ.get("KPSTANCE_ROOT"):
        return Path(os.environ["KPSTANCE_ROOT"])
    here = Path.cwd()
    return next((d for d in (here, *here.parents) if (d / "configs" / "train.yaml").is_file()), here)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="kpstance", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kpstance {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("label", help="label sentences with the rules (silver labels) and show which rules fired")
    lab.add_argument("--input", required=True, nargs="+", help=".txt articles, .jsonl files ('text' per line), folders, or - for stdin")
    lab.add_argument("--output", help="JSON Lines output (default: stdout)")
    lab.add_argument("--labels", default=None, help=f"label YAML (default: {LABELS_REL})")
    lab.set_defaults(func=cmd_label)

    pred = sub.add_parser("predict", help="predict actor and stance with a saved model")
    pred.add_argument("model_dir", help="a folder saved by train.py, e.g. models/latest")
    pred.add_argument("--input", required=True, nargs="+",
                      help=".txt articles (segmented), .jsonl files (a unit per line, or an article with "
                           "--rows articles), .csv and .parquet files (an article per row: columns id, text and "
                           "optional date, outlet, title, url), folders of these (recursive), or - for stdin")
    pred.add_argument("--output", help="the table, its format by extension: .jsonl, .csv or .parquet "
                                       "(default: JSON Lines on stdout)")
    pred.add_argument("--columns", metavar="FIELD=COLUMN,…",
                      help="input column names where they differ from id, text, date, outlet, title, url, "
                           "e.g. text=body,id=doc_id")
    pred.add_argument("--rows", default="units", choices=["units", "articles"],
                      help="a .jsonl line is one unit (default) or one article to segment")
    pred.add_argument("--resume", action="store_true",
                      help="write the output in shards with a manifest (<output>.parts/) and, when a killed run "
                           "left them, go on where it stopped; every unit ends up in the output exactly once")
    pred.add_argument("--engine", default="local", choices=["local", "ray"],
                      help="local: this process; ray: Ray Data over a Ray cluster (pip install 'kpstance[ray]')")
    pred.add_argument("--address", help="--engine ray: the cluster's address (default: $RAY_ADDRESS, else a "
                                        "local Ray started for the run)")
    pred.add_argument("--actors", type=int, default=None,
                      help="--engine ray: model replicas (default: one per --actor-cpus CPUs of the cluster)")
    pred.add_argument("--actor-cpus", type=int, default=1, help="--engine ray: CPUs each replica runs on")
    pred.add_argument("--batch-size", type=int, default=64)
    pred.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    pred.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "int8"],
                      help="auto (default, or $KPSTANCE_PRECISION): bf16 where AMX computes it (amx_bf16); else int8 on "
                           "a CPU with VNNI for a job large enough to repay its one-time compile (10,000 sentences "
                           "for the default model; 50,000 where the CPU has native bf16; fewer for a larger model), "
                           "else bf16 where the CPU or GPU computes it natively, else fp32")
    pred.add_argument("--speaker-average", type=int, default=None, metavar="N",
                      help="read each stance also from N copies with the unit's actor swapped for others and average "
                           "(default: the model's own, 2 for the default model; 0: one pass, 2.3 times as fast on "
                           "sentences that name their actor)")
    pred.add_argument("--workers", type=int, default=None,
                      help="CPU: batches run at once, each single-threaded (default: one per torch thread)")
    pred.add_argument("--probs", action="store_true", help="also write the full probability distributions")
    pred.add_argument("--explain", action="store_true",
                      help="also write why: the context the model read (kind and speaker), the rules' actor and "
                           "stance and the rules that fired, as `kpstance label` gives them")
    pred.add_argument("--min-score", type=float, default=None, metavar="P",
                      help='add "uncertain": true to units whose actor or stance probability is below P (else false); '
                           "the probabilities are calibrated on the dev split when the model was trained")
    pred.add_argument("--quiet", action="store_true", help="no progress display")
    pred.add_argument("--chunk-size", type=int, default=4096, help="sentences read, predicted and written at a time")
    pred.add_argument("--labels", help="refuse the model unless its labels match this label YAML")
    pred.set_defaults(func=cmd_predict)
    summ = sub.add_parser("summarize", help="each actor's stance shares per period (counted, or corrected for the "
                          "model's errors), with 95 %% intervals (bootstrap over articles, and the classifier's errors where the "
                          "table has the probabilities), a net index and a trend chart")
    summ.add_argument("model_dir", help="the saved model that predicted the table (or predicts the articles)")
    summ.add_argument("--input", required=True, nargs="+",
                      help="predictions tables written by kpstance predict (.jsonl, .csv, .parquet: with date and "
                           "article_id, and --probs for pcc), or articles, files and folders as kpstance predict "
                           "reads them (predicted first), or - for stdin")
    summ.add_argument("--by", default="all", choices=["all", "day", "week", "month", "quarter", "half", "year"],
                      help="the period (default: all, the whole input); periods with no units are empty rows")
    summ.add_argument("--actors", help="comma-separated actors (default: every actor but none)")
    summ.add_argument("--outlets", help="comma-separated outlets (the table's outlet column)")
    summ.add_argument("--start", help="count units dated on or after this day (YYYY-MM-DD); the periods start with "
                      "the one holding it, so tables of different outlets or actors share their rows")
    summ.add_argument("--end", help="count units dated on or before this day (YYYY-MM-DD); the periods end with the "
                      "one holding it")
    summ.add_argument("--estimator", default=None,
                      help="cc (classify and count), pcc (probabilistic, from the calibrated scores), acc (adjusted by "
                           "the dev confusion matrix), comma-separated, or all (default: cc, the lowest error on "
                           "dated gold; docs/results.md)")
    summ.add_argument("--dev-gold", help="gold JSON Lines (text, actor, stance; its dev split where it has splits) "
                      "on which acc measures the model's errors (default: the multi-source corpus)")
    summ.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates (default: 1000)")
    summ.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    summ.add_argument("--plot", help="trend chart (.png, .pdf or .svg): one panel per actor (of the first estimator "
                      "given)")
    summ.add_argument("--plot-metric", default=None, choices=["shares", "net"],
                      help="the chart shows each stance's share (default) or the net index")
    summ.add_argument("--events", help="YAML of events (date and name) marked on the chart, e.g. "
                      "configs/events/korean_peninsula.yaml")
    summ.add_argument("--output", help="write the table to this file (.csv, .json, .parquet) instead of printing it")
    summ.add_argument("--format", default="table", choices=["table", "csv", "json"],
                      help="what is printed when there is no --output")
    summ.add_argument("--batch-size", type=int, default=64)
    summ.add_argument("--labels", default=None, help="label YAML: its stances, their roles (the net index) and, for "
                      f"articles and dev gold, the rules that give each unit its context (default: the model's own, "
                      f"else {LABELS_REL})")
    summ.set_defaults(func=cmd_summarize)

    cmp = sub.add_parser("compare", help="compare runs side by side (MLflow store, or run folders with --runs-dir)")
    cmp.add_argument("--experiment", help="only runs of this experiment (task_name); comma-separated for several")
    cmp.add_argument("--group-by", help="config key to group runs by, e.g. system.name; rows show mean ± std")
    cmp.add_argument("--baseline", help="run, group or experiment to subtract from every row")
    cmp.add_argument("--sort", help="metric to sort by, best run first: highest, or lowest for an error rate or a "
                                    "count of misses (flip, ECE, MAE, skipped) (default: the last metric shown)")
    cmp.add_argument("--metrics", help="comma-separated metrics (default: the multi-source dev split's dev_actor_macro_f1,"
                     "dev_stance_macro_f1,dev_joint_accuracy and its test split's test_actor_macro_f1,"
                     "test_stance_macro_f1,test_swap_stance_flip,test_joint_accuracy; the last sorts the rows)")
    cmp.add_argument("--format", default="table", choices=["table", "markdown", "csv", "json"])
    cmp.add_argument("--plot", help="also write a bar chart PNG")
    cmp.add_argument("--runs-dir", help="read run folders under this folder instead of the MLflow store")
    cmp.add_argument("--store", default=None, help="MLflow sqlite file (default: mlflow.db at the project root: "
                     "$KPSTANCE_ROOT, else the nearest folder at or above the current one holding configs/train.yaml, "
                     "else the current folder)")
    cmp.add_argument("--allow-mixed-gold", action="store_true", help="show runs scored on different gold sets (marked *)")
    cmp.set_defaults(func=cmd_compare)

    rep = sub.add_parser("report", help="error analysis of a run on the multi-source corpus, as Markdown: per actor, "
                         "per stance, per phenomenon, confusion matrices, the most confident errors")
    rep.add_argument("run_dir", help="a run folder written by train.py (outputs/<experiment>/runs/<time>)")
    rep.add_argument("--split", default="test", choices=["dev", "test"])
    rep.add_argument("--worst", type=int, default=20, help="how many of the model's most confident errors to list")
    rep.add_argument("--output", help="Markdown file (default: stdout)")
    rep.set_defaults(func=cmd_report)

    probe = sub.add_parser("probe", help="test a saved model the way a sceptical reviewer would")
    probe_sub = probe.add_subparsers(dest="probe_command", required=True)
    psw = probe_sub.add_parser("swap", help="counterfactual speaker swap: does the stance change when only the names "
                               "of the actor change? Prints the flip rate and the worst examples")
    psw.add_argument("model_dir", help="a folder saved by train.py, e.g. models/latest")
    psw.add_argument("--input", required=True, help=".jsonl (text and actor per line; optional kind, speaker, id), or "
                     "a .txt article whose main actor is swapped throughout")
    psw.add_argument("--actor", help="for a .txt article: the actor to swap (default: the one the model gives most "
                     "units)")
    psw.add_argument("--targets", type=int, default=2, help="swapped copies per unit, each for another actor")
    psw.add_argument("--worst", type=int, default=10, help="how many examples to print")
    psw.add_argument("--seed", type=int, default=0, help="seed of the choice of actors and names")
    psw.add_argument("--labels", help="label YAML whose names table is used (default: the model's own)")
    psw.add_argument("--batch-size", type=int, default=64)
    psw.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    psw.set_defaults(func=cmd_probe_swap)
    pdi = probe_sub.add_parser("direction", help="minimal pairs: does the stance follow the direction of a step "
                               "(suspend / resume the drills) or only its topic? Prints the pair accuracy and the "
                               "worst pairs")
    pdi.add_argument("model_dir", help="a folder saved by train.py, e.g. models/latest")
    pdi.add_argument("--input", required=True, help=".jsonl: pair_id, text and the expected stance per line "
                     "(optional kind, speaker, id, split); data/contrast/pairs.jsonl is such a file")
    pdi.add_argument("--split", help="only the lines of this split (the contrast set's train, dev or test)")
    pdi.add_argument("--worst", type=int, default=10, help="how many missed pairs to print")
    pdi.add_argument("--batch-size", type=int, default=64)
    pdi.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    pdi.set_defaults(func=cmd_probe_direction)

    ann = sub.add_parser("annotate", help="hand the units most worth labelling to Label Studio, and read its export "
                         "back as gold")
    ann_sub = ann.add_subparsers(dest="annotate_command", required=True)
    exp = ann_sub.add_parser("export", help="write Label Studio tasks (with pre-annotations) and the labeling config")
    exp.add_argument("model_dir", help="a folder saved by train.py, e.g. models/latest")
    exp.add_argument("--input", required=True, nargs="+", help=".txt articles (segmented), .jsonl files, folders")
    exp.add_argument("--n", type=int, required=True, help="how many units to write as tasks")
    exp.add_argument("--output", required=True,
                     help="tasks JSON; the labeling config is written beside it as <stem>.xml")
    exp.add_argument("--strategy", default="uncertainty", choices=["uncertainty", "random", "disagreement"],
                     help="uncertainty: lowest calibrated margin first; disagreement: rules and model differ first "
                          "(ties by margin); random: seeded. No article gives more than max(1, ceil(N / articles)) "
                          "units unless the others run out")
    exp.add_argument("--seed", type=int, default=0, help="seed of the random strategy")
    exp.add_argument("--labels", help="label YAML (default: the model's own scheme, else " + LABELS_REL + ")")
    exp.add_argument("--batch-size", type=int, default=64)
    exp.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    exp.set_defaults(func=cmd_annotate_export)
    imp = ann_sub.add_parser("import", help="write gold JSON Lines from a Label Studio JSON export")
    imp.add_argument("export", help="the project's JSON export (a list of tasks with annotations)")
    imp.add_argument("--output", required=True, help="gold JSON Lines, e.g. data/gold/<name>.jsonl; disagreements "
                     "between annotators go to <stem>.disagreements.jsonl beside it")
    imp.add_argument("--labels", default=None, help=f"label YAML the labels must belong to (default: {LABELS_REL})")
    imp.set_defaults(func=cmd_annotate_import)
    return parser


class _UnitReader:
    """A saved model as a system that predicts units: each read with its kind and speaker, as in training."""

    def __init__(self, predictor: Any, scheme: Any, batch_size: int) -> None:
        self.predictor, self.scheme, self.batch_size = predictor, scheme, batch_size

    def predict(self, units: list[Any]) -> list[dict]:
        from .systems.context import contexts

        ctx = contexts(units, self.scheme) if self.predictor.meta.get("context") else None
        return self.predictor.predict([u.text for u in units], self.batch_size, contexts=ctx)


def _probe_unit(rec: dict, path: Path, line: int) -> Any:
    """One line of a probe's JSON Lines as a unit read alone: its text, kind and named speaker."""
    from .text.segment import Unit

    u = Unit.of_text(rec["text"], str(rec.get("id", f"{path.stem}-{line}")), kind=rec.get("kind") or "sentence")
    if rec.get("speaker"):
        u.extra["speaker"] = rec["speaker"]
    return u


def _probe_units(path: Path, scheme: Any) -> tuple[list[Any], list[str]]:
    """A probe's JSON Lines: each line a unit read alone (``text``, ``actor``; optional ``kind``, ``speaker``, ``id``)."""
    from .text.read import iter_jsonl

    units, actors = [], []
    for line, rec in iter_jsonl(path):
        actor = rec.get("actor")
        if actor is None:
            raise KpstanceError('missing field "actor" (the actor whose names are swapped)', path, line)
        if actor not in scheme.actor_labels:
            raise KpstanceError(f"unknown actor {actor!r} (allowed: {', '.join(scheme.actor_labels)})", path, line)
        units.append(_probe_unit(rec, path, line))
        actors.append(actor)
    if not units:
        raise KpstanceError("no units in the file", path)
    return units, actors


def cmd_probe_swap(args: argparse.Namespace) -> None:
    """The counterfactual speaker swap on the user's own units: flip rate, actor-follow rate, the worst examples."""
    from .eval.swap import probe_article, probe_units
    from .systems.predictor import StancePredictor, model_scheme
    from .text.read import read_article
    from .weak.scheme import load_scheme
    from .weak.swap import Swapper

    if args.targets < 1:
        raise KpstanceError(f"--targets must be at least 1, got {args.targets}")
    if args.worst < 0:
        raise KpstanceError(f"--worst must be 0 or more, got {args.worst}")
    path = Path(args.input)
    if path.suffix.lower() not in (".jsonl", ".txt"):
        raise KpstanceError("expected a .jsonl file (text and actor per line) or a .txt article", path)
    if not Path(args.model_dir).is_dir():
        raise KpstanceError("model folder not found", args.model_dir)
    scheme = model_scheme(args.model_dir, args.labels)
    if not scheme.names.actors and not args.labels:
        default = load_scheme(default_labels())
        if default.actor_labels != scheme.actor_labels:  # another conflict's model: that table names other actors
            raise KpstanceError("the model's label scheme has no names table ('names:' in its label YAML), so there "
                                "is nobody to swap in: give --labels FILE with one", args.model_dir)
        scheme = default  # a model of this project saved before the label YAML had names
        print(f"kpstance: note: the model's label scheme has no names table; using {scheme.source}", file=sys.stderr)
    if args.actor is not None and args.actor not in scheme.names.actors:
        raise KpstanceError(f"--actor {args.actor!r} has no names in the label scheme (actors with names: "
                            f"{', '.join(scheme.names.actors)})")
    if path.suffix.lower() == ".jsonl":  # the input is read and checked before the model is loaded
        if args.actor is not None:
            raise KpstanceError("--actor is for a .txt article; a .jsonl line names its own actor", path)
        units, actors = _probe_units(path, scheme)
    else:
        text = read_article(path)
    predictor = StancePredictor.load(args.model_dir, device=args.device)
    if list(scheme.actor_labels) != predictor.actors:
        raise KpstanceError(f"the label scheme's actors {scheme.actor_labels} differ from the model's {predictor.actors}",
                            scheme.source)
    system, swapper = _UnitReader(predictor, scheme, args.batch_size), Swapper(scheme, args.seed)
    if path.suffix.lower() == ".jsonl":
        res, what = probe_units(system, units, actors, swapper, args.targets), f"{len(units)} units"
        unnamed = sum(a not in scheme.names.actors for a in actors)  # `none`, or an actor without names
        if unnamed:
            what += f", {unnamed} of them with no actor to swap"
    else:
        res, source = probe_article(system, text, path.stem, swapper, scheme, args.actor, n=args.targets)
        what = f"the article's units of {source or 'no actor'}"
    skipped = f"{res.skipped} unit{'' if res.skipped == 1 else 's'} skipped"
    print(f"swap test of {predictor.meta.get('run_name', args.model_dir)} on {path} ({what}): "
          f"{len(res.rows)} swapped copies, {skipped} (no clean swap)")
    if not res.rows and path.suffix.lower() == ".txt" and not res.skipped:  # nothing was measured
        if source is not None and source not in scheme.names.actors:
            raise KpstanceError(f"{source}, the actor the model gives most units, has no names in the label "
                                "scheme's names table: nothing to swap it with (give --actor)", path)
        raise KpstanceError(f"the model gives none of the article's units to {source or 'any actor'}: nothing to "
                            "swap", path)
    if not res.rows:
        raise KpstanceError("no unit could be swapped: name the actor with a name of the label YAML's names table",
                            path)
    m = res.metrics("", scheme)
    print(f"stance flip rate:   {m['swap_stance_flip']:.3f}  (share of copies whose stance differs from the original's)")
    print(f"actor follows swap: {m['swap_actor_follow']:.3f}  (share of copies given the swapped-in actor)")
    worst = res.worst(args.worst)
    if worst:
        print(f"worst {len(worst)} (stance changed first, then by how much the original stance lost):")
    for i, r in enumerate(worst, 1):
        print(f"{i:>3}. {r['original_actor']}/{r['original_stance']} -> {r['target']}: "
              f"{r['swapped_actor']}/{r['swapped_stance']} (original stance {-r['drop']:+.2f})")
        print(f"     original: {r['text']}")
        same = r["swapped_text"] == r["text"]  # only the carried speaker changed ("He urged ...")
        print(f"     swapped:  {'(the same words, read as said by ' + r['target'] + ')' if same else r['swapped_text']}")


def _probe_pairs(path: Path, scheme: Any, split: str | None) -> tuple[list[Any], list[dict]]:
    """A direction probe's JSON Lines: minimal pairs, each line a unit read alone (``pair_id``, ``text``, ``stance``;
    optional ``kind``, ``speaker``, ``id``, ``split``); every pair needs two members or more."""
    from .text.read import iter_jsonl

    units, recs, first = [], [], {}
    for line, rec in iter_jsonl(path):
        if split is not None and rec.get("split") != split:
            continue
        for field in ("pair_id", "stance"):
            if rec.get(field) in (None, ""):
                raise KpstanceError(f'missing field "{field}"', path, line)
        if rec["stance"] not in scheme.stance_labels:
            raise KpstanceError(f"unknown stance {rec['stance']!r} (allowed: {', '.join(scheme.stance_labels)})",
                                path, line)
        u = _probe_unit(rec, path, line)
        first.setdefault(str(rec["pair_id"]), line)
        units.append(u)
        recs.append({"id": u.id, "pair_id": str(rec["pair_id"]), "stance": rec["stance"], "text": rec["text"]})
    if not units:
        raise KpstanceError("no units in the file" + (f" for split {split!r}" if split else ""), path)
    lonely = [pid for pid, n in Counter(r["pair_id"] for r in recs).items() if n < 2]
    if lonely:
        raise KpstanceError(f"pair {lonely[0]!r} has one member ({len(lonely)} such pair(s))", path, first[lonely[0]])
    return units, recs


def cmd_probe_direction(args: argparse.Namespace) -> None:
    """Minimal pairs on the user's own units: the share of pairs whose members all get their stance (the key
    ``*_contrast_pair_accuracy`` of a run), the share read with one stance for all members (the topic read, not the
    direction), and the worst pairs."""
    from sklearn.metrics import f1_score

    from .eval.score import pair_scores
    from .systems.predictor import StancePredictor, model_scheme

    if args.worst < 0:
        raise KpstanceError(f"--worst must be 0 or more, got {args.worst}")
    path = Path(args.input)
    if path.suffix.lower() != ".jsonl":
        raise KpstanceError("expected a .jsonl file (pair_id, text and stance per line)", path)
    if not Path(args.model_dir).is_dir():
        raise KpstanceError("model folder not found", args.model_dir)
    scheme = model_scheme(args.model_dir, None)
    units, recs = _probe_pairs(path, scheme, args.split)  # read and checked before the model is loaded
    predictor = StancePredictor.load(args.model_dir, device=args.device)
    preds = _UnitReader(predictor, scheme, args.batch_size).predict(units)
    by_id = {r["id"]: (p["actor"], p["stance"]) for r, p in zip(recs, preds)}
    scores = pair_scores(recs, by_id, "")
    pairs: dict[str, list[tuple[dict, dict]]] = {}
    for r, p in zip(recs, preds):
        pairs.setdefault(r["pair_id"], []).append((r, p))
    contrasted = [m for m in pairs.values() if len({r["stance"] for r, _ in m}) > 1]
    one = [m for m in contrasted if len({p["stance"] for _, p in m}) == 1]
    missed = [m for m in pairs.values() if not all(p["stance"] == r["stance"] for r, p in m)]
    f1 = f1_score([r["stance"] for r in recs], [p["stance"] for p in preds], labels=scheme.stance_labels,
                  average="macro", zero_division=0)
    print(f"direction test of {predictor.meta.get('run_name', args.model_dir)} on {path}"
          f"{f' (split {args.split})' if args.split else ''}: {len(recs)} units in {len(pairs)} pairs")
    if len(contrasted) < len(pairs):
        same = next(pid for pid, m in pairs.items() if len({r["stance"] for r, _ in m}) == 1)
        print(f"kpstance: warning: {len(pairs) - len(contrasted)} pair(s) whose members all expect one stance, not a "
              f"contrast (first: {same}): scored in the pairs right, left out of the pairs read with one stance",
              file=sys.stderr)
    print(f"pairs with every member right:  {scores['pair_accuracy']:.3f}  ({len(pairs) - len(missed)}"
          f" of {len(pairs)})")
    if contrasted:
        print(f"pairs read with one stance:     {len(one) / len(contrasted):.3f}  ({len(one)} of {len(contrasted)} "
              "pairs whose members differ: the topic read, not the direction)")
    print(f"members' stance macro-F1:       {f1:.3f}")
    # one stance for all members first, then by how sure the model was of its wrong stances
    missed.sort(key=lambda m: (len({p["stance"] for _, p in m}) > 1,
                               -max(p["stance_score"] for r, p in m if p["stance"] != r["stance"])))
    if missed[: args.worst]:
        print(f"worst {min(args.worst, len(missed))} missed pairs (one stance for all members first):")
    for i, m in enumerate(missed[: args.worst], 1):
        print(f"{i:>3}. pair {m[0][0]['pair_id']}")
        for r, p in m:
            mark = "ok " if p["stance"] == r["stance"] else "MISS"
            print(f"     {mark} {r['stance']:>12} -> {p['stance']:<12} {p['stance_score']:.2f}  {r['text']}")


def cmd_annotate_export(args: argparse.Namespace) -> None:
    from .annotate.commands import export_tasks

    r = export_tasks(args.model_dir, args.input, args.n, args.output, args.strategy, args.seed, args.labels,
                     args.batch_size, args.device)
    print(f"kpstance: {r['tasks']} of {r['units']} units ({r['articles']} articles) by {r['strategy']} -> "
          f"{r['output']}; labeling config -> {r['config']}")


def cmd_annotate_import(args: argparse.Namespace) -> None:
    from .annotate.commands import import_gold

    r = import_gold(args.export, args.output, args.labels)
    print(f"kpstance: {r['annotations']} annotations of {r['tasks']} tasks ({r['unannotated']} without one, "
          f"{r['cancelled']} cancelled skipped, {r['replaced']} replaced by a later one)")
    def fmt(k: float | None) -> str:
        return "n/a (one label only)" if k is None else f"{k:.3f}"

    for a in r["agreement"]:
        print(f"kpstance: {a['annotators'][0]} vs {a['annotators'][1]} on {a['units']} units: "
              f"actor kappa {fmt(a['actor_kappa'])} (agreement {a['actor_agreement']:.2f}), "
              f"stance kappa {fmt(a['stance_kappa'])} (agreement {a['stance_agreement']:.2f})")
    print(f"kpstance: {r['gold']} gold units -> {r['output']}")
    if r["disagreements_file"]:
        print(f"kpstance: {r['disagreements']} units the annotators disagree on -> {r['disagreements_file']}")
    if r.get("removed"):
        print(f"kpstance: removed {r['removed']}: it held an earlier import's disagreements, and no unit of this "
              "export was labelled by two annotators", file=sys.stderr)


def cmd_report(args: argparse.Namespace) -> None:
    from .eval.tables import run_report
    from .files import atomic_open

    check_outputs([args.output], [args.run_dir])
    text = run_report(args.run_dir, args.split, args.worst)
    if not args.output:
        sys.stdout.write(text)
        return
    with atomic_open(args.output) as f:
        f.write(text)


def cmd_summarize(args: argparse.Namespace) -> None:
    from .eval.summary import left_out_line, render, summarize

    check_outputs([args.plot, args.output], [*args.input, args.model_dir, args.labels, args.dev_gold, args.events])
    if args.output and Path(args.output).suffix.lower() not in (".csv", ".json", ".parquet"):
        raise KpstanceError(f"--output must end in .csv, .json or .parquet: {args.output}")
    if args.events and not args.plot:
        raise KpstanceError("--events marks the chart: give --plot too")
    if args.plot_metric and not args.plot:
        raise KpstanceError("--plot-metric chooses what the chart shows: give --plot too")
    asked = [e.strip() for e in (args.estimator or "").split(",")]
    if args.dev_gold and "acc" not in asked and "all" not in asked:
        raise KpstanceError("--dev-gold is what acc corrects by: add --estimator acc (or all)")
    events = None
    if args.events:
        from .eval.trend import read_events

        events = read_events(args.events)
    df = summarize(args.model_dir, args.input, by=args.by, actors=_names(args.actors), outlets=_names(args.outlets),
                   estimators=args.estimator, dev_gold=args.dev_gold, n_boot=args.bootstrap, seed=args.seed,
                   labels=args.labels, batch_size=args.batch_size, start=args.start, end=args.end)
    if args.plot:
        from .eval.trend import plot_trend

        plot_trend(df, args.plot, metric=args.plot_metric or "shares", events=events)
        print(f"kpstance: chart -> {args.plot}", file=sys.stderr)
    if args.output:
        from .files import atomic_open

        suffix = Path(args.output).suffix.lower()
        if suffix == ".parquet":
            from .files import atomic_path

            with atomic_path(args.output) as tmp:
                df.to_parquet(tmp, index=False)
        else:
            with atomic_open(args.output) as f:
                f.write(df.to_csv(index=False) if suffix == ".csv" else _json(df))
        print(f"kpstance: {len(df)} rows -> {args.output}; {left_out_line(df)}", file=sys.stderr)
    elif args.format in ("csv", "json"):  # the table alone on stdout, for a program; what was counted on stderr
        sys.stdout.write(df.to_csv(index=False) if args.format == "csv" else _json(df))
        print(f"kpstance: {left_out_line(df)}", file=sys.stderr)
    else:
        sys.stdout.write(render(df))


def _names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _json(df: Any) -> str:
    return df.to_json(orient="records", force_ascii=False, indent=2, date_format="iso") + "\n"


def cmd_compare(args: argparse.Namespace) -> None:
    from .track.compare import compare

    if args.store is None:
        args.store = str(project_root() / "mlflow.db")
    sys.stdout.write(compare(args))


def main(argv: list[str] | None = None) -> int:
    import logging

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a bad option already reported in one line
        return e.code if isinstance(e.code, int) else 0
    quiet = logging.getLogger("kpstance.systems.predictor")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the CLI reports truncation per line
    try:
        with sigterm_raises():
            args.func(args)
    except KpstanceError as e:
        print(f"kpstance: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # Ctrl-C; temporary files were removed on the way out
        remove_temporaries()  # and one the signal caught being created
        print("kpstance: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        remove_temporaries()
        print("kpstance: terminated (SIGTERM); nothing was written", file=sys.stderr)
        return 143
    finally:
        quiet.setLevel(level)  # main is also called from Python (tests, notebooks): the level is the command's alone
    return 0


if __name__ == "__main__":
    sys.exit(main())
