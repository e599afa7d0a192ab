"""The reliability promise for training: impossible values, a diverging or crashing run, Hydra's overrides, and
the run folders that ``kpstance report`` and ``kpstance compare`` accept (issue 17, section 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import ROOT, compose, load_script, run_dirs, train_py

from kpstance.errors import KpstanceError


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("kpstance: error: "), err[-2000:]
    return lines[0]


def train_script():
    """train.py as a module: its Hydra-decorated ``main(cfg)`` runs in this process when given a config."""
    return load_script(ROOT / "train.py", "kpstance_train_script")


# ---------------------------------------------------------------------------- impossible values


@pytest.fixture(scope="module")
def smoke_cfg(tmp_path_factory):
    return compose(["experiment=smoke"], tmp_path_factory.mktemp("cfg"))


@pytest.mark.parametrize("key, value, named", [
    ("trainer.batch_size", 0, None),
    ("seed", -1, None),
    ("seed", 2**32, None),
    ("trainer.epochs", 0, None),
    ("trainer.epochs", -2, None),
    ("trainer.max_steps", 0, None),
    ("trainer.lr", 0.0, None),
    ("trainer.lr", -1e-4, None),
    ("trainer.lr", float("nan"), None),
    ("trainer.lr", float("inf"), None),
    ("trainer.warmup_ratio", 1.5, None),
    ("trainer.weight_decay", -0.1, None),
    ("trainer.predict_batch_size", 0, None),
    ("trainer.checkpoint_every", -1, None),
    ("data.synthetic.n", -5, None),
    ("encoder.num_heads", 3, "encoder.hidden_size' and 'encoder.num_heads"),
])
def test_impossible_config_values_are_refused_naming_the_key(smoke_cfg, key, value, named):
    from omegaconf import OmegaConf

    from kpstance.config import validate

    cfg = smoke_cfg.copy()
    OmegaConf.update(cfg, key, value)
    with pytest.raises(KpstanceError, match=f"config keys? '{named or key}'"):
        validate(cfg)


def test_a_sound_config_passes_the_range_checks(smoke_cfg):
    from omegaconf import OmegaConf

    from kpstance.config import validate

    cfg = smoke_cfg.copy()
    for key, value in (("seed", 2**32 - 1), ("trainer.max_steps", -1), ("trainer.epochs", 1),
                       ("trainer.max_grad_norm", None), ("trainer.num_threads", None)):
        OmegaConf.update(cfg, key, value)
    assert validate(cfg).seed == 2**32 - 1


def test_refused_value_with_output_dir_is_one_line_and_leaves_no_folder_anywhere(tmp_path):
    """Hydra's run folder follows paths.output_dir, so a refused run leaves neither it nor one under outputs/."""
    mine = tmp_path / "mine"
    r = train_py(tmp_path, "trainer.batch_size=0", f"paths.output_dir={mine}")
    assert r.returncode == 2
    assert "config key 'trainer.batch_size': must be at least 1, got 0" in one_line(r.stderr)
    assert not (tmp_path / "outputs").exists() and not mine.exists() and not (tmp_path / "models").exists()


# ---------------------------------------------------------------------------- a run that diverges or crashes

FAST = ["evaluation.cv=false", "data.multisource.train=false"]  # straight to the final model, on less data


def test_diverging_training_saves_no_model_keeps_latest_and_marks_the_run_failed(tmp_path, capsys):
    models = tmp_path / "models"
    (models / "previous").mkdir(parents=True)
    (models / "smoke").mkdir()
    (models / "smoke" / "latest").symlink_to("../previous")
    cfg = compose(["experiment=smoke", *FAST, "trainer.lr=1e30", f"paths.log_dir={tmp_path}"], tmp_path)
    with pytest.raises(SystemExit) as exit_:
        train_script().main(cfg)
    assert exit_.value.code == 2
    assert "training loss is nan" in one_line(capsys.readouterr().err)
    assert sorted(p.name for p in models.iterdir()) == ["previous", "smoke"]  # no model saved, not even hidden
    assert (models / "smoke" / "latest").resolve() == (models / "previous").resolve()
    failed = json.loads((tmp_path / "run" / "failed.json").read_text())
    assert failed["error"] == "KpstanceError" and "diverged" in failed["message"]
    assert not (tmp_path / "run" / "metrics.json").exists() and not (tmp_path / "run" / "run_info.json").exists()



def test_zero_training_steps_never_return_a_model(tmp_path, units, scheme):
    """Behind the config check: fine_tune itself refuses to return a model that took no step."""
    from omegaconf import OmegaConf

    from kpstance.config import validate
    from kpstance.systems.encoder import build
    from kpstance.systems.finetune import fine_tune
    from kpstance.systems.heads import HeadLayout

    cfg = validate(compose(["experiment=smoke"], tmp_path))
    trainer = OmegaConf.merge(cfg.trainer, {"epochs": 0, "max_steps": -1, "mask_pair_weight": 0.0})
    layout = HeadLayout.from_scheme(scheme)
    texts = [u.text for u in units[:8]]
    model, tokenizer = build(cfg.encoder, layout.id2label(), texts)
    with pytest.raises(KpstanceError, match="no training step ran"):
        fine_tune(model, tokenizer, texts, [0] * 8, [0] * 8, layout, trainer, 0)


def test_a_run_that_fails_while_tracking_leaves_latest_and_its_checkpoints(tmp_path, monkeypatch):
    """``latest`` used to move as soon as the model was saved, before metrics and tracking: a run that then failed
    (a store that broke, a kill) left ``latest`` on its model and its checkpoints deleted."""
    import kpstance.track.store as store

    def broken(*args, **kwargs):
        raise RuntimeError("the store broke")

    monkeypatch.setattr(store, "log_run", broken)
    models = tmp_path / "models"
    (models / "previous").mkdir(parents=True)
    (models / "smoke").mkdir()
    (models / "smoke" / "latest").symlink_to("../previous")
    cfg = compose(["experiment=smoke", *FAST, "logger=mlflow", f"logger.db_path={tmp_path / 'm.db'}",
                   f"logger.artifact_root={tmp_path / 'art'}", "update_latest=true", f"paths.log_dir={tmp_path}"],
                  tmp_path)
    with pytest.raises(RuntimeError, match="the store broke"):
        train_script().main(cfg)
    run = tmp_path / "run"
    assert (run / "metrics.json").is_file() and not (run / "run_info.json").exists()
    assert json.loads((run / "failed.json").read_text())["message"] == "the store broke"
    assert (models / "smoke" / "latest").resolve() == (models / "previous").resolve()
    assert (models / "latest").is_symlink() is False and (run / "checkpoints").is_dir()


def _run_with_training(tmp_path, monkeypatch, stub):
    """The smoke run as train.py's ``main`` runs it, with ``fine_tune`` replaced by ``stub``."""
    import kpstance.systems.finetune as finetune

    monkeypatch.setattr(finetune, "fine_tune", stub)
    train_script().main(compose(["experiment=smoke", *FAST, f"paths.log_dir={tmp_path}"], tmp_path))


def test_ctrl_c_is_one_line_and_marks_the_run_folder(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_:
        _run_with_training(tmp_path, monkeypatch, interrupted)
    assert exit_.value.code == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        "kpstance: interrupted; the run folder is marked failed.json (resume=true continues it)"]
    assert json.loads((tmp_path / "run" / "failed.json").read_text())["error"] == "KeyboardInterrupt"


def test_a_damaged_mlflow_store_is_refused_before_training(tmp_path):
    """It used to be found after the whole training, with a traceback from SQLAlchemy."""
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not sqlite", encoding="utf-8")
    r = train_py(tmp_path, "logger=mlflow", f"logger.db_path={garbage}", f"logger.artifact_root={tmp_path / 'a'}")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{garbage}: not an SQLite database" in one_line(r.stderr)
    assert not (tmp_path / "models").exists() and not (tmp_path / "outputs").exists()
    r = train_py(tmp_path, "logger=mlflow", f"logger.db_path={tmp_path / 'nowhere' / 'm.db'}")
    assert r.returncode == 2 and "logger.db_path': its folder does not exist" in one_line(r.stderr)
    assert not (tmp_path / "outputs").exists()


def test_a_run_folder_that_holds_a_run_is_refused_before_hydra_writes_into_it(tmp_path):
    """``paths.output_dir`` pointed at a finished run used to overwrite its config, metrics and model in silence."""
    from kpstance.config import taken_run_dir

    old = tmp_path / "old"
    old.mkdir()
    assert taken_run_dir([f"paths.output_dir={old}"]) is None  # an empty folder is fine
    (old / "metrics.json").write_text("{}", encoding="utf-8")
    for argv in ([f"paths.output_dir={old}"], [f"hydra.run.dir={old}", "seed=1"]):
        assert f"{old} holds a run already (metrics.json)" in taken_run_dir(argv)
    # resume=true continues another folder, and Hydra would still write into this one; resume=THIS folder may
    assert "holds a run already" in taken_run_dir([f"paths.output_dir={old}", "resume=true"])
    assert taken_run_dir([f"paths.output_dir={old}", f"resume={old}"]) is None
    assert taken_run_dir(["-m", f"hydra.sweep.dir={old}", "seed=0,1"]) is None
    before = {p.name for p in old.iterdir()}
    r = subprocess_train(tmp_path, f"paths.output_dir={old}")
    assert r.returncode == 2 and "holds a run already" in one_line(r.stderr)
    assert {p.name for p in old.iterdir()} == before  # no .hydra/ or train.log written into it


def subprocess_train(tmp_path, *overrides):
    import subprocess
    import sys

    return subprocess.run([sys.executable, str(ROOT / "train.py"), "experiment=smoke", "logger=none",
                           f"paths.models_dir={tmp_path / 'models'}", *overrides], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("override, message", [
    ("optimized_metric=dev_joint_acc", "'dev_joint_acc' is no metric a run writes"),
    ("system=rules", "system=rules is a baseline and saves no model: set evaluation.final_model=false"),
])
def test_a_config_a_search_or_sweep_would_fail_on_late_is_refused_at_validation(smoke_cfg, override, message):
    from omegaconf import OmegaConf

    from kpstance.config import validate

    key, value = override.split("=")
    cfg = OmegaConf.to_container(smoke_cfg)
    if key == "system":
        cfg["system"] = {"name": value}
    else:
        cfg[key] = value
    with pytest.raises(KpstanceError, match=message):
        validate(cfg)


def test_a_sweep_over_a_baseline_that_saves_no_model_stops_before_any_job_trains(tmp_path):
    """``-m system=transformer,rules``: job 0 used to train before job 1 was refused."""
    r = train_py(tmp_path, "-m", "system=transformer,rules")
    assert r.returncode == 2 and "a job of the sweep (system=rules) is refused" in one_line(r.stderr)
    assert not (tmp_path / "models").exists()


def test_a_crash_marks_the_run_folder_failed_and_is_raised(tmp_path, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail")

    with pytest.raises(RuntimeError, match="out of memory"):
        _run_with_training(tmp_path, monkeypatch, out_of_memory)
    failed = json.loads((tmp_path / "run" / "failed.json").read_text())
    assert failed == {"error": "RuntimeError", "message": "CUDA out of memory. Tried to allocate 2.00 GiB"}
    assert not (tmp_path / "models").exists()


def test_sigterm_during_training_marks_the_run_folder_and_exits_143(tmp_path, monkeypatch, capsys):
    """`kill`, `timeout` or a scheduler's stop (SIGTERM) mid-run: the folder is marked failed.json, as after a
    crash, instead of being left looking like a run in progress; no model is saved."""
    import os
    import signal

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the run")

    with pytest.raises(SystemExit) as exit_:
        _run_with_training(tmp_path, monkeypatch, killed)
    assert exit_.value.code == 143
    assert capsys.readouterr().err.strip().splitlines() == [
        "kpstance: terminated by SIGTERM; the run folder is marked failed.json"]
    failed = json.loads((tmp_path / "run" / "failed.json").read_text())
    assert failed == {"error": "Terminated", "message": "terminated by SIGTERM"}
    assert not (tmp_path / "models").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is the run's only


def test_sigterm_is_left_to_a_handler_someone_else_installed(monkeypatch):
    """A job launcher's own SIGTERM handler (submitit requeues on its signals) is not replaced."""
    import signal

    from kpstance.errors import sigterm_raises

    seen = []
    monkeypatch.setattr(signal, "getsignal", lambda s: seen.append(s) or (lambda *a: None))
    calls = []
    monkeypatch.setattr(signal, "signal", lambda *a: calls.append(a))
    with sigterm_raises():
        pass
    assert seen == [signal.SIGTERM] and calls == []


def test_a_crash_before_the_run_wrote_anything_leaves_no_folder(tmp_path):
    from omegaconf import OmegaConf

    from kpstance.run.cleanup import mark_failed

    run = tmp_path / "outputs" / "smoke" / "runs" / "t1"
    (run / ".hydra").mkdir(parents=True)
    (run / "train.log").write_text("")
    cfg = OmegaConf.create({"paths": {"output_dir": str(run), "log_dir": str(tmp_path / "outputs")}})
    assert mark_failed(cfg, RuntimeError("boom")) is None
    assert not (tmp_path / "outputs").exists()


def test_resume_takes_up_a_failed_run_and_clears_its_mark(tmp_path):
    from kpstance.run.resume import check_same_config, find_resume_dir

    runs = tmp_path / "outputs" / "smoke" / "runs"
    for name, files in (("done", ("config.yaml", "metrics.json", "run_info.json")), ("crashed", ("config.yaml", "failed.json")),
                        ("killed_after_metrics", ("config.yaml", "metrics.json"))):
        (runs / name).mkdir(parents=True)
        for f in files:
            (runs / name / f).write_text("seed: 0\n" if f == "config.yaml" else "{}")
    cfg = {"resume": True, "task_name": "smoke", "paths": {"log_dir": str(tmp_path / "outputs"),
                                                             "output_dir": str(tmp_path / "new")}}
    from omegaconf import OmegaConf

    assert find_resume_dir(OmegaConf.create(cfg)).name in ("crashed", "killed_after_metrics")  # not the finished one
    with pytest.raises(KpstanceError, match="config differs"):
        check_same_config(runs / "crashed", "seed: 1\n")
    assert (runs / "crashed" / "failed.json").is_file()  # a refused resume leaves the mark
    check_same_config(runs / "crashed", "seed: 0\n")
    assert not (runs / "crashed" / "failed.json").exists()


# ---------------------------------------------------------------------------- Hydra's overrides


@pytest.mark.parametrize("override, expected", [
    ("foo=1", "unknown config key 'foo' (top-level keys: data, encoder"),
    ("trainer.learning_rate=1e-4", "unknown config key 'trainer.learning_rate' (nearest: trainer.lr)"),
    ("experiment=smokee", "config group 'experiment' has no option 'smokee' (nearest: smoke)"),
])
def test_unknown_key_or_option_is_one_line_exit_2_before_hydra_runs(tmp_path, override, expected):
    r = train_py(tmp_path, override)
    assert r.returncode == 2
    line = one_line(r.stderr)
    assert expected in line and f"'{override}'" in line
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("argv, expected", [
    (["-m", "seed=0,1", "trainer.lr=1e-4"], None),
    (["hparams_search=optuna", "hydra.sweeper.n_trials=2"], None),
    (["+trainer.learning_rate=0.1"], None),  # adding a key is Hydra's and validate's to judge
    (["experiment=smoke,baseline_rules", "experiment=ablation/rules", "data=corpus", "data.corpus.path=x"], None),
    (["labels.actors.china.aliases=[China,Moscow]", "system.c=2", "encoder.vocab_size=50", "experiment=null"], None),
    (["hydra/launcher=submitit_slurm", "~trainer.num_threads", "system=base_rules"], None),
    (["seed=0,1", "trainer.bach_size=8"], "nearest: trainer.batch_size"),
    (["system.foo=1"], "keys of system: blind_stance, c, context, iterations, name, ngram_max, speaker_average"),
    (["encoder=minilmm"], "config group 'encoder' has no option 'minilmm' (nearest: minilm)"),
    (["system=transfomer"], "config group 'system' has no option 'transfomer' (nearest: transformer)"),
    (["-m", "experiment=smoke,fulll"], "no option 'fulll' (nearest: full"),
])
def test_override_check_keeps_valid_forms_and_names_the_nearest(argv, expected):
    from kpstance.config import unknown_override

    found = unknown_override(argv, ROOT / "configs")
    assert found is None if expected is None else expected in found


@pytest.mark.parametrize("argv, expected", [
    (["system.ngram_max=2"], "'system.ngram_max=2': the system option of this run, 'transformer', has no key "
                             "'ngram_max' (its keys here: name, context, blind_stance, speaker_average;"),
    (["experiment=smoke", "encoder.name_or_path=x"], "the encoder option of this run, 'tiny_bert', has no key"),
    (["-m", "system.c=1,2"], "'system.c=1,2': the system option of this run, 'transformer', has no key 'c'"),
    (["system=tfidf", "system.ngram_max=2", "evaluation.final_model=false"], None),
    (["experiment=smoke", "encoder.num_layers=1", "trainer.lr=abc"], None),  # a bad value: validate's message
    (["-m", "system=tfidf,transformer", "system.c=1", "evaluation.final_model=false"], None),  # sweep_problem's
])
def test_a_key_the_selected_group_option_lacks_is_named_with_that_option(argv, expected):
    """The schema knows ``system.ngram_max`` (tfidf's), so the unknown-key check lets it pass, and Hydra used to
    stop on it with its own message of several lines and exit 1."""
    from kpstance.config import unselected_key

    found = unselected_key(argv, ROOT / "configs")
    assert found is None if expected is None else expected in found and "\n" not in found


def test_a_label_file_kept_outside_the_checkout_is_an_option_where_hydra_is_told_of_its_folder(tmp_path):
    """Hydra finds ``labels=mine`` in a folder given by --config-dir or hydra.searchpath; the check before Hydra
    used to look in the project's configs/ alone and refuse it. A broken YAML file there is named as in configs/."""
    import shutil

    train = train_script()
    (tmp_path / "conf" / "labels").mkdir(parents=True)
    mine = tmp_path / "conf" / "labels" / "mine.yaml"
    shutil.copy(ROOT / "configs" / "labels" / "korean_peninsula.yaml", mine)
    conf = str(tmp_path / "conf")
    for argv in (["--config-dir", conf, "labels=mine"], [f"--config-dir={conf}", "labels=mine"],
                 ["-cd", conf, "labels=mine"], [f"hydra.searchpath=[file://{conf}]", "labels=mine"]):
        assert train.check_overrides(argv) is None, argv
    assert "config group 'labels' has no option 'mine'" in train.check_overrides(["labels=mine"])
    mine.write_text("actors: [\n", encoding="utf-8")
    assert train.check_overrides(["-cd", conf, "labels=mine"]).startswith(f"{mine}:")


def test_a_label_file_in_another_config_folder_is_named_with_its_line_when_it_is_wrong(tmp_path):
    """An error in a label file found through --config-dir named configs/labels/<name>.yaml, a file that is not
    there, and so no line; it names the file Hydra read, with the line of the key at fault."""
    (tmp_path / "conf" / "labels").mkdir(parents=True)
    mine = tmp_path / "conf" / "labels" / "mine.yaml"
    text = (ROOT / "configs" / "labels" / "korean_peninsula.yaml").read_text(encoding="utf-8")
    mine.write_text(text.replace("\ntitles:", "\ntitels:", 1), encoding="utf-8")
    line = mine.read_text(encoding="utf-8").splitlines().index(next(
        x for x in mine.read_text(encoding="utf-8").splitlines() if x.startswith("titels:"))) + 1
    r = train_py(tmp_path, f"--config-dir={tmp_path / 'conf'}", "labels=mine")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert one_line(r.stderr).endswith(f"{mine}:{line}: unknown key 'titels' (allowed at the top level: name, "
                                       "description, none_actor, stances, stance_roles, actors, names, "
                                       "non_state_sources, titles, official_nouns, attribution, grammar, "
                                       "situation_subjects, stance_cues, directions)")
    assert not run_dirs(tmp_path) and not (tmp_path / "models").exists()


def test_a_template_file_mistake_stops_the_run_before_its_folder_is_made(tmp_path):
    """An unknown slot in a template was found only while the corpus was generated, with the run folder made and
    marked failed (a new user's trial, 2026-12-07); the file is now read before."""
    text = (ROOT / "configs" / "synthetic" / "korean_peninsula.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "t.yaml"
    bad.write_text(text.replace("\ntemplates:\n", "\ntemplates:\n  - {pattern: \"{A} visited {citys}.\", actor: A, "
                                "stance: neutral}\n", 1), encoding="utf-8")
    r = train_py(tmp_path, f"data.synthetic.templates={bad}")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "t.yaml:" in one_line(r.stderr) and "templates[0]: unknown slot '{citys}'" in one_line(r.stderr)
    assert not run_dirs(tmp_path) and not (tmp_path / "models").exists()


def test_a_sweep_whose_later_job_lacks_a_key_stops_before_any_job_trains(tmp_path):
    r = train_py(tmp_path, "-m", "system=tfidf,transformer", "system.c=1", "evaluation.final_model=false")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    line = one_line(r.stderr)
    assert "a job of the sweep (system=transformer) is refused before any job runs" in line
    assert "'system.c=1': the system option of this run, 'transformer', has no key 'c'" in line
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "models").exists()


def test_a_config_file_that_is_not_yaml_is_one_line_naming_its_line(tmp_path):
    """A label file being adapted to another conflict, left with a syntax slip: Hydra's own loader would stop on it
    with a traceback of 89 lines; the check before Hydra names the file and line."""
    import shutil

    from kpstance.config import broken_config_file

    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs)
    assert broken_config_file(configs) is None
    labels = configs / "labels" / "korean_peninsula.yaml"
    lines = labels.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "broken: [one, two: three")
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = broken_config_file(configs)
    assert found is not None and "\n" not in found
    assert found.startswith(f"{labels}:") and "not valid YAML" in found
    # a draft label file that this run does not select, or a broken file of a folder Hydra never loads, stops nothing
    (configs / "labels" / "draft.yaml").write_text("broken: [one, two: three\n", encoding="utf-8")
    (configs / "synthetic" / "draft.yaml").write_text("broken: [one, two: three\n", encoding="utf-8")
    assert broken_config_file(configs, labels={"draft"}).startswith(f"{configs / 'labels' / 'draft.yaml'}:")
    labels.write_text("\n".join(lines[:3] + lines[4:]) + "\n", encoding="utf-8")
    assert broken_config_file(configs) is None
    from kpstance.config import selected_labels

    assert selected_labels(["seed=1", "labels=draft"]) == {"draft", "korean_peninsula"}
    assert selected_labels(["-m", "labels=a,b"]) == {"a", "b", "korean_peninsula"}  # a sweep's values
    # an experiment file that selects it names it too: then it is checked (the draft no run names is not)
    (configs / "experiment" / "mine.yaml").write_text("# @package _global_\ndefaults:\n  - override /labels: draft\n")
    assert "draft" in selected_labels(["experiment=mine"], [configs])
    assert broken_config_file(configs, selected_labels(["experiment=mine"], [configs])) is not None


@pytest.mark.parametrize("overrides, key", [
    (["data=corpus", "data.corpus.path=/nonexistent/wire"], "data.corpus.path': folder not found"),
    (["data.synthetic.templates=/nonexistent/t.yaml"], "data.synthetic.templates': file not found"),
    (["data.teacher.pool_files=[/nonexistent/pool.jsonl]"], "data.teacher.pool_files': file not found"),
])
def test_a_missing_input_path_is_refused_before_the_run_folder_is_made(tmp_path, overrides, key):
    """These inputs are opened late, after the run folder exists: a typo used to leave a folder marked failed."""
    r = train_py(tmp_path, *overrides)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert key in one_line(r.stderr) and "/nonexistent/" in r.stderr
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "models").exists()


def test_a_sweep_value_a_job_would_refuse_stops_the_sweep_before_any_job_trains(tmp_path):
    """Hydra composes a job only when it runs it: job 0 used to train to its end before job 1's bad value stopped
    the sweep."""
    r = train_py(tmp_path, "-m", "trainer.lr=1e-3,abc", "seed=0")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    line = one_line(r.stderr)
    assert "a job of the sweep (trainer.lr=abc) is refused before any job runs" in line and "'trainer.lr'" in line
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "models").exists()


def test_an_empty_list_of_labeling_functions_is_refused_not_read_as_all(tmp_path):
    r = train_py(tmp_path, "rules.stance_lfs=[]")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "rules.stance_lfs is empty: name at least one labeling function" in one_line(r.stderr)
    assert not (tmp_path / "outputs").exists()


# ---------------------------------------------------------------------------- report and compare on run folders


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    from kpstance.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def two_runs(smoke_run, tmp_path):
    """Two copies of the smoke run's folder under runs/."""
    for name in ("a", "b"):
        shutil.copytree(smoke_run["tmp"] / "run", tmp_path / "runs" / name)
    return tmp_path / "runs"


def test_report_refuses_a_run_that_did_not_finish(two_runs, capsys):
    (two_runs / "a" / "run_info.json").unlink()  # killed during the model save: the marker never came
    code, out, err = cli(capsys, "report", str(two_runs / "a"))
    assert code == 2 and out == ""
    assert "did not finish (no run_info.json)" in one_line(err) and str(two_runs / "a") in err
    assert cli(capsys, "report", str(two_runs / "b"))[0] == 0
    code, out, err = cli(capsys, "report", str(two_runs / "typo"))  # a folder that is not there says so
    assert code == 2 and one_line(err).endswith(f"{two_runs / 'typo'}: no such folder (give a run folder under "
                                                "outputs/, e.g. outputs/default/runs/<run>)")
    # a run stopped on an error, and a model folder, are named for what they are, not for a missing report.json
    (two_runs / "stopped").mkdir()
    (two_runs / "stopped" / "failed.json").write_text('{"error": "Terminated", "message": "terminated by SIGTERM"}')
    code, out, err = cli(capsys, "report", str(two_runs / "stopped"))
    assert code == 2 and one_line(err).endswith("stopped: the run failed (Terminated: terminated by SIGTERM), so it "
                                                "has no report")
    model = two_runs / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"")
    (model / "kpstance.json").write_text(json.dumps({"run_name": "smoke_x", "run_dir": str(two_runs / "b")}))
    code, out, err = cli(capsys, "report", str(model))
    assert code == 2 and one_line(err).endswith(f"model: a model folder, not a run folder: its run's folder is "
                                                f"{two_runs / 'b'}")
    (model / "kpstance.json").write_text('{"run_name": "smoke_x"}')  # a model saved before run_dir was kept
    assert one_line(cli(capsys, "report", str(model))[2]).endswith("not a run folder (of run smoke_x)")


def test_compare_skips_unfinished_run_folders_with_one_warning(two_runs, capsys):
    (two_runs / "a" / "run_info.json").unlink()
    (two_runs / "c").mkdir()  # a run refused or killed before metrics: config only
    (two_runs / "c" / "config.yaml").write_text("task_name: smoke\n")
    code, out, err = cli(capsys, "compare", "--runs-dir", str(two_runs), "--format", "json")
    assert code == 0 and len(json.loads(out)) == 1  # b alone
    assert err.strip().splitlines() == [f"kpstance: warning: 2 unfinished run folder(s) under {two_runs} skipped "
                                        "(no run_info.json)"]


@pytest.mark.parametrize("name, content", [("metrics.json", '{"dev_joint_accuracy": 0.'),
                                           ("metrics.json", "[1, 2]"), ("run_info.json", "\x00\x01"),
                                           ("config.yaml", "seed: [unclosed")])
def test_compare_on_a_corrupt_run_file_is_one_line_naming_it(two_runs, capsys, name, content):
    (two_runs / "b" / name).write_text(content)
    code, out, err = cli(capsys, "compare", "--runs-dir", str(two_runs))
    assert code == 2 and out == ""
    assert str(two_runs / "b" / name) in one_line(err)


@pytest.mark.parametrize("content", [b"", b"id,name\n1,run\n", b"SQLite format 2\x00" + bytes(100)])
def test_compare_store_that_is_not_sqlite_is_one_line_naming_it(tmp_path, capsys, content):
    store = tmp_path / "runs.csv"
    store.write_bytes(content)
    code, out, err = cli(capsys, "compare", "--store", str(store))
    assert code == 2 and out == ""
    assert f"{store}: not an SQLite database" in one_line(err)
    assert store.read_bytes() == content  # untouched: MLflow never opened it


def _rerun_script():
    return load_script(ROOT / "scripts" / "rerun.py")


def test_rerun_leaves_out_the_search_and_pins_the_precision(tmp_path):
    """A job of a search listed 'hparams_search=optuna' among its overrides, so the README's recipe started a new
    search of 20 trials; and 'auto' precision resolves by the machine (a new user's trial, 2026-12-07)."""
    import sys

    run = tmp_path / "job0"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(
        "- trainer.lr=0.0002\n- hparams_search=optuna\n- experiment=smoke\n- paths.output_dir=/x/job0\n- resume=true\n")
    rerun = _rerun_script()
    with pytest.raises(KpstanceError, match="the run did not finish"):
        rerun.rerun_command(run)
    (run / "run_info.json").write_text('{"train_precision": "fp32"}')
    assert rerun.rerun_command(run) == [sys.executable, str(ROOT / "train.py"), "trainer.lr=0.0002",
                                        "experiment=smoke", "trainer.precision=fp32"]


def test_a_run_trained_again_from_its_folder_gives_the_same_metrics(tmp_path):
    """The README's promise, end to end: a smoke run, then the command scripts/rerun.py builds from its folder."""
    import subprocess

    first = train_py(tmp_path, "seed=3")
    assert first.returncode == 0, first.stderr[-2000:]
    (run,) = run_dirs(tmp_path)
    cmd = _rerun_script().rerun_command(run)
    assert cmd[-1].startswith("trainer.precision=") and "seed=3" in cmd
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    runs = run_dirs(tmp_path)
    assert len(runs) == 2
    a, b = (json.loads((r / "metrics.json").read_text()) for r in runs)
    assert a == b


def test_the_commit_recorded_is_that_of_the_code_imported(tmp_path, caplog):
    """A virtual environment installed (editable) from one checkout trains that checkout's code from any folder; the
    run recorded the git state of the folder it was started in (a new user's trial, 2026-12-07)."""
    import kpstance
    from kpstance.run.prepare import code_checkout

    if Path(kpstance.__file__).resolve().parents[2] != ROOT.resolve() or not (ROOT / ".git").exists():
        pytest.skip("kpstance is not imported from this checkout's src/ (an editable install of a git checkout)")
    with caplog.at_level("WARNING", logger="kpstance"):
        assert code_checkout(ROOT) == ROOT
    assert "imported from" not in caplog.text
    with caplog.at_level("WARNING", logger="kpstance"):
        assert code_checkout(tmp_path) == ROOT  # the code that runs is this checkout's, whatever the folder
    assert f"imported from {ROOT / 'src' / 'kpstance'}, not from the project folder {tmp_path}" in caplog.text


def test_resuming_under_the_precision_variable_accepts_a_run_saved_as_auto(tmp_path, monkeypatch):
    """A run saved with trainer.precision auto (before the variable's choice was written into the config) resumed
    with $KPSTANCE_PRECISION set reads fp32 now: the same precision, not a changed config (the code review)."""
    from kpstance.run.resume import check_same_config

    (tmp_path / "config.yaml").write_text("seed: 0\ntrainer:\n  precision: auto\n")
    monkeypatch.setenv("KPSTANCE_PRECISION", "fp32")
    check_same_config(tmp_path, "seed: 0\ntrainer:\n  precision: fp32\n")
    with pytest.raises(KpstanceError, match="config differs from the interrupted run at 'trainer.precision'"):
        check_same_config(tmp_path, "seed: 0\ntrainer:\n  precision: bf16\n")
    monkeypatch.delenv("KPSTANCE_PRECISION")
    with pytest.raises(KpstanceError, match="config differs from the interrupted run at 'trainer.precision'"):
        check_same_config(tmp_path, "seed: 0\ntrainer:\n  precision: fp32\n")
