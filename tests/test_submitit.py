"""Sweeps through Hydra's submitit launcher: the local executor runs a real two-job multirun (same code path as
SLURM: pickled jobs, one subprocess each, logs under the sweep's .submitit/), and the SLURM launcher composes."""

from __future__ import annotations

import csv

import pytest
from helpers import ROOT, compose, train_py

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")


def test_submitit_local_runs_a_two_job_sweep_and_gathers_it(tmp_path):
    # system=majority: the launcher is under test, not the model; a fitted transformer doubles the time
    r = train_py(tmp_path, "-m", "hydra/launcher=submitit_local", "seed=0,1", "system=majority",
                 "evaluation.final_model=false", "evaluation.swap=false", "evaluation.cv=false", "logger=none")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Submitit 'local' sweep output dir" in r.stdout + r.stderr
    (sweep,) = (tmp_path / "outputs" / "smoke" / "multiruns").glob("*")
    for job in ("job0", "job1"):
        assert (sweep / job / "metrics.json").is_file()
        assert "LocalLauncher" in (sweep / job / ".hydra" / "hydra.yaml").read_text()
    rows = list(csv.DictReader((sweep / "sweep_metrics.csv").open()))
    assert [(row["job"], row["overrides"]) for row in rows] == [("job0", "seed=0"), ("job1", "seed=1")]
    # submitit, not the basic launcher, ran them: one folder per job (named by its id) with the job's own log
    logs = sorted((sweep / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2 and all(p.parent.name.isdigit() for p in logs)
    for log in logs:  # the job's own training log went to its submitit log, and submitit saw it finish
        text = log.read_text()
        assert "[kpstance][INFO] - final model: majority" in text and "completed successfully" in text
        # the local executor starts both jobs at once: each takes the launcher's cpus_per_task (1), not every core
        assert "[kpstance][INFO] - torch threads: 1" in text
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 2


def test_slurm_launcher_composes_with_a_partition_without_a_cluster(tmp_path):
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from kpstance.config import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=smoke", f"paths.log_dir={tmp_path}", "logger=none",
                                          "hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu",
                                          "hydra.launcher.timeout_min=30"], return_hydra_config=True)
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_.endswith("SlurmLauncher")
    assert (launcher_cfg.partition, launcher_cfg.timeout_min, launcher_cfg.gpus_per_node) == ("gpu", 30, 1)
    assert "array_parallelism" in launcher_cfg  # validated against (and filled from) the plugin's SLURM schema
    launcher = instantiate(launcher_cfg)  # what Hydra builds for `-m`; nothing is submitted before launch()
    assert type(launcher).__name__ == "SlurmLauncher"
    assert launcher.params["partition"] == "gpu" and launcher.params["name"] == "kpstance_smoke"
    assert launcher.params["submitit_folder"].startswith(str(tmp_path / "smoke" / "multiruns"))
    assert launcher.params["submitit_folder"].endswith("/.submitit/%j")


def test_torch_threads_come_from_the_trainer_else_a_local_submitit_launcher(monkeypatch, tmp_path):
    from kpstance.run.prepare import torch_threads

    cfg = compose(["experiment=smoke"], tmp_path)
    monkeypatch.delenv("SUBMITIT_EXECUTOR", raising=False)
    assert torch_threads(cfg) is None  # torch's default outside a local sweep
    cfg.trainer.num_threads = 3
    assert torch_threads(cfg) == 3
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "local")
    assert torch_threads(cfg) == 3  # the trainer's setting wins
    cfg.trainer.num_threads = None
    assert torch_threads(cfg) is None  # no Hydra config here (a direct call of train(cfg)): nothing to read
