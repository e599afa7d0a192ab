"""Large silver corpora through datasets.map, and data-parallel training under torchrun."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import ARTICLE, ROOT, compose, train_py


def _corpus(folder, n_articles: int):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_articles):
        (folder / f"art{i:03d}.txt").write_text(
            f"Talks stall {i}\nSEOUL, May {i % 28 + 1}. /TASS/. Seoul urged Pyongyang to return to talks, Moon Jae-in said. "
            "Pyongyang fired two ballistic missiles.\nAnalysts expect more tension.\n", encoding="utf-8")
    return folder


def test_datasets_map_labels_a_folder(tmp_path, scheme):
    from kpstance.weak.corpus import label_folder

    ds = label_folder(_corpus(tmp_path / "c", 30), scheme, num_proc=2)
    assert len(ds) == 30 * 5  # title, dateline, two sentences, one more paragraph
    rows = [r for r in ds if r["article_id"] == "art007"]
    assert [r["kind"] for r in rows] == ["title", "dateline", "sentence", "sentence", "sentence"]
    assert (rows[2]["actor"], rows[2]["stance"]) == ("south_korea", "conciliatory")
    assert (rows[3]["actor"], rows[3]["stance"]) == ("north_korea", "hardline")
    one = label_folder(tmp_path / "c", scheme, num_proc=1)
    assert list(one["text"]) == list(ds["text"]) and list(one["actor"]) == list(ds["actor"])


def test_training_with_data_corpus(tmp_path):
    from kpstance.run.pipeline import train

    corpus = _corpus(tmp_path / "c", 12)
    (corpus / "copy_of_gold_article.txt").write_text(ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    m = train(compose(["experiment=smoke", "data=corpus", f"data.corpus.path={corpus}", "data.corpus.num_proc=1"],
                      tmp_path))
    assert m["n_corpus"] == 12 * 5 + 41
    log = (tmp_path / "run" / "metrics.json").read_text()
    assert json.loads(log)["n_corpus"] == 101


def test_corpus_errors_are_clear(tmp_path, scheme):
    from kpstance.errors import KpstanceError
    from kpstance.weak.corpus import label_folder

    with pytest.raises(KpstanceError, match="corpus folder not found"):
        label_folder(tmp_path / "nope", scheme)
    (tmp_path / "empty").mkdir()
    with pytest.raises(KpstanceError, match="no .txt articles"):
        label_folder(tmp_path / "empty", scheme)


def test_torchrun_two_processes_smoke(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "train.py"), "experiment=smoke", "evaluation.cv=true", "logger=none", f"paths.log_dir={tmp_path / 'outputs'}",
           f"paths.models_dir={tmp_path / 'models'}"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = list((tmp_path / "outputs" / "smoke" / "runs").glob("*"))
    assert len(runs) == 1, runs  # rank 1 writes no run folder
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert 0 <= metrics["joint_accuracy"] <= 1 and 0 <= metrics["test_joint_accuracy"] <= 1  # the folds on two ranks
    assert "rank 0 of 2" in (runs[0] / "train.log").read_text()
    models = [p for p in (tmp_path / "models").iterdir() if p.name != "smoke"]
    assert len(models) == 1 and (tmp_path / "models" / "smoke" / "latest").resolve() == models[0].resolve()


def test_bf16_autocast_training_runs_and_is_recorded(tmp_path):
    """trainer.precision=bf16 trains under autocast (emulated on CPUs without bf16, so only
    checked for working here; its speed is a benchmark matter)."""
    import torch

    from kpstance.run.pipeline import train

    dtypes = []
    autocast = torch.autocast

    def spy(device_type, *args, **kwargs):
        dtypes.append(kwargs.get("dtype"))
        return autocast(device_type, *args, **kwargs)

    torch.autocast = spy
    try:
        m = train(compose(["experiment=smoke", "trainer.precision=bf16", "evaluation.final_model=false"], tmp_path))
    finally:
        torch.autocast = autocast
    assert dtypes and set(dtypes) == {torch.bfloat16}  # every training step ran under bf16 autocast
    assert 0 <= m["test_joint_accuracy"] <= 1
    assert "precision: bf16" in (tmp_path / "run" / "config.yaml").read_text()
    assert json.loads((tmp_path / "run" / "run_info.json").read_text())["train_precision"] == "bf16"


def test_training_device_auto_is_cpu_here_and_a_missing_gpu_is_refused_before_writing(tmp_path):
    import torch

    from kpstance.systems.finetune import training_device

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert training_device("auto").type == "cpu" and training_device("cpu").type == "cpu"
    r = train_py(tmp_path, "trainer.device=cuda")
    assert r.returncode == 2 and "trainer.device=cuda asked for, but no CUDA device is available" in r.stderr
    assert "Traceback" not in r.stderr and "final model" not in r.stderr  # refused before any training
    # refused before the run wrote anything of its own (Hydra's .hydra/ folder is all there is)
    assert not (tmp_path / "models").exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log"] == []


def test_length_grouped_batches_cover_every_example_once_and_group_within_mega_batches():
    import random

    from kpstance.systems.finetune import length_grouped_batches

    lengths = [random.Random(i).randint(3, 90) for i in range(200)]
    for group, mega in ((False, 50), (True, 50), (True, 2)):
        batches = length_grouped_batches(lengths, 8, random.Random(0), group, mega)
        assert sorted(i for b in batches for i in b) == list(range(200))
        assert all(len(b) == 8 for b in batches)
    # grouped: every batch is a run of similar lengths; shuffled: batches mix lengths far more
    spread = {g: sum(max(lengths[i] for i in b) - min(lengths[i] for i in b)
                     for b in length_grouped_batches(lengths, 8, random.Random(0), g, 2)) for g in (True, False)}
    assert spread[True] < 0.6 * spread[False]
