"""The ``kpstance`` command: label sentences with the rules, or predict with a saved model.

Every user error ends in one line on stderr (``kpstance: error: FILE:LINE: …``) and exit
code 2; output files are written to a temporary name and renamed only when complete.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import KpstanceError

LABELS_REL = "configs/labels/korean_peninsula.yaml"


def default_labels() -> str:
    """The project's label YAML: under $KPSTANCE_ROOT, the current folder, or the source checkout."""
    for root in (os.environ.get("KPSTANCE_ROOT"), os.getcwd(), str(Path(__file__).resolve().parents[2])):
        if root and (Path(root) / LABELS_REL).is_file():
            return str(Path(root) / LABELS_REL)
    return LABELS_REL


def _records(path: str, language: str = "en") -> Iterator[tuple[dict, Any]]:
    """(record to carry through, unit) for each sentence of a .txt article or a .jsonl file.

    A .txt file is an article and is segmented; a .jsonl file holds one sentence per line in
    "text" and is not re-segmented: all its fields are carried through.
    """
    from .segment import segment_article
    from .textio import iter_jsonl, read_article

    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        for line, rec in iter_jsonl(p):
            yield rec, line
    else:
        article_id = p.stem
        for u in segment_article(read_article(p), article_id, language):
            yield {"id": u.id, "article_id": u.article_id, "section": u.section, "kind": u.kind, "text": u.text}, u


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """stdout, or a file written under a temporary name and renamed into place on success."""
    if path is None:
        yield sys.stdout
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        f = tmp.open("w", encoding="utf-8")
    except OSError as e:
        raise KpstanceError(f"cannot write: {e.strerror}", target) from None
    try:
        with f:
            yield f
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def cmd_label(args: argparse.Namespace) -> None:
    from .labeling import label_units
    from .labels import load_scheme
    from .segment import segment_lines

    scheme = load_scheme(args.labels or default_labels())
    recs = list(_records(args.input))
    units = [u for _, u in recs]
    if any(isinstance(u, int) for u in units):  # .jsonl: one unit per line, as given
        units = segment_lines([r["text"] for r, _ in recs], Path(args.input).stem)
    silver = label_units(units, scheme)
    with _output(args.output) as out:
        for (rec, _), s in zip(recs, silver):
            out.write(json.dumps({**rec, "actor": s.actor, "stance": s.stance, "rules_fired": s.rules_fired},
                                 ensure_ascii=False) + "\n")


def cmd_predict(args: argparse.Namespace) -> None:
    from .inference import StancePredictor

    expected = None
    if args.labels:
        from .labels import load_scheme

        scheme = load_scheme(args.labels)
        expected = {"actor": scheme.actor_labels, "stance": scheme.stance_labels}
    predictor = StancePredictor.load(args.model_dir, device=args.device, precision=args.precision,
                                     expected_labels=expected)
    recs = list(_records(args.input))
    preds = predictor.predict([r["text"] for r, _ in recs], batch_size=args.batch_size)
    for i in predictor.truncated:
        rec, where = recs[i]
        loc = f"{args.input}:{where}" if isinstance(where, int) else f"{args.input}: unit {rec['id']}"
        print(f"kpstance: warning: {loc}: sentence longer than {predictor.max_length} tokens, truncated",
              file=sys.stderr)
    with _output(args.output) as out:
        for (rec, _), p in zip(recs, preds):
            row = {**rec, "actor": p["actor"], "stance": p["stance"], "actor_score": p["actor_score"],
                   "stance_score": p["stance_score"]}
            if args.probs:
                row.update(actor_probs=p["actor_probs"], stance_probs=p["stance_probs"])
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="kpstance", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kpstance {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("label", help="label sentences with the rules (silver labels) and show which rules fired")
    lab.add_argument("--input", required=True, help=".txt article (segmented) or .jsonl with a 'text' field per line")
    lab.add_argument("--output", help="JSON Lines output (default: stdout)")
    lab.add_argument("--labels", default=None, help=f"label YAML (default: {LABELS_REL})")
    lab.set_defaults(func=cmd_label)

    pred = sub.add_parser("predict", help="predict actor and stance with a saved model")
    pred.add_argument("model_dir", help="a folder saved by train.py, e.g. models/latest")
    pred.add_argument("--input", required=True, help=".txt article (segmented) or .jsonl with a 'text' field per line")
    pred.add_argument("--output", help="JSON Lines output (default: stdout)")
    pred.add_argument("--batch-size", type=int, default=64)
    pred.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    pred.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    pred.add_argument("--probs", action="store_true", help="also write the full probability distributions")
    pred.add_argument("--labels", help="refuse the model unless its labels match this label YAML")
    pred.set_defaults(func=cmd_predict)
    cmp = sub.add_parser("compare", help="compare runs side by side (MLflow store, or run folders with --runs-dir)")
    cmp.add_argument("--experiment", help="only runs of this experiment (task_name); comma-separated for several")
    cmp.add_argument("--group-by", help="config key to group runs by, e.g. model.kind; rows show mean ± std")
    cmp.add_argument("--baseline", help="run, group or experiment to subtract from every row")
    cmp.add_argument("--sort", help="metric to sort by (default: the last metric shown)")
    cmp.add_argument("--metrics", help="comma-separated metrics (default: actor_macro_f1,stance_macro_f1,stance_f_avg,joint_accuracy)")
    cmp.add_argument("--format", default="table", choices=["table", "markdown", "csv", "json"])
    cmp.add_argument("--plot", help="also write a bar chart PNG")
    cmp.add_argument("--runs-dir", help="read run folders under this folder instead of the MLflow store")
    cmp.add_argument("--store", default=None, help="MLflow sqlite file (default: mlflow.db at the project root)")
    cmp.add_argument("--allow-mixed-gold", action="store_true", help="show runs scored on different gold sets (marked *)")
    cmp.set_defaults(func=cmd_compare)
    return parser


def cmd_compare(args: argparse.Namespace) -> None:
    from .compare import compare

    if args.store is None:
        root = os.environ.get("KPSTANCE_ROOT") or os.getcwd()
        args.store = str(Path(root) / "mlflow.db")
    sys.stdout.write(compare(args))


def main(argv: list[str] | None = None) -> int:
    import logging

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.getLogger("kpstance.inference").setLevel(logging.ERROR)  # the CLI reports truncation per line
    try:
        args.func(args)
    except KpstanceError as e:
        print(f"kpstance: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("kpstance: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
