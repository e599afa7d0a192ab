"""Store a saved teacher's actor and stance distributions on the student's training sets, without training.

    python scripts/teacher_outputs.py --seeds 0,1,2 data.teacher.model=models/teacher/latest [overrides]

For every seed, composes the student's config (``experiment=distill`` and the overrides), builds its training set
exactly as ``train.py`` would, and has the teacher predict every example the store (``data.teacher.outputs``)
lacks. ``make teacher`` runs it after training the teacher. A run of the student then finds every example it trains
on in the store; when the data change, it refuses until this is run again.
"""

from __future__ import annotations

import argparse
import sys
import tempfile


def main(argv: list[str] | None = None) -> int:
    from kpstance.config import compose
    from kpstance.errors import KpstanceError
    from kpstance.run.pipeline import teacher_outputs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=lambda v: [int(x) for x in v.split(",")], default=[0, 1, 2],
                    help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--experiment", default="distill", help="the student's experiment (default: distill)")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data.teacher.model=models/teacher/latest")
    args = ap.parse_args(argv)
    try:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                cfg = compose([f"experiment={args.experiment}", f"seed={seed}", "logger=none",
                               f"paths.output_dir={tmp}/run", f"paths.models_dir={tmp}/models", *args.overrides])
                n = teacher_outputs(cfg)
            print(f"seed {seed}: teacher outputs ready for the {n} training examples (any left out: warned above)")
    except KpstanceError as e:
        print(f"kpstance: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
