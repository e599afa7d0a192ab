"""Train, evaluate and save a kpstance model: ``python train.py [experiment=smoke] [key=value ...]``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("KPSTANCE_ROOT", str(Path(__file__).resolve().parent))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from kpstance.config import (  # noqa: E402
    broken_config_file,
    extra_config_dirs,
    register_resolvers,
    renamed_override,
    selected_labels,
    sweep_problem,
    taken_run_dir,
    unknown_override,
    unselected_key,
)
from kpstance.errors import KpstanceError, MissingExtra, Terminated, sigterm_raises  # noqa: E402
from kpstance.files import remove_temporaries  # noqa: E402
from kpstance.run.cleanup import FAILED, discard_run_dir, mark_failed  # noqa: E402
from kpstance.run.pipeline import train  # noqa: E402

register_resolvers()
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """One run; a refused run leaves no folder, a failed one leaves its folder marked ``failed.json``."""
    try:
        with sigterm_raises():  # a scheduler's stop or `kill` marks the folder as a crash does
            metrics = train(cfg)
    except MissingExtra as e:
        discard_run_dir(cfg)
        print(f"kpstance: {e}", file=sys.stderr)
        return None
    except KpstanceError as e:
        mark_failed(cfg, e)  # refused before writing: the folder Hydra made goes; later: marked failed
        print(f"kpstance: error: {e}", file=sys.stderr)
        sys.exit(2)
    except Terminated as e:
        remove_temporaries()
        mark_failed(cfg, e)
        print(f"kpstance: {e}; the run folder is marked {FAILED}", file=sys.stderr)
        sys.exit(143)
    except KeyboardInterrupt as e:  # Ctrl-C: said in one line, as a scheduler's stop is
        remove_temporaries()
        marker = mark_failed(cfg, e)
        print("kpstance: interrupted" + (f"; the run folder is marked {FAILED} (resume=true continues it)"
                                         if marker else ""), file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # a crash: no folder that looks like a run in progress
        mark_failed(cfg, e)
        raise
    value = metrics.get(cfg.optimized_metric)
    if value is None and optuna_sweep():
        print(f"kpstance: error: optimized_metric '{cfg.optimized_metric}' is not in this run's metrics.json, so the "
              "search has nothing to optimise (is it a key this config writes? cross-validated keys need "
              "evaluation.cv=true)", file=sys.stderr)
        sys.exit(2)
    return None if value is None else float(value)


def optuna_sweep() -> bool:
    """Whether this job is a trial of a search that reads the value ``main`` returns (Hydra's Optuna sweeper)."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return "optuna" in str(HydraConfig.get().sweeper.get("_target_", "")).lower()
    except ValueError:  # no Hydra config: called from a test
        return False


def check_overrides(argv: list[str]) -> str | None:
    """A one-line message for a config file that is not valid YAML, an override spelled as in an earlier version or
    naming no config key or option, a key the selected group option lacks, a run folder that holds a run already,
    or a sweep value that a job would refuse."""
    dirs = [CONFIG_DIR, *extra_config_dirs(argv)]
    labels = selected_labels(argv, dirs)
    return (next(filter(None, (broken_config_file(d, labels) for d in dirs)), None)
            or renamed_override(argv) or unknown_override(argv, CONFIG_DIR) or unselected_key(argv, CONFIG_DIR)
            or taken_run_dir(argv) or sweep_problem(argv))


if __name__ == "__main__":
    bad = check_overrides(sys.argv[1:])
    if bad:
        print(f"kpstance: error: {bad}", file=sys.stderr)
        sys.exit(2)
    main()
