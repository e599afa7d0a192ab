"""A corpus over a Ray cluster with Ray Data: the same table as the local path, from many machines.

Ray Data reads the input files (Parquet, CSV, JSON Lines, ``.txt`` articles) in parallel; ``map_batches`` hands
batches of articles to a pool of replicas, each an actor that loads the model once (its files travel through
Ray's object store, so the nodes need no shared copy), runs torch on its share of the cores (``--actor-cpus``;
a GPU each where the cluster has them), segments each article, reads its speakers and predicts through
``StancePredictor.predict_in_context``, the path ``kpstance predict`` takes locally, so the labels are the local
path's. The driver writes the rows, in input order, to one Parquet file renamed into place at the end.

The input files must be where every node can read them (a shared file system, or an ``s3://`` / ``gs://`` URI that
Ray Data reads); every node needs kpstance installed (``pip install 'kpstance[ray]'``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import KpstanceError
from ..text.corpus import FIELDS, expand
from ..text.read import txt_roots
from .local import Options, table_columns
from .table import AtomicTable

READ_CPUS = 0  # reading is I/O: it must never wait behind replicas that hold every CPU
MODEL_FILES = ("config.json", "config.yaml", "kpstance.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
               "special_tokens_map.json")


class Replica:
    """One model replica: loaded once, then labels batches of articles (or units) into table rows."""

    def __init__(self, files: Any, labels: bytes | None, precision: str, n_units: int | None,
                 opts: dict, roots: dict[str, str], cpus: int, device: str, speaker_average: int | None = None) -> None:
        import tempfile

        import ray
        import torch

        from ..systems.predictor import StancePredictor
        from ..text.corpus import Columns
        from ..weak.scheme import load_scheme

        torch.set_num_threads(max(1, cpus))  # this replica's share of the node's cores
        files = ray.get(files["ref"])  # nested, so Ray neither resolves it early nor warns about restarts
        folder = Path(tempfile.mkdtemp(prefix="kpstance-model-"))
        for name, data in files.items():
            (folder / name).write_bytes(data)
        self.predictor = StancePredictor.load(folder, device=device, precision=precision, n_units=n_units,
                                              speaker_average=speaker_average)
        if labels is not None:
            (folder / "labels.yaml").write_bytes(labels)
            self.scheme = load_scheme(folder / "labels.yaml")
        else:
            self.scheme = self.predictor.scheme()
        self.opts = Options(Columns(opts["columns"]), opts["rows"], opts["min_score"], opts["probs"],
                            explain=opts["explain"])
        self.roots, self.cpus = roots, cpus
        self.columns = table_columns(self.predictor.actors, self.predictor.stances, self.opts)

    def __call__(self, batch: Any) -> Any:
        from ..systems.context import ContextReader
        from .local import predict_group
        from .table import arrow_table

        group = [(it, it.rows()) for it in (self._item(rec) for rec in batch.to_pylist())]
        rows = [r for _, rs in group for r in rs]  # a group ends on item boundaries: one reader, as locally
        out = predict_group(self.predictor, group, rows, ContextReader(self.scheme)(rows), self.opts, 64, self.cpus,
                            scheme=self.scheme)
        return arrow_table(out, self.columns)

    def _item(self, rec: dict) -> Any:
        from ..text.corpus import article_item, txt_item, unit_item

        path = str(rec.pop("path", ""))
        suffix = Path(path).suffix.lower()
        if suffix == ".txt":
            data = rec["bytes"]
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as e:
                raise KpstanceError(f"not valid UTF-8 (byte {e.start})", path) from None
            return txt_item(path, text, self.roots)
        if suffix == ".jsonl" and self.opts.rows == "units":
            import json

            rec = json.loads(rec["text"])
            if rec.get(self.opts.columns["id"]) is None:
                raise KpstanceError(f'a line has no "{self.opts.columns["id"]}": the Ray engine cannot number the '
                                    "lines of a file read on several machines; give each line an id", path)
            return unit_item(path, 0, rec, Path(path).stem, self.opts.columns)
        if suffix == ".jsonl":
            import json

            rec = json.loads(rec["text"])
        return article_item(Path(path), None, rec, self.opts.columns, "en")


def _runs(files: list[str]) -> list[list[str]]:
    """Consecutive files of one kind: each run is one Ray dataset, read in order, so rows keep the input order."""
    runs: list[list[str]] = []
    for f in files:
        if runs and Path(runs[-1][-1]).suffix.lower() == Path(f).suffix.lower():
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


def _dataset(paths: list[str], opts: Options) -> Any:
    """A Ray Data dataset of files of one kind: a row per article (a .jsonl line under --rows units)."""
    import pyarrow as pa
    import ray.data as rd

    suffix = Path(paths[0]).suffix.lower()
    common = {"include_paths": True, "num_cpus": READ_CPUS, "partitioning": None}
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        have = set(pq.ParquetFile(paths[0]).schema_arrow.names)
        cols = [opts.columns[c] for c in FIELDS if opts.columns[c] in have]
        return rd.read_parquet(paths, columns=cols, **common)
    if suffix == ".csv":
        import csv

        import pyarrow.csv as pcsv

        with open(paths[0], encoding="utf-8-sig", newline="") as fh:  # every column as text: "007" stays "007"
            header = next(csv.reader(fh), [])
        return rd.read_csv(paths, parse_options=pcsv.ParseOptions(newlines_in_values=True),
                           convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in header}),
                           **common)
    if suffix == ".jsonl":  # a line as text, parsed by the replica as the local path parses it
        return rd.read_text(paths, drop_empty_lines=True, **common)
    return rd.read_binary_files(paths, **common)


def predict_ray(args: argparse.Namespace, opts: Options) -> None:
    """``kpstance predict --engine ray``: see the module docstring."""
    try:
        import ray
    except ImportError:
        raise KpstanceError("--engine ray needs Ray: pip install 'kpstance[ray]'") from None
    from ..systems.precision import default_precision
    from ..text.corpus import check_inputs, estimate_units

    if not args.output or Path(args.output).suffix.lower() != ".parquet":
        raise KpstanceError("--engine ray writes Parquet: give --output FILE.parquet")
    if "-" in args.input:
        raise KpstanceError("--engine ray reads files, not stdin")
    if args.resume:
        raise KpstanceError("--resume is for the local engine; a Ray job that fails is retried by Ray task by task")
    if args.actor_cpus < 1:
        raise KpstanceError(f"--actor-cpus must be at least 1, got {args.actor_cpus}")
    model = Path(args.model_dir)
    if not model.is_dir():
        raise KpstanceError("model folder not found", model)
    files = expand(args.input)
    check_inputs(files, opts.columns, opts.rows, every_row=True)  # every row, before a cluster is asked for anything
    requested = args.precision or default_precision()
    n_units = estimate_units(args.input) if requested == "auto" else None
    model_files = {f.name: f.read_bytes() for f in model.iterdir()
                   if f.is_file() and (f.name in MODEL_FILES or f.suffix == ".safetensors")}
    labels = Path(args.labels).read_bytes() if args.labels else None
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    address = args.address or os.environ.get("RAY_ADDRESS")
    host = (address or "").removeprefix("ray://").split(":")[0]
    local = {"_node_ip_address": "127.0.0.1"} if host in ("", "127.0.0.1", "localhost") else {}  # this machine
    import logging

    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             configure_logging=True, **local)
    try:
        import ray.data as rd

        for name in [n for n in logging.root.manager.loggerDict if n.startswith("ray")] + ["ray", "ray.data"]:
            logging.getLogger(name).setLevel(logging.CRITICAL)  # Ray Data's progress lines and its tracebacks of
            # a failed task: the user sees our progress bar and the one-line error below
        ctx = rd.DataContext.get_current()
        files_ref = ray.put(model_files)  # once into the object store; each replica fetches it
        ctx.use_datasource_v2 = False  # v2 lists Parquet files in a task of 1 CPU, which waits behind the replicas
        ctx.execution_options.preserve_order = True  # rows in input order, as the local path writes them
        ctx.enable_progress_bars = not args.quiet and sys.stderr.isatty()
        plan = replica_plan(ray.cluster_resources(), args.actors, args.actor_cpus)
        kwargs = {"files": {"ref": files_ref}, "labels": labels, "precision": requested, "n_units": n_units,
                  "opts": opts.as_dict() | {"columns": opts.columns.names}, "roots": txt_roots(args.input),
                  "cpus": plan.cpus, "device": plan.device, "speaker_average": args.speaker_average}
        columns = table_columns(*_labels(model), opts)
        out = AtomicTable(args.output, columns)
        try:
            for run in _runs(files):
                ds = _dataset(run, opts).map_batches(
                    Replica, batch_size=max(1, args.chunk_size // 20), batch_format="pyarrow",
                    compute=rd.ActorPoolStrategy(size=plan.replicas), num_cpus=plan.cpus,
                    num_gpus=plan.gpus, fn_constructor_kwargs=kwargs)
                for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
                    out.writer.write_arrow(batch)
            out.commit()
        except BaseException:
            out.abort()
            raise
    except Exception as e:
        raise _user_error(e) from None
    finally:
        ray.shutdown()


class Plan(NamedTuple):
    """How many replicas, where, and what each reserves."""

    device: str
    replicas: int
    cpus: int
    gpus: int


def replica_plan(resources: dict[str, float], actors: int | None, actor_cpus: int) -> Plan:
    """Replicas for a cluster's resources (``ray.cluster_resources()``): one per GPU where the cluster has GPUs,
    else one per ``actor_cpus`` cores; ``--actors`` overrides the count. Kept apart from Ray so that the GPU case,
    which no test machine has, is tested on its decisions."""
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return Plan("cuda", actors or gpus, actor_cpus, 1)
    return Plan("cpu", actors or max(1, int(resources.get("CPU", 1) // actor_cpus)), actor_cpus, 0)


def _labels(model: Path) -> tuple[list[str], list[str]]:
    """The model's actors and stances, from its config.json (the driver loads no model)."""
    import json

    id2label = json.loads((model / "config.json").read_text(encoding="utf-8"))["id2label"]
    from ..systems.heads import HeadLayout

    layout = HeadLayout.from_id2label({int(k): v for k, v in id2label.items()})
    return list(layout.actors), list(layout.stances)


def _user_error(e: BaseException) -> BaseException:
    """A KpstanceError raised inside a Ray task comes back wrapped: unwrap it to the user's one line."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, KpstanceError):
            return e
        for attr in ("cause", "__cause__", "__context__"):
            nxt = getattr(e, attr, None)
            if isinstance(nxt, BaseException):
                e = nxt
                break
        else:
            break
    text = str(e)
    found = re.findall(r"KpstanceError: (.+)", text)  # a task's error, pickled as its traceback's text
    if found:
        return KpstanceError(found[-1].strip())
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and not ln.startswith(("To change retry", "Failed to "))]
    return KpstanceError(f"the Ray job failed: {lines[-1][:300] if lines else type(e).__name__}")
