"""Crash safety, resume, determinism, config validation, no network, and fuzzing."""

from __future__ import annotations

import json
import signal
import socket

import pytest
from helpers import EVERY_STAGE, compose, run_dirs, train_py
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_same_seed_gives_identical_metrics_and_predictions(smoke_run, tmp_path):
    from kpstance.run.pipeline import train

    train(compose(["experiment=smoke", *EVERY_STAGE], tmp_path))  # as the shared run was trained
    first, second = smoke_run["tmp"] / "run", tmp_path / "run"
    assert (first / "metrics.json").read_bytes() == (second / "metrics.json").read_bytes()
    assert (first / "predictions.jsonl").read_bytes() == (second / "predictions.jsonl").read_bytes()


def test_resume_after_sigkill_ends_with_the_same_metrics(smoke_run, tmp_path):
    r = train_py(tmp_path, *EVERY_STAGE, env={"KPSTANCE_FAULT": "after_checkpoint:fold 3/5:2"})
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    (interrupted,) = run_dirs(tmp_path)
    assert not (interrupted / "metrics.json").exists()
    assert (interrupted / "checkpoints" / "fold1.json").is_file()  # folds 1 and 2 finished
    assert (interrupted / "checkpoints" / "fold2" / "state.json").is_file()  # fold 3 stopped mid-way
    assert not (tmp_path / "models" / "smoke" / "latest").exists()
    r = train_py(tmp_path, *EVERY_STAGE, "resume=true")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resumed from step 2" in (interrupted / "train.log").read_text() or "resumed from step 2" in r.stdout + r.stderr
    assert (interrupted / "metrics.json").read_bytes() == (smoke_run["tmp"] / "run" / "metrics.json").read_bytes()
    assert (tmp_path / "models" / "smoke" / "latest").is_symlink()


def test_resume_refuses_a_different_config(tmp_path):
    r = train_py(tmp_path, "evaluation.cv=true", env={"KPSTANCE_FAULT": "after_fold:0"})
    assert r.returncode == -signal.SIGKILL
    r = train_py(tmp_path, "evaluation.cv=true", "resume=true", "trainer.lr=0.5")
    assert r.returncode == 2 and "config differs from the interrupted run at 'trainer.lr'" in r.stderr


def test_sigkill_while_saving_keeps_the_previous_model(tmp_path):
    from kpstance import StancePredictor

    fast = ("evaluation.cv=false", "evaluation.swap=false")  # the save is what is tested
    assert train_py(tmp_path, *fast).returncode == 0
    latest = tmp_path / "models" / "smoke" / "latest"
    before = latest.resolve()
    r = train_py(tmp_path, *fast, env={"KPSTANCE_FAULT": "in_save"})
    assert r.returncode == -signal.SIGKILL
    assert latest.resolve() == before
    StancePredictor.load(latest).predict(["Seoul urged calm."])
    visible = [p for p in (tmp_path / "models").iterdir() if not p.name.startswith(".")]
    assert sorted(p.name for p in visible) == sorted(["smoke", before.name])


def test_two_runs_started_together_use_two_folders(tmp_path):
    procs = [train_py(tmp_path, "evaluation.cv=false", "evaluation.swap=false", wait=False) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    dirs = run_dirs(tmp_path)
    assert len(dirs) == 2 and all((d / "metrics.json").is_file() for d in dirs)
    assert len([p for p in (tmp_path / "models").iterdir() if p.name != "smoke"]) == 2


@pytest.mark.parametrize("override, message", [
    ("trainer.lr=fast", "config key 'trainer.lr'"),
    ("+trainer.learning_rate=0.1", "config key 'trainer.learning_rate'"),
    ("trainer.precision=fp8", "config key 'trainer.precision'"),
    ("trainer.device=tpu", "config key 'trainer.device'"),
])
def test_bad_config_value_is_one_line_exit_2(tmp_path, override, message):
    r = train_py(tmp_path, override)
    assert r.returncode == 2, r.stderr[-2000:]
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "models").exists()


def test_smoke_training_and_predict_without_network(tmp_path, monkeypatch):
    from kpstance import StancePredictor
    from kpstance.run.pipeline import train

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    m = train(compose(["experiment=smoke"], tmp_path))
    StancePredictor.load(m["model_dir"]).predict(["Beijing urged restraint."])


text_strategy = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=2000),
    st.text(alphabet='"“”«» \n.!?', max_size=80),
    st.text(alphabet=st.characters(whitelist_categories=("Cc", "Zs", "Zl", "Zp")), max_size=60),
    st.builds(lambda w, n: " ".join([w] * n), st.text(min_size=1, max_size=12), st.integers(1, 400)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_strategy)
def test_segmenter_never_crashes_and_covers_every_line(text):
    from kpstance.text.segment import segment_article

    units = segment_article(text, "fuzz")
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")]
    nonblank = [i for i, ln in enumerate(ln for ln in lines if ln)]
    assert sorted({u.paragraph - 1 for u in units}) == nonblank
    assert all(u.text.strip() for u in units)
    assert len({u.id for u in units}) == len(units)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.lists(text_strategy, min_size=1, max_size=6))
def test_predictor_never_crashes(smoke_predictor, texts):
    """Any text gets labels; a blank one is refused by name, as the CLI refuses such a line (it used to get
    none / neutral, a label for no text)."""
    from kpstance.errors import KpstanceError

    blank = next((i for i, t in enumerate(texts) if not t.strip()), None)
    if blank is not None:
        with pytest.raises(KpstanceError, match=f"^text {blank} is empty"):
            smoke_predictor.predict(texts, batch_size=4)
        return
    out = smoke_predictor.predict(texts, batch_size=4)
    assert len(out) == len(texts)
    assert all(o["actor"] in smoke_predictor.actors and o["stance"] in smoke_predictor.stances for o in out)



def test_over_long_sentence_is_truncated_with_a_warning(smoke_run, tmp_path):
    from helpers import run_cli

    src = tmp_path / "long.jsonl"
    src.write_text(json.dumps({"text": "Seoul urged calm " * 200}) + "\n", encoding="utf-8")
    r = run_cli("predict", str(smoke_run["model_dir"]), "--input", str(src))
    assert r.returncode == 0, r.stderr
    assert "truncated" in r.stderr and "long.jsonl:1" in r.stderr
    assert json.loads(r.stdout)["actor"]


@pytest.mark.parametrize("override, message", [
    # the line of the key in the file the group came from (the override changed its value)
    ("labels.actors.china.aliases=[China,Moscow]",
     r"korean_peninsula\.yaml:\d+: alias 'Moscow' is claimed by two actors"),
    ("labels.stance_roles.neutral=undecided",
     r"korean_peninsula\.yaml:\d+: stance_roles\.neutral: 'undecided' is not one"),
    ("data.gold_path=/nonexistent/gold.jsonl", r"/nonexistent/gold\.jsonl: file not found"),
])
def test_bad_labels_or_gold_through_train_py(tmp_path, override, message):
    import re

    r = train_py(tmp_path, override)
    assert r.returncode == 2, r.stderr[-2000:]
    assert re.search(message, r.stderr) and "Traceback" not in r.stderr
    assert not (tmp_path / "models").exists()
    assert run_dirs(tmp_path) == []  # refused before anything was written: no run folder is left
