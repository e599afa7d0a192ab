"""The annotation loop against a real Label Studio server on 127.0.0.1 (slow; skipped without Label Studio).

Two users with their own API tokens: the first is created by ``label-studio init``, the second by
``label-studio start`` in the same data folder, so each annotation is submitted under its own
account. Set ``KPSTANCE_LABEL_STUDIO`` to the ``label-studio`` executable (e.g. one in its own venv),
or put it on PATH. ``KPSTANCE_WRITE_FIXTURE=1`` also saves the server's export as
``tests/fixtures/labelstudio_export.json``, which the fast tests read.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from helpers import ARTICLE, ARTICLE_ID, GOLD, LABELS, ROOT, run_cli

LABEL_STUDIO = os.environ.get("KPSTANCE_LABEL_STUDIO") or shutil.which("label-studio")
FIXTURE = ROOT / "tests" / "fixtures" / "labelstudio_export.json"
USERS = {"a": ("annotator.a@example.org", "kpstance-token-a"), "b": ("annotator.b@example.org", "kpstance-token-b")}
PASSWORD = "kpstance-test-pw"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (LABEL_STUDIO and os.access(LABEL_STUDIO, os.X_OK)),
                       reason=f"Label Studio not found ({LABEL_STUDIO or 'no label-studio on PATH'}): install it in a "
                              "venv of its own (python3 -m venv ls && ls/bin/pip install 'label-studio>=1.23') and set "
                              "KPSTANCE_LABEL_STUDIO=ls/bin/label-studio"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ls_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    env.update(LABEL_STUDIO_BASE_DATA_DIR=str(data_dir), LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
               PYTHONUNBUFFERED="1")
    return env


def _user_args(key: str) -> list[str]:
    email, token = USERS[key]
    return ["--username", email, "--password", PASSWORD, "--user-token", token, "--enable-legacy-api-token"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A throwaway Label Studio: its own data folder, two users with known legacy tokens, 127.0.0.1 only."""
    tmp = tmp_path_factory.mktemp("labelstudio")
    env = _ls_env(tmp / "data")
    init = subprocess.run([LABEL_STUDIO, "init", "--no-browser", *_user_args("b")], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=600)
    assert init.returncode == 0, init.stdout[-2000:] + init.stderr[-2000:]
    port = _free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen([LABEL_STUDIO, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port",
                             str(port), *_user_args("a")], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    import requests

    try:
        deadline = time.time() + 300
        while True:
            assert proc.poll() is None, (tmp / "server.log").read_text()[-3000:]
            try:
                if requests.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.time() < deadline, "Label Studio did not answer /health within 300 s"
            time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started, nothing else
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _api(url: str, user: str, method: str, path: str, **kw):
    import requests

    r = requests.request(method, f"{url}{path}", headers={"Authorization": f"Token {USERS[user][1]}"},
                         timeout=120, **kw)
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:500]}"
    return r.json() if r.content else None


def _result(actor: str, stance: str, note: str = "") -> list[dict]:
    out = [{"from_name": h, "to_name": "text", "type": "choices", "value": {"choices": [v]}}
           for h, v in (("actor", actor), ("stance", stance))]
    if note:
        out.append({"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [note]}})
    return out


def test_round_trip(server, smoke_run, tmp_path, capsys):
    from kpstance.corpora import load_gold
    from kpstance.text.segment import segment_article
    from kpstance.weak.scheme import load_scheme

    # 1. kpstance writes the tasks and the labeling config
    tasks_file = tmp_path / "tasks.json"
    r = run_cli("annotate", "export", str(smoke_run["model_dir"]), "--input", str(ARTICLE.relative_to(ROOT)),
                "--n", "8", "--output", str(tasks_file))
    assert r.returncode == 0, r.stderr
    tasks = json.loads(tasks_file.read_text())
    config = tasks_file.with_suffix(".xml").read_text()

    # 2. Label Studio: a project with that config, the tasks (with their pre-annotations) imported
    project = _api(server, "a", "POST", "/api/projects", json={"title": "kpstance round trip", "label_config": config})
    pid = project["id"]
    imported = _api(server, "a", "POST", f"/api/projects/{pid}/import", json=tasks)
    assert imported["task_count"] == 8 and imported["prediction_count"] == 8
    listed = _api(server, "a", "GET", "/api/tasks", params={"project": pid, "page_size": 100})["tasks"]
    by_unit = {t["data"]["id"]: t["id"] for t in listed}
    assert set(by_unit) == {t["data"]["id"] for t in tasks}

    # 3. annotations through the API, each user with its own token: a labels seven units with the gold
    # labels, b five of them (differing on the actor of the 4th and the stance of the 5th) and skips the 8th
    gold = {json.loads(line)["id"]: json.loads(line) for line in GOLD.read_text().splitlines() if line.strip()}
    order = [t["data"]["id"] for t in tasks]
    for i, uid in enumerate(order[:7]):
        g = gold[uid]
        _api(server, "a", "POST", f"/api/tasks/{by_unit[uid]}/annotations/",
             json={"result": _result(g["actor"], g["stance"], "checked against the guideline" if i == 0 else "")})
    scheme = load_scheme(LABELS)
    for i, uid in enumerate(order[:5]):
        g = dict(gold[uid])
        if i == 3:
            g["actor"] = "china" if g["actor"] != "china" else "japan"
        if i == 4:
            g["stance"] = next(s for s in scheme.stance_labels if s != g["stance"])
        _api(server, "b", "POST", f"/api/tasks/{by_unit[uid]}/annotations/", json={"result": _result(g["actor"], g["stance"])})
    _api(server, "b", "POST", f"/api/tasks/{by_unit[order[7]]}/annotations/",
         json={"result": [], "was_cancelled": True})

    # 4. the project's JSON export, read back by kpstance
    import requests

    resp = requests.get(f"{server}/api/projects/{pid}/export", params={"exportType": "JSON"},
                        headers={"Authorization": f"Token {USERS['a'][1]}"}, timeout=120)
    assert resp.status_code == 200, resp.text[:500]
    export = resp.json()
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(export, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if os.environ.get("KPSTANCE_WRITE_FIXTURE") == "1":
        FIXTURE.parent.mkdir(exist_ok=True)
        shutil.copyfile(export_file, FIXTURE)
    users = {u["email"]: u["id"] for u in _api(server, "a", "GET", "/api/users/")}

    out = tmp_path / "gold" / "lavrov-ls.jsonl"
    out.parent.mkdir()
    r = run_cli("annotate", "import", str(export_file), "--output", str(out))
    with capsys.disabled():
        print("\n" + r.stdout + r.stderr, end="")
    assert r.returncode == 0, r.stderr
    assert "kappa" in r.stdout
    written = load_gold(out, scheme, segment_article(ARTICLE.read_text(encoding="utf-8"), ARTICLE_ID))
    assert set(written) == set(order[:7]) - set(order[3:5])
    assert all(written[u]["actor"] == gold[u]["actor"] and written[u]["stance"] == gold[u]["stance"] for u in written)
    a, b = (f"user-{users[USERS[k][0]]}" for k in "ab")
    assert written[order[0]]["note"] == "checked against the guideline"
    assert written[order[0]]["annotator"] == ", ".join(sorted([a, b]))
    assert written[order[5]]["annotator"] == a and written[order[5]]["source"] == str(ARTICLE.relative_to(ROOT))
    dis = [json.loads(line) for line in out.with_name("lavrov-ls.disagreements.jsonl").read_text().splitlines()]
    assert [(d["id"], d["differs"]) for d in dis] == [(order[3], ["actor"]), (order[4], ["stance"])]
