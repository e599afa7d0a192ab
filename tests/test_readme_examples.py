"""The README's printed examples are generated from a saved model (scripts/readme_examples.py) and cannot drift."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from helpers import ROOT, load_script


@pytest.fixture(scope="module")
def rx():
    return load_script(ROOT / "scripts" / "readme_examples.py")


def test_readme_blocks_are_the_rendering_of_the_recorded_outputs(rx):
    doc = json.loads((ROOT / "docs" / "readme_examples.json").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [m["name"] for m in rx.BLOCK_RE.finditer(readme)]
    assert sorted(names) == sorted(rx.render(doc))  # every recorded example is shown, once
    assert rx.readme_drift(readme, doc) == [], "run scripts/readme_examples.py --model models/latest"
    assert doc["model"]["model_sha256"][:12] in readme and doc["model"]["run_name"] in readme


def test_a_score_is_compared_at_the_printed_precision(rx):
    assert rx.prediction_drift({"predict": {"s": 0.55}}, {"predict": {"s": 0.5549}}) == []
    assert rx.prediction_drift({"predict": {"s": 0.55}}, {"predict": {"s": 0.5451}}) == []
    assert rx.prediction_drift({"predict": {"s": 0.55}}, {"predict": {"s": 0.5562}}) == [
        "predict.s: recorded 0.55, predicted 0.5562"]
    assert rx.prediction_drift({"predict": {"a": "china"}}, {"predict": {"a": "japan"}}) == [
        "predict.a: recorded 'china', predicted 'japan'"]


def test_the_generator_end_to_end_on_the_smoke_model(rx, smoke_run, smoke_predictor, tmp_path, capsys):
    model = smoke_run["model_dir"]
    readme, js = tmp_path / "README.md", tmp_path / "examples.json"
    shutil.copy(ROOT / "README.md", readme)
    paths = ["--json", str(js), "--readme", str(readme)]
    assert rx.main(["--model", str(model), *paths]) == 0
    doc = json.loads(js.read_text(encoding="utf-8"))
    assert doc["model"] == {"run_name": model.name, "experiment": "smoke",
                            "model_sha256": hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()}
    fresh = smoke_predictor.predict(rx.SENTENCES)
    assert [(o["actor"], o["stance"], o["actor_score"]) for o in doc["predict"]["outputs"]] == [
        (p["actor"], p["stance"], round(p["actor_score"], 2)) for p in fresh]
    text = readme.read_text(encoding="utf-8")
    first = doc["predict"]["outputs"][0]
    assert f"# [{{'actor': '{first['actor']}', 'stance': '{first['stance']}', 'actor_score': " \
           f"{first['actor_score']:.2f}, 'stance_score': {first['stance_score']:.2f}" in text
    units = smoke_predictor.predict_article(rx.ARTICLE, rx.ARTICLE_ID)  # the whole article, read in context
    assert [(u["kind"], u["speaker"], u["actor"], u["stance"]) for u in doc["article"]["units"]] == [
        (u["kind"], u["speaker"], u["actor"], u["stance"]) for u in units]
    m = smoke_run["metrics"]  # the figures quoted are the run's own
    assert f"| model: joint accuracy | {m['dev_joint_accuracy']:.3f} | {m['test_joint_accuracy']:.3f} |" in text
    assert f"(macro-F1 {m['test_actor_macro_f1']:.3f})" in text
    assert model.name in text and rx.readme_drift(text, doc) == []
    assert rx.main(["--check", "--model", str(model), *paths]) == 0

    # a hand edit of a printed example is drift
    readme.write_text(text.replace(f"'stance_score': {first['stance_score']:.2f}", "'stance_score': 0.123", 1),
                      encoding="utf-8")
    assert rx.main(["--check", "--model", str(tmp_path / "no-model"), *paths]) == 1
    assert "README block 'predict' differs" in capsys.readouterr().err

    # a recorded label the model does not give is drift too, even with README and JSON in agreement
    given = first["stance"]
    other = next(s for s in smoke_predictor.stances if s != given)
    doc["predict"]["outputs"][0]["stance"] = other
    js.write_text(json.dumps(doc), encoding="utf-8")
    assert rx.main(["--render", *paths]) == 0
    assert rx.main(["--check", "--model", str(tmp_path / "no-model"), *paths]) == 0  # no model: README vs JSON only
    assert rx.main(["--check", "--model", str(model), *paths]) == 1
    assert f"predict.outputs[0].stance: recorded '{other}', predicted '{given}'" in capsys.readouterr().err
