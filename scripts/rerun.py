"""Train a finished run again from its folder: the overrides it was started with, and the precision it trained in.

    .venv/bin/python scripts/rerun.py outputs/default/runs/RUN            # trains it again (from the checkout root)
    .venv/bin/python scripts/rerun.py outputs/default/runs/RUN --dry-run  # prints the command only

Hydra's ``.hydra/overrides.yaml`` alone is not enough: a job of a search lists ``hparams_search=...`` among its
overrides, which would start a new search rather than the one job; ``paths.output_dir=`` names a folder that now holds
the run, and ``resume=`` would continue it rather than train it again; and ``trainer.precision=auto`` resolves by the
machine (bf16 where the CPU computes it natively, else fp32), so the run's ``train_precision`` (``run_info.json``)
is passed as ``trainer.precision``. On the commit in ``run_info.json`` and the same seed it gives the same
``metrics.json``, on any machine where that precision computes the same.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# overrides that belong to the launch, not to the run: a search's sweeper, the folder it wrote to (a new run needs its
# own), resuming an interrupted run, Hydra's own settings (Hydra keeps those apart; a hand-written file may not); and
# the precision asked for, replaced by the one the run trained in
LAUNCH_ONLY = ("hparams_search", "paths.output_dir", "resume", "hydra.", "trainer.precision=")


def rerun_command(run_dir: str | Path) -> list[str]:
    """The ``train.py`` command line that trains the run of ``run_dir`` again."""
    import yaml

    from kpstance.errors import KpstanceError

    run = Path(run_dir)
    overrides, info = run / ".hydra" / "overrides.yaml", run / "run_info.json"
    if not overrides.is_file():
        raise KpstanceError("no .hydra/overrides.yaml: not a run folder written by train.py", run)
    if not info.is_file():
        raise KpstanceError("the run did not finish (no run_info.json): nothing to reproduce", run)
    try:
        args = yaml.safe_load(overrides.read_text(encoding="utf-8")) or []
        precision = json.loads(info.read_text(encoding="utf-8")).get("train_precision")
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KpstanceError(f"cannot read the run's files ({type(e).__name__})", run) from None
    keep = [str(a) for a in args if not str(a).lstrip("+~").startswith(LAUNCH_ONLY)]
    if precision:  # a system that trains: the precision it computed in, whatever `auto` would pick here
        keep.append(f"trainer.precision={precision}")
    return [sys.executable, str(ROOT / "train.py"), *keep]


def main(argv: list[str] | None = None) -> int:
    from kpstance.errors import KpstanceError

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", help="a finished run's folder (outputs/<experiment>/runs/<run>)")
    ap.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    args = ap.parse_args(argv)
    try:
        cmd = rerun_command(args.run_dir)
    except KpstanceError as e:
        print(f"rerun: error: {e}", file=sys.stderr)
        return 2
    print(shlex.join(cmd), flush=True)
    return 0 if args.dry_run else subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
