"""Record runs in an embedded MLflow store (sqlite), and read runs back for comparison.

MLflow is optional: with ``logger=none`` nothing here is imported, and when MLflow is not
installed a run still finishes (with one warning). The store is one absolute sqlite path
under the project root, whatever Hydra's run folder is, and artifacts go beside it, never
to ``./mlruns`` of the current folder.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import NOT_IDENTIFYING_PREFIXES
from ..systems.registry import current_key

log = logging.getLogger(__name__)


def flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} → {'a.b': 1}; lists become JSON strings."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = json.dumps(v, ensure_ascii=False)
        else:
            out[key] = v
    return out


def run_params(config: Mapping) -> dict[str, Any]:
    """The flattened config that defines a run's result (paths, label lists and logger settings left out)."""
    flat = flatten(config)
    # runs recorded before the system/encoder split carry model.* keys: show them under today's names
    flat = {current_key(k): v for k, v in flat.items()}
    params = {k: v for k, v in flat.items() if not k.startswith(NOT_IDENTIFYING_PREFIXES)}
    if "labels" in config and isinstance(config["labels"], Mapping):
        params["labels.name"] = config["labels"].get("name")
    return params


def git_commit(root: str | os.PathLike) -> str:
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return r.stdout.strip() if r.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _mlflow() -> None:
    """Import MLflow with its telemetry off (ImportError when it is not installed)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow  # noqa: F401


def store_uri(db_path: str | os.PathLike) -> str:
    return f"sqlite:///{Path(db_path).resolve()}"


def git_dirty(root: str | os.PathLike) -> bool | None:
    """Whether tracked files differ from the commit (a run of uncommitted code cannot be rebuilt from its commit)."""
    try:
        r = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10)
        return bool(r.stdout.strip()) if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def experiment_id(client: Any, name: str, artifact_root: str | os.PathLike) -> str:
    """The experiment's id, made with its artifacts under ``artifact_root`` the first time. MLflow fixes an
    experiment's artifact location when it is made, so a later ``logger.artifact_root`` is said not to apply."""
    root = Path(artifact_root).resolve() / name
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.artifact_location.rstrip("/") != root.as_uri().rstrip("/"):
            log.warning("MLflow experiment %r keeps its artifacts in %s, where it was made; logger.artifact_root "
                        "applies to new experiments (or a new logger.db_path)", name, exp.artifact_location)
        return exp.experiment_id
    return client.create_experiment(name, artifact_location=root.as_uri())


def log_run(logger_cfg: Mapping, config: Mapping, metrics: Mapping, tags: Mapping, run_dir: Path, run_name: str) -> str | None:
    """Record one finished run; return its MLflow run id (None when tracking is off or unavailable)."""
    if not logger_cfg or logger_cfg.get("name", "none") == "none":
        return None
    try:
        _mlflow()
    except ImportError:
        log.warning("logger=mlflow but MLflow is not installed (pip install 'kpstance[track]'); run not tracked")
        return None
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store_uri(logger_cfg["db_path"]))
    exp = experiment_id(client, str(logger_cfg.get("experiment_name") or config.get("task_name")), logger_cfg["artifact_root"])
    run = client.create_run(exp, run_name=run_name, tags={str(k): str(v) for k, v in tags.items()})
    rid = run.info.run_id
    params = [Param(k, str(v)[:6000]) for k, v in run_params(config).items()]
    nums = [Metric(k, float(v), 0, 0) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    for i in range(0, max(len(params), len(nums)), 100):
        client.log_batch(rid, metrics=nums[i : i + 100], params=params[i : i + 100], tags=[])
    client.log_batch(rid, tags=[RunTag("run_dir", str(run_dir))])
    for f in sorted(run_dir.iterdir()):
        if f.is_file():
            client.log_artifact(rid, str(f))
    if (run_dir / ".hydra").is_dir():  # the overrides the run was started with: what scripts/rerun.py reads
        client.log_artifacts(rid, str(run_dir / ".hydra"), artifact_path=".hydra")
    client.set_terminated(rid)
    log.info("tracked as MLflow run %s in %s", rid, logger_cfg["db_path"])
    return rid


def read_store(db_path: str | os.PathLike, experiment: str | None = None) -> list[dict]:
    """Runs from the MLflow store as dicts: name, experiment, params (config values), metrics, tags.

    Only finished runs: a run records itself once finished, but one killed while recording stays RUNNING."""
    check_store(db_path)
    _mlflow()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store_uri(db_path))
    exps = client.search_experiments()
    if experiment:
        exps = [e for e in exps if e.name == experiment]
    runs = []
    for e in exps:
        for r in client.search_runs([e.experiment_id], max_results=50000):
            if r.info.status != "FINISHED":
                continue
            runs.append({
                "name": r.info.run_name,
                "experiment": e.name,
                "params": {current_key(k): v for k, v in r.data.params.items()},
                "metrics": dict(r.data.metrics),
                "tags": {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")},
                "start_time": r.info.start_time,
            })
    return runs


SQLITE_HEADER = b"SQLite format 3\x00"


def check_store(db_path: str | os.PathLike) -> None:
    """Refuse a store that is missing or not an SQLite database before MLflow opens it: MLflow would write its
    tables into any file it is handed (an empty one, say) or fail with a traceback."""
    from ..errors import KpstanceError

    path = Path(db_path)
    if not path.is_file():
        raise KpstanceError("no MLflow store here (run training with logger=mlflow first, or use --runs-dir)", db_path)
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as e:
        raise KpstanceError(f"cannot read: {e.strerror}", db_path) from None
    if header != SQLITE_HEADER:
        raise KpstanceError("not an SQLite database (an MLflow store is the mlflow.db a run with logger=mlflow "
                            "writes)", db_path)
