"""Tracking, baselines, sweeps and `kpstance compare` on smoke runs in a temp folder."""

from __future__ import annotations

import csv
import json
import statistics
import sys

import pytest
from helpers import GOLD, ROOT, compose, run_cli, train_py

from kpstance.errors import KpstanceError

SMOKE = ["experiment=smoke", "evaluation.final_model=false"]  # without the folds and the swap test, as smoke runs


def tracked(tmp, *overrides):
    return compose([*overrides, "logger=mlflow", f"logger.db_path={tmp / 'mlflow.db'}",
                    f"logger.artifact_root={tmp / 'artifacts'}"], tmp)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three seeds of smoke and two of smoke trained on the gold labels (evaluation.train_labels=gold), each in its own
    run folder, tracked in one store."""
    from kpstance.run.pipeline import train

    tmp = tmp_path_factory.mktemp("cmp")
    out = {}
    for task, extra in (("smoke", []), ("smoke_gold", ["evaluation.train_labels=gold"])):
        for seed in ((0, 1, 2) if task == "smoke" else (0, 1)):
            cfg = tracked(tmp, *SMOKE, *extra, f"seed={seed}", f"task_name={task}",
                          f"paths.output_dir={tmp / 'runs' / f'{task}_{seed}'}")
            out[(task, seed)] = train(cfg)
    return tmp, out


def compare(tmp, *args):
    r = run_cli("compare", "--store", str(tmp / "mlflow.db"), *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_mlflow_store_holds_params_metrics_tags_artifacts(runs):
    from mlflow.tracking import MlflowClient

    tmp, out = runs
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    exp = client.get_experiment_by_name("smoke")
    found = client.search_runs([exp.experiment_id])
    assert len(found) == 3
    r = client.get_run(out[("smoke", 1)]["mlflow_run_id"])
    assert r.data.params["seed"] == "1" and r.data.params["trainer.max_steps"] == "4"
    assert r.data.metrics["dev_joint_accuracy"] == pytest.approx(out[("smoke", 1)]["dev_joint_accuracy"])
    assert r.data.tags["gold_sha256"] == out[("smoke", 1)]["gold_sha256"] and len(r.data.tags["git_commit"]) >= 7
    assert r.data.tags["labels_sha256"] and r.data.tags["experiment"] == "smoke"
    arts = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {"metrics.json", "config.yaml", "predictions.jsonl", "lf_analysis.csv"} <= arts
    assert (tmp / "artifacts").is_dir() and not (ROOT / "mlruns").exists()


def test_json_lists_every_run_with_config_and_metrics(runs):
    tmp, out = runs
    rows = json.loads(compare(tmp, "--format", "json"))
    assert len(rows) == 5
    assert {r["experiment"] for r in rows} == {"smoke", "smoke_gold"}
    for r in rows:
        assert set(r) >= {"name", "experiment", "config", "metrics"}
    # the config values shown are those that differ between runs
    assert {"seed", "evaluation.train_labels"} <= set(rows[0]["config"])


def test_group_by_gives_mean_and_std_over_seeds(runs):
    tmp, out = runs
    rows = json.loads(compare(tmp, "--group-by", "evaluation.train_labels", "--format", "json"))
    smoke = next(r for r in rows if r["experiment"] == "smoke")
    vals = [out[("smoke", s)]["dev_joint_accuracy"] for s in (0, 1, 2)]  # compare shows dev and test by default
    assert smoke["n"] == 3
    assert smoke["metrics"]["dev_joint_accuracy"] == pytest.approx(statistics.mean(vals))
    assert smoke["metrics_std"]["dev_joint_accuracy"] == pytest.approx(statistics.stdev(vals))
    table = compare(tmp, "--group-by", "evaluation.train_labels")
    assert "±" in table and "smoke [evaluation.train_labels=silver]" in table
    # one group per experiment, whatever its runs' config
    by_exp = json.loads(compare(tmp, "--group-by", "experiment", "--format", "json"))
    assert {r["name"]: r["n"] for r in by_exp} == {"smoke": 3, "smoke_gold": 2}
    assert next(r for r in by_exp if r["name"] == "smoke")["metrics"]["dev_joint_accuracy"] == pytest.approx(
        statistics.mean(vals))


def test_baseline_difference_and_formats(runs, tmp_path):
    tmp, out = runs
    f1s = "dev_actor_macro_f1,dev_stance_macro_f1,dev_joint_accuracy,test_stance_macro_f1"  # the runs skip the swap test
    rows = json.loads(compare(tmp, "--baseline", "smoke_gold", "--group-by", "evaluation.train_labels", "--metrics", f1s,
                              "--format", "json"))
    gold_row = next(r for r in rows if r["experiment"] == "smoke_gold")
    assert all(abs(v) < 1e-12 for v in gold_row["delta"].values())
    md = compare(tmp, "--experiment", "smoke", "--format", "markdown", "--sort", "dev_actor_macro_f1")
    assert md.splitlines()[0].startswith("| run | experiment | seed |") and len(md.splitlines()) == 5
    rows_csv = list(csv.reader(compare(tmp, "--format", "csv").splitlines()))
    assert rows_csv[0][:2] == ["run", "experiment"] and len(rows_csv) == 6
    # the CSV is for analysis: full precision, the std and the difference in columns of their own, as the JSON has them
    grouped = list(csv.DictReader(compare(tmp, "--baseline", "smoke_gold", "--group-by", "evaluation.train_labels",
                                          "--metrics", f1s, "--format", "csv").splitlines()))
    assert [r["group"] for r in grouped] == [r["name"] for r in rows]
    for c, j in zip(grouped, rows):
        for k in f1s.split(","):
            assert float(c[k]) == pytest.approx(j["metrics"][k], abs=1e-11)
            assert float(c[f"delta_{k}"]) == pytest.approx(j["delta"][k], abs=1e-11)
            assert (float(c[f"{k}_std"]) == pytest.approx(j["metrics_std"][k], abs=1e-11)) if j["n"] > 1 else not c[
                f"{k}_std"]
    png = tmp_path / "cmp.png"
    compare(tmp, "--group-by", "seed", "--plot", str(png))
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_runs_dir_reads_folders_without_mlflow(runs):
    tmp, out = runs
    r = run_cli("compare", "--runs-dir", str(tmp / "runs"), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 5
    empty = tmp / "no_runs_here"
    empty.mkdir(exist_ok=True)
    r = run_cli("compare", "--runs-dir", str(empty))
    assert r.returncode == 2 and r.stderr.startswith(f"kpstance: error: {empty}: no finished run folder under it")


def test_runs_whose_label_files_differ_show_the_label_hash(runs, tmp_path):
    """The label YAML is data, not a config key: two runs that read other cues would otherwise look alike."""
    import shutil

    tmp, _ = runs
    folders = tmp_path / "runs"
    shutil.copytree(tmp / "runs" / "smoke_0", folders / "a")
    shutil.copytree(tmp / "runs" / "smoke_0", folders / "b")
    metrics = json.loads((folders / "b" / "metrics.json").read_text(encoding="utf-8"))
    metrics["labels_sha256"] = "0123456789abcdef"
    (folders / "b" / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    info = json.loads((folders / "b" / "run_info.json").read_text(encoding="utf-8"))
    (folders / "b" / "run_info.json").write_text(json.dumps({**info, "run_name": "b"}), encoding="utf-8")
    r = run_cli("compare", "--runs-dir", str(folders), "--format", "json")
    assert r.returncode == 0, r.stderr
    hashes = {row["name"]: row["config"].get("labels_sha256") for row in json.loads(r.stdout)}
    assert hashes["b"] == "01234567" and len(set(hashes.values())) == 2
    r = run_cli("compare", "--runs-dir", str(tmp / "runs"), "--format", "json")  # one label file: no column
    assert all("labels_sha256" not in row["config"] for row in json.loads(r.stdout))


def test_a_metric_no_run_has_is_refused_with_the_close_names(runs):
    tmp, _ = runs
    r = run_cli("compare", "--store", str(tmp / "mlflow.db"), "--metrics", "dev_joint_accuracy,dev_actor_macro_f")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "--metrics: no run has dev_actor_macro_f (close: " in r.stderr and "dev_actor_macro_f1" in r.stderr


def test_different_gold_sets_are_refused_unless_allowed(runs, tmp_path):
    from kpstance.run.pipeline import train
    from kpstance.track.compare import build_rows, runs_from_folders

    tmp, _ = runs
    other = tmp_path / "gold.jsonl"
    lines = GOLD.read_text(encoding="utf-8").splitlines()
    other.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # same labels, other bytes: other hash
    train(compose([*SMOKE, f"data.gold_path={other}", "task_name=smoke",
                   f"paths.output_dir={tmp_path / 'runs' / 'other'}"], tmp_path))
    import shutil

    shutil.copytree(tmp / "runs", tmp_path / "runs", dirs_exist_ok=True)
    runs_ = runs_from_folders(tmp_path / "runs")
    with pytest.raises(KpstanceError, match="different gold sets"):
        build_rows(runs_)
    data = build_rows(runs_, allow_mixed_gold=True)
    assert data["mixed_gold"]
    r = run_cli("compare", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2 and "different gold sets" in r.stderr


def test_columns_are_the_parameters_that_differ_and_blank_where_they_do_not_apply(tmp_path):
    """Four runs on the real schema (about 30 parameters each): a transformer at two learning rates, the rules and
    TF-IDF. Only system.name and trainer.lr differ; the rules and TF-IDF rows have no learning rate."""
    from omegaconf import OmegaConf

    from kpstance.config import validate
    from kpstance.track.compare import build_rows, render
    from kpstance.track.store import run_params

    def run(name, *overrides):
        cfg = validate(compose(["experiment=smoke", "evaluation.final_model=false", *overrides], tmp_path))
        params = {k: str(v) for k, v in run_params(OmegaConf.to_container(cfg)).items()}
        return {"name": name, "experiment": "smoke", "params": params, "metrics": {"dev_joint_accuracy": 0.5},
                "tags": {"gold_sha256": "g"}}

    runs = [run("fast", "trainer.lr=1e-3"), run("slow", "trainer.lr=1e-4"), run("rules", "system=rules"),
            run("tfidf", "system=tfidf", "system.c=2")]
    assert len(runs[0]["params"]) > 25
    data = build_rows(runs, ("dev_joint_accuracy",))
    assert data["config_keys"] == ["system.name", "trainer.lr"]
    config = {r["name"]: r["config"] for r in json.loads(render(data, "json"))}
    assert config == {"fast": {"system.name": "transformer", "trainer.lr": "0.001"},
                      "slow": {"system.name": "transformer", "trainer.lr": "0.0001"},
                      "rules": {"system.name": "rules"}, "tfidf": {"system.name": "tfidf"}}
    md = render(data, "markdown").splitlines()
    assert md[0] == "| run | experiment | system.name | trainer.lr | dev_joint_accuracy |"
    assert "| rules | smoke | rules |  | 0.500 |" in md
    # two TF-IDF runs: their own parameter differs, and shows on their rows only
    data = build_rows([*runs, run("tfidf4", "system=tfidf")], ("dev_joint_accuracy",))
    assert data["config_keys"] == ["system.c", "system.name", "trainer.lr"]
    assert {r["name"]: r["config"].get("system.c", "") for r in data["rows"]} == {
        "fast": "", "slow": "", "rules": "", "tfidf": "2.0", "tfidf4": "4.0"}
    # grouped by seed, each group a transformer and the rules: the learning rate is the transformer's alone
    data = build_rows([runs[0], runs[2], run("slow1", "trainer.lr=1e-4", "seed=1"), run("rules1", "system=rules",
                                                                                       "seed=1")],
                      ("dev_joint_accuracy",), group_by="seed")
    # each group pools a transformer and the rules: the system is shown as both, never dropped unmarked
    assert data["config_keys"] == ["system.name", "trainer.lr"]
    assert [r["config"] for r in data["rows"]] == [{"system.name": ["rules", "transformer"], "trainer.lr": "0.001"},
                                                   {"system.name": ["rules", "transformer"], "trainer.lr": "0.0001"}]
    assert "| {rules, transformer} | 0.001 |" in render(data, "markdown")


def test_a_group_shows_the_values_its_runs_differ_in_in_numeric_order():
    from kpstance.track.compare import build_rows, render

    runs = [{"name": f"r{s}", "experiment": "e", "params": {"seed": str(s), "trainer.lr": "0.001"},
             "metrics": {"dev_joint_accuracy": 0.5 + s / 100}, "tags": {"gold_sha256": "g"}} for s in (10, 2, 1)]
    runs.append({**runs[0], "name": "other", "experiment": "f", "params": {"seed": "0", "trainer.lr": "0.01"}})
    data = build_rows(runs, ("dev_joint_accuracy",), group_by="experiment")
    # an experiment of several runs is no baseline until they are one row
    with pytest.raises(KpstanceError, match=r"--baseline 'e' matches 3 rows .*--group-by experiment"):
        build_rows(runs, ("dev_joint_accuracy",), baseline="e")
    one = {r["name"]: r["delta"]["dev_joint_accuracy"] for r in build_rows(runs, ("dev_joint_accuracy",),
                                                                          baseline="f")["rows"]}
    assert one["other"] == 0 and one["r1"] == pytest.approx(-0.09)  # an experiment of one run: that run
    with pytest.raises(KpstanceError, match=r"--baseline 'r2' is one of the 3 runs of the group 'e': name the group"):
        build_rows(runs, ("dev_joint_accuracy",), group_by="experiment", baseline="r2")
    assert {r["name"]: r["config"] for r in data["rows"]} == {"e": {"seed": ["1", "2", "10"], "trainer.lr": "0.001"},
                                                             "f": {"seed": "0", "trainer.lr": "0.01"}}
    assert "| e | e | 3 | {1, 2, 10} | 0.001 |" in render(data, "markdown")
    # JSON keeps one type per field: the values a group's runs differ in are a list under config_values
    rows = {r["name"]: r for r in json.loads(render(data, "json"))}
    assert rows["e"]["config"] == {"trainer.lr": "0.001"} and rows["e"]["config_values"] == {"seed": ["1", "2", "10"]}
    assert rows["f"]["config"] == {"seed": "0", "trainer.lr": "0.01"} and "config_values" not in rows["f"]


def test_the_chart_gives_rates_where_lower_is_better_an_axis_of_their_own():
    from kpstance.track.compare import plot_panels

    rows = [{"metrics": {"test_stance_macro_f1": 0.75, "test_swap_stance_flip": 0.02, "test_counter_n": 156.0,
                         "test_joint_accuracy": float("nan")}}]
    data = {"rows": rows, "metrics": ["test_stance_macro_f1", "test_swap_stance_flip", "test_counter_n",
                                      "test_joint_accuracy"]}
    assert plot_panels(data) == [["test_stance_macro_f1", "test_joint_accuracy"], ["test_swap_stance_flip"],
                                 ["test_counter_n"]]
    rows.append({"metrics": {"test_stance_macro_f1": 0.7, "test_swap_stance_flip": 0.03, "test_counter_n": 91.0,
                             "test_joint_accuracy": 0.6, "test_swap_skipped": 193.0}})
    rows[0]["metrics"]["test_swap_skipped"] = 120.0
    assert plot_panels({**data, "metrics": [*data["metrics"], "test_swap_skipped"]})[1:] == [
        ["test_swap_stance_flip"], ["test_counter_n"], ["test_swap_skipped"]]  # a count is no rate
    assert plot_panels({**data, "metrics": ["test_swap_stance_flip"]}) == [["test_swap_stance_flip"]]


def test_multirun_two_jobs_gathered(tmp_path):
    r = train_py(tmp_path, "-m", "seed=0,1", "evaluation.final_model=false", "evaluation.swap=false", "logger=none")
    assert r.returncode == 0, r.stderr[-2000:]
    (sweep,) = (tmp_path / "outputs" / "smoke" / "multiruns").glob("*")
    rows = list(csv.DictReader((sweep / "sweep_metrics.csv").open()))
    assert [row["job"] for row in rows] == ["job0", "job1"]
    assert rows[0]["overrides"] == "seed=0" and float(rows[1]["test_joint_accuracy"]) >= 0


def test_optuna_composes_and_runs_two_trials(tmp_path):
    r = train_py(tmp_path, "hparams_search=optuna", "hydra.sweeper.n_trials=2", "evaluation.final_model=false",
                 "evaluation.swap=false", "logger=none")
    assert r.returncode == 0, r.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "smoke" / "multiruns").glob("*")
    assert (sweep / "optimization_results.yaml").is_file()
    assert len(list(sweep.glob("job*/metrics.json"))) == 2


@pytest.mark.parametrize("baseline", ["majority", "rules", "tfidf"])
def test_baseline_configs_on_smoke_data(tmp_path, baseline):
    from kpstance.run.pipeline import train

    cv = baseline != "tfidf"  # the folds are tested with the other two; refitting TF-IDF per fold is the slow part
    m = train(compose([f"experiment=baseline_{baseline}", f"evaluation.cv={cv}", "evaluation.swap=false",
                       "data.synthetic.n=48", "logger=none"], tmp_path))
    assert 0 <= m["joint_accuracy" if cv else "test_joint_accuracy"] <= 1 and "model_dir" not in m
    assert not any(k.endswith("swap_stance_flip") for k in m) and "test_stance_macro_f1" in m  # evaluation.swap=false
    preds = [json.loads(l) for l in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    if baseline == "rules":  # scored on the same folds, the rules baseline equals the rules columns
        assert m["joint_accuracy"] == m["rules_joint_accuracy"]
    if baseline == "majority":
        assert len({(p["cv_actor"], p["cv_stance"]) for p in preds if p["cv_fold"] == 0}) == 1


def test_setfit_baseline_runs_or_skips_clearly(tmp_path):
    r = train_py(tmp_path, "experiment=baseline_setfit", "data.synthetic.n=16", "trainer.epochs=1", "logger=none",
                 "system.iterations=1")
    try:
        import setfit  # noqa: F401
    except ImportError:
        assert r.returncode == 0 and "needs the optional package setfit" in r.stderr and "skipped" in r.stderr
        assert not list((tmp_path / "outputs").rglob("metrics.json"))
    else:
        assert r.returncode == 0, r.stderr[-2000:]


def test_logger_none_needs_no_mlflow(tmp_path):
    code = ("import sys; sys.modules['mlflow'] = None\n"
            "sys.path.insert(0, 'tests')\n"
            "from helpers import compose\n"
            "from kpstance.run.pipeline import train\n"
            f"m = train(compose(['experiment=smoke', 'logger=none'], __import__('pathlib').Path({str(tmp_path)!r})))\n"
            "assert 'mlflow_run_id' not in m\n")
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_sorting_puts_the_best_run_first_lowest_for_an_error_rate():
    """--sort test_stance_ece listed the run with the worst calibration first (a new user's trial, 2026-12-07)."""
    from kpstance.track.compare import build_rows

    runs = [{"name": n, "experiment": "e", "params": {"seed": str(i)}, "tags": {"gold_sha256": "g"},
             "metrics": {"test_joint_accuracy": acc, "test_stance_ece": ece}}
            for i, (n, acc, ece) in enumerate((("a", 0.6, 0.064), ("b", 0.7, 0.0136), ("c", 0.5, float("nan"))))]
    order = [r["name"] for r in build_rows(runs, ("test_joint_accuracy", "test_stance_ece"))["rows"]]
    assert order == ["b", "a", "c"]  # the last metric shown, an error rate: lowest first, unmeasured last
    order = [r["name"] for r in build_rows(runs, ("test_joint_accuracy", "test_stance_ece"),
                                           sort="test_joint_accuracy")["rows"]]
    assert order == ["b", "a", "c"]
    runs[1]["metrics"]["test_joint_accuracy"] = 0.4
    assert [r["name"] for r in build_rows(runs, ("test_joint_accuracy",))["rows"]] == ["a", "c", "b"]


def test_the_store_keeps_the_overrides_and_the_precision_a_rerun_needs(tmp_path):
    """The store held the run folder's top files only, so neither the overrides a run was started with nor the
    precision it trained in could be read from it (a new user's trial, 2026-12-07)."""
    from mlflow.tracking import MlflowClient

    from kpstance.track.store import log_run

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- seed=1\n")
    (run / "metrics.json").write_text("{}")
    cfg = {"name": "mlflow", "db_path": str(tmp_path / "m.db"), "artifact_root": str(tmp_path / "art"),
           "experiment_name": "x"}
    rid = log_run(cfg, {"seed": 1, "task_name": "x"}, {"dev_joint_accuracy": 0.5}, {"train_precision": "fp32"}, run,
                  "r")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}")
    assert {a.path for a in client.list_artifacts(rid, ".hydra")} == {".hydra/overrides.yaml"}
    assert client.get_run(rid).data.tags["train_precision"] == "fp32"


def test_a_searchs_table_keeps_every_override_and_names_the_best_job(tmp_path):
    """The table showed only the overrides that differed (a value both trials drew was lost, so a job could not be
    rebuilt from it) and did not say which job was best (a new user's trial, 2026-12-07)."""
    from kpstance.track.callbacks import gather

    for i, (lr, acc) in enumerate(((1e-4, 0.41), (2e-4, 0.47))):
        job = tmp_path / f"job{i}"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- trainer.lr={lr}\n- trainer.epochs=4\n- hparams_search=optuna\n")
        (job / "metrics.json").write_text(json.dumps({"dev_joint_accuracy": acc, "dev_swap_stance_flip": acc / 10}))
    rows = gather(tmp_path, "dev_joint_accuracy")
    assert [r["overrides"] for r in rows] == ["trainer.lr=0.0001", "trainer.lr=0.0002"]
    assert rows[0]["all_overrides"] == "trainer.lr=0.0001 trainer.epochs=4 hparams_search=optuna"
    assert [r["best"] for r in rows] == ["", "*"]
    assert [r["best"] for r in gather(tmp_path, "dev_swap_stance_flip")] == ["*", ""]  # lowest flip is best
    assert "best" not in gather(tmp_path)[0]  # no search, no pick
    assert (tmp_path / "sweep_metrics.csv").read_text().splitlines()[0].startswith("job,overrides,all_overrides")
