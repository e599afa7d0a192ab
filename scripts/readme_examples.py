"""Print the README's examples from a saved model, so that what the README shows is what the model gives.

    .venv/bin/python scripts/readme_examples.py --model models/latest     # predict, write the JSON, rewrite README
    .venv/bin/python scripts/readme_examples.py --check                   # README and JSON agree (and the model)
    .venv/bin/python scripts/readme_examples.py --render                  # README from the JSON alone

The examples' inputs live here. Their outputs (labels, and scores rounded as the README prints them) are recorded
with the model's identity (run name, SHA-256 of model.safetensors) in docs/readme_examples.json; every README block
between ``<!-- examples:NAME -->`` and ``<!-- /examples -->`` is rendered from that file alone. ``--check`` exits 1
when a README block differs from its rendering, or, when the model folder is present, when the model's predictions
differ from the recorded ones.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPSTANCE_ROOT", str(ROOT))

DIGITS = 2  # scores are printed, recorded and compared at this precision
SLACK = 0.5 * 10**-DIGITS + 1e-4  # a fresh score may differ from its recorded rounding by this much
BLOCK_RE = re.compile(r"(<!-- examples:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /examples -->)", re.DOTALL)

# The inputs, in our own words. Sentences for StancePredictor.predict:
SENTENCES = [
    "Lavrov said the drills were unacceptable.",
    "Pyongyang fired another missile.",
    "Beijing urged all sides to return to talks.",
]
PIPELINE_TEXT = "Seoul and Washington held joint drills."
# JSON Lines for `kpstance predict`: one unit per line, optional kind and speaker, any other field carried through
JSONL_LINES = [
    {"id": "n1", "text": "Moscow called the new sanctions a dead end.", "outlet": "TASS"},
    {"id": "n2", "text": "\"We will never give up our deterrent,\" he said.", "kind": "sentence",
     "speaker": "Kim Jong-un", "outlet": "KCNA"},
    {"id": "n3", "text": "Tokyo backs tougher sanctions on Pyongyang", "kind": "title", "outlet": "Kyodo"},
]
# A short article of our own, laid out as the segmenter expects: title, dateline, one paragraph per line, a subheading
ARTICLE_ID = "article"
ARTICLE = """Moscow urges restraint after new launch — Lavrov
MOSCOW, March 3. /TASS/. Russia called on all sides to show restraint after North Korea's latest missile launch, \
Foreign Minister Sergey Lavrov said on Friday.
"Sanctions alone cannot solve this problem," Lavrov told reporters. "Only talks without preconditions can," he added.
Allies plan more drills
Washington and Seoul said they would hold another round of joint exercises next month.
"""
# The figures the README quotes, from the model folder's metrics.json (the run that saved it)
METRIC_KEYS = [f"{system}{split}{key}" for system in ("", "rules_") for split in ("dev_", "test_", "test_articles_")
               for key in ("actor_macro_f1", "stance_macro_f1", "joint_accuracy", "actor_accuracy", "stance_accuracy",
                           "n", "swap_stance_flip", "swap_n")] + [
    "actor_temperature", "stance_temperature", "test_actor_ece_raw", "test_actor_ece", "test_stance_ece_raw",
    "test_stance_ece", "test_confident80_min_score", "test_confident80_joint_accuracy", "test_confident90_min_score",
    "test_confident90_joint_accuracy", "test_confident80_coverage", "test_confident90_coverage",
    "test_counter_stance_macro_f1", "test_counter_n",
    "rules_test_counter_stance_macro_f1", "test_contrast_pair_accuracy", "test_contrast_pairs",
    "rules_test_contrast_pair_accuracy"]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def identity(model_dir: Path) -> dict[str, str]:
    """Which model printed the examples: its run and experiment (kpstance.json) and the hash of its weights."""
    meta_path = model_dir / "kpstance.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    return {"run_name": str(meta.get("run_name", "?")), "experiment": str(meta.get("experiment", "?")),
            "model_sha256": sha256_of(model_dir / "model.safetensors")}


def _r(x: float) -> float:
    return round(float(x), DIGITS)


def _scored(p: dict) -> dict:
    return {"actor": p["actor"], "stance": p["stance"], "actor_score": _r(p["actor_score"]),
            "stance_score": _r(p["stance_score"])}


def _metrics(model_dir: Path) -> dict[str, float]:
    """The README's figures from the model folder's metrics.json, and the number of whole test articles."""
    path = model_dir / "metrics.json"
    metrics = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    out = {k: metrics[k] for k in METRIC_KEYS if isinstance(metrics.get(k), (int, float))}
    articles = ROOT / "data" / "multisource" / "articles.jsonl"
    if articles.is_file() and "test_articles_n" in out:
        rows = [json.loads(line) for line in articles.read_text(encoding="utf-8").splitlines() if line.strip()]
        out["test_articles"] = sum(r.get("split") == "test" for r in rows)
    return out


def _min_score(metrics: dict[str, float]) -> float:
    """The --min-score the example uses: the model's own threshold keeping 80 % of test units, else 0.5."""
    v = metrics.get("test_confident80_min_score")
    return _r(v) if v is not None else 0.5


def _cli_predict(model_dir: Path, lines: list[dict], min_score: float) -> list[dict]:
    """`kpstance predict` on the JSON Lines example, in process, as a user runs it."""
    from kpstance.cli import main as cli_main

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "units.jsonl"
        path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli_main(["predict", str(model_dir), "--input", str(path), "--min-score", str(min_score)])
    if rc != 0:
        raise SystemExit(f"readme_examples: kpstance predict failed ({rc}): {err.getvalue().strip()}")
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return [{**r, "actor_score": _r(r["actor_score"]), "stance_score": _r(r["stance_score"])} for r in rows]


def _pipeline(model_dir: Path, text: str) -> dict:
    """The stock transformers pipeline: the best actor= and the best stance= label of its one softmax."""
    from transformers import pipeline

    clf = pipeline("text-classification", model=str(model_dir), top_k=None, device="cpu")
    # the code the README shows, run as written (transformers 5 gives one list of labels per input text)
    scores = clf([text])[0]
    best = {g: max((s for s in scores if s["label"].startswith(g + "=")), key=lambda s: s["score"])
            for g in ("actor", "stance")}
    return {"text": text, **{g: {"label": s["label"], "score": _r(s["score"])} for g, s in best.items()}}


def collect(model_dir: Path) -> dict[str, Any]:
    """Predict every example with the model in ``model_dir``: the document the README is rendered from."""
    from kpstance import StancePredictor

    p = StancePredictor.load(model_dir)
    metrics = _metrics(model_dir)
    min_score = _min_score(metrics)
    article = [{k: u[k] for k in ("kind", "text", "speaker")} | _scored(u)
               for u in p.predict_article(ARTICLE, ARTICLE_ID)]
    return {
        "generated_by": "scripts/readme_examples.py",
        "model": identity(model_dir),
        "metrics": metrics,
        "article": {"article_id": ARTICLE_ID, "text": ARTICLE, "units": article},
        "predict": {"texts": SENTENCES, "outputs": [_scored(x) for x in p.predict(SENTENCES)]},
        "pipeline": _pipeline(model_dir, PIPELINE_TEXT),
        "jsonl": {"lines": JSONL_LINES, "min_score": min_score,
                  "outputs": _cli_predict(model_dir, JSONL_LINES, min_score)},
    }


# Rendering: the README's blocks from the document alone.

def _num(x: float) -> str:
    return f"{x:.{DIGITS}f}"


def _pydict(d: dict) -> str:
    """A dict as Python prints it, with scores at the printed precision."""
    return "{" + ", ".join(f"{k!r}: {_num(v) if isinstance(v, float) else repr(v)}" for k, v in d.items()) + "}"


def _jsonline(d: dict) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {_num(v) if isinstance(v, float) else json.dumps(v, ensure_ascii=False)}"
                           for k, v in d.items()) + "}"


def render_model(doc: dict) -> str:
    m = doc["model"]
    return (f"Every printed output in this README was produced by the model of run `{m['run_name']}` (experiment "
            f"`{m['experiment']}`, `model.safetensors` SHA-256 `{m['model_sha256'][:12]}…`) through "
            "`scripts/readme_examples.py`, and a test fails when the README drifts from the recorded outputs.\n")


def render_predict(doc: dict) -> str:
    d = doc["predict"]
    outs = [_pydict(o)[:-1] + ", 'actor_probs': {...}, 'stance_probs': {...}}" for o in d["outputs"]]
    body = "\n".join(("# [" if i == 0 else "#  ") + o + ("]" if i == len(outs) - 1 else ",") for i, o in enumerate(outs))
    return ("```python\nfrom kpstance import StancePredictor\n\n"
            'p = StancePredictor.load("models/latest")\n'
            f"p.predict({json.dumps(d['texts'], ensure_ascii=False)})\n{body}\n```\n")


def render_pipeline(doc: dict) -> str:
    d = doc["pipeline"]
    return ("```python\nfrom transformers import pipeline\n\n"
            'clf = pipeline("text-classification", model="models/latest", top_k=None)\n'
            f"scores = clf([{json.dumps(d['text'], ensure_ascii=False)}])[0]  # all eleven labels of the one text\n"
            'best = {g: max((s for s in scores if s["label"].startswith(g + "=")), key=lambda s: s["score"])\n'
            '        for g in ("actor", "stance")}\n'
            f"# {{'actor': {_pydict(d['actor'])}, 'stance': {_pydict(d['stance'])}}}\n```\n")


def render_jsonl(doc: dict) -> str:
    d = doc["jsonl"]
    lines = "\n".join(json.dumps(x, ensure_ascii=False) for x in d["lines"])
    outs = "\n".join(_jsonline(x) for x in d["outputs"])
    return (f"`units.jsonl`:\n\n```json\n{lines}\n```\n\n"
            f"```bash\nkpstance predict models/latest --input units.jsonl --min-score {_num(d['min_score'])}\n```\n\n"
            f"gives (scores rounded here to {DIGITS} decimals):\n\n```json\n{outs}\n```\n")


def render_article(doc: dict) -> str:
    d = doc["article"]
    rows = "\n".join(f"| {u['kind']} | {u['text'] if len(u['text']) <= 60 else u['text'][:58] + ' …'} | "
                     f"{u['speaker'] or '–'} | {u['actor']} | {u['stance']} | {_num(u['actor_score'])} | "
                     f"{_num(u['stance_score'])} |" for u in d["units"])
    return (f"`article.txt`:\n\n```text\n{d['text'].rstrip()}\n```\n\n"
            "```python\nfrom pathlib import Path\n\nfrom kpstance import StancePredictor\n\n"
            'p = StancePredictor.load("models/latest")\n'
            f'units = p.predict_article(Path("article.txt").read_text(encoding="utf-8"), "{d["article_id"]}")\n```\n\n'
            f"gives one dict per unit (`id`, `kind`, `text`, `speaker`, `actor`, `stance`, `actor_score`, "
            f"`stance_score`); scores rounded here to {DIGITS} decimals:\n\n"
            "| kind | text | speaker | actor | stance | actor_score | stance_score |\n"
            f"|---|---|---|---|---|---|---|\n{rows}\n")


def _f(m: dict, key: str) -> str:
    return f"{m[key]:.3f}"


def _pct(m: dict, key: str) -> str:
    return f"{100 * m[key]:.1f} %" if key in m else "–"


def _g(m: dict, key: str) -> str:
    """A table cell: the figure, or a dash where the run measured none (a split without whole articles)."""
    return _f(m, key) if key in m else "–"


def render_accuracy(doc: dict) -> str:
    m = doc["metrics"]
    arts = f"{m['test_articles']} whole test articles" if "test_articles" in m else "the whole test articles"
    return (f"On the **test split of the multi-source gold corpus** ({m['test_n']} sentences written from real "
            "2017–2019 reports by outlets of every side; no training used them and no choice was fitted on them, "
            "though their errors were read before the training batch of 2026-12-05 was written), the default run "
            f"(`make train`, seed 0; the model these examples come from) gets the actor right for "
            f"{100 * m['test_actor_accuracy']:.0f} % of sentences (macro-F1 {_f(m, 'test_actor_macro_f1')}), the "
            f"stance for {100 * m['test_stance_accuracy']:.0f} % (macro-F1 {_f(m, 'test_stance_macro_f1')}), and "
            f"both for {100 * m['test_joint_accuracy']:.0f} % (joint accuracy {_f(m, 'test_joint_accuracy')}). "
            f"On {arts} ({m['test_articles_n']} units) the joint accuracy is {_f(m, 'test_articles_joint_accuracy')}. "
            f"The rules alone get both labels right for {100 * m['rules_test_joint_accuracy']:.0f} % of the test "
            f"sentences. Expect about this on new news of the same kind. {_limits_line(m)}\n")


def _limits_line(m: dict) -> str:
    """The known limits in one sentence, from the run's own direction and speaker-swap figures where it has them."""
    if not {"test_contrast_pair_accuracy", "test_swap_stance_flip", "test_swap_n"} <= set(m):
        return ("The stance leans in part on who speaks (the model card, `models/latest/README.md`, lists the known "
                "limits): check an actor's less usual stance by hand.")
    return ("Two known limits (the model card, `models/latest/README.md`, lists them): the stance follows the topic "
            "of a step more than its direction (of the contrast set's test pairs, a step and its reverse such as "
            f"suspending and resuming drills, both members are right in {100 * m['test_contrast_pair_accuracy']:.0f} "
            "%), and it leans a little on who speaks (swapping only the speaker's names changes the stance of "
            f"{100 * m['test_swap_stance_flip']:.1f} % of {m['test_swap_n']:,} swapped copies of test sentences). "
            "Check by hand the units whose stance turns on the direction of a step, and an actor's less usual stance.")


def _gap(m: dict, key: str) -> str:
    """How far the model's test figure is from the rules', as a reader computes it from the printed table."""
    d = round(m[f"test_{key}"], 3) - round(m[f"rules_test_{key}"], 3)
    return f"{abs(d):.3f} {'above' if d >= 0 else 'below'}"


def render_results(doc: dict) -> str:
    m = doc["metrics"]
    arts = f"{m['test_articles']}, " if "test_articles" in m else ""
    head = (f"| | dev sentences ({m['dev_n']}) | **test** sentences ({m['test_n']}) | **test** articles "
            f"({arts}{m['test_articles_n']} units) |\n|---|---|---|---|\n")
    # the speaker-swap flip (eval/swap.py) beside the F1s, for a model whose run measured it
    flip = [("stance flip under speaker swap", "swap_stance_flip")] if "test_swap_stance_flip" in m else []
    rows = "".join(f"| {who}: {name} | {_g(m, p + 'dev_' + key)} | {_g(m, p + 'test_' + key)} | "
                   f"{_g(m, p + 'test_articles_' + key)} |\n"
                   for who, p in (("model", ""), ("rules", "rules_"))
                   for name, key in (("actor macro-F1", "actor_macro_f1"), ("stance macro-F1", "stance_macro_f1"),
                                     *flip, ("joint accuracy", "joint_accuracy")))
    swap = ""
    if flip:
        swap = (f" **Speaker swap:** with only the speaker's names changed, role for role ({m['test_swap_n']} copies of "
                f"test sentences; `kpstance probe swap` runs the same test on your units), the model's stance changes "
                f"for {100 * m['test_swap_stance_flip']:.1f} % of them"
                + (f", the rules' for {100 * m['rules_test_swap_stance_flip']:.1f} %"
                   if "rules_test_swap_stance_flip" in m else "") + ": a stance should not depend on who speaks.")
    if "test_counter_stance_macro_f1" in m:
        swap += (f" **Counter-prior slice:** on the {m['test_counter_n']} test sentences whose actor takes a stance it "
                 "holds in under a quarter of its training units, stance macro-F1 is "
                 f"{_f(m, 'test_counter_stance_macro_f1')} (rules {_g(m, 'rules_test_counter_stance_macro_f1')}).")
    if "test_contrast_pair_accuracy" in m:
        swap += (f" **Direction, not topic:** of the {m['test_contrast_pairs']} test pairs of the contrast set (one "
                 "step and its reverse; `kpstance probe direction` runs the same test on your pairs), the model gets "
                 "both members right in "
                 f"{100 * m['test_contrast_pair_accuracy']:.1f} % (rules "
                 f"{100 * m.get('rules_test_contrast_pair_accuracy', float('nan')):.1f} %).")
    text = (f"\nOn test the model's stance macro-F1 is {_gap(m, 'stance_macro_f1')} the rules' and its actor "
            f"macro-F1 {_gap(m, 'actor_macro_f1')}. Calibration (one temperature per head fitted on dev) takes the test expected "
            f"calibration error of the actor head from {_f(m, 'test_actor_ece_raw')} to {_f(m, 'test_actor_ece')} "
            f"and of the stance head from {_f(m, 'test_stance_ece_raw')} to {_f(m, 'test_stance_ece')}. "
            f"**Confident units:** `kpstance predict --min-score {_f(m, 'test_confident80_min_score')}` (the "
            "threshold that keeps the most confident 80 % of dev units) marks the others as uncertain; on test it "
            f"keeps {_pct(m, 'test_confident80_coverage')}, at joint accuracy "
            f"**{_g(m, 'test_confident80_joint_accuracy')}**; `--min-score {_f(m, 'test_confident90_min_score')}` "
            f"(90 % of dev) keeps {_pct(m, 'test_confident90_coverage')} of test, at "
            f"{_g(m, 'test_confident90_joint_accuracy')} ({_f(m, 'test_joint_accuracy')} for all units).{swap}\n")
    return head + rows + text


RENDERERS: dict[str, Callable[[dict], str]] = {
    "model": render_model, "article": render_article, "jsonl": render_jsonl, "accuracy": render_accuracy,
    "results": render_results, "predict": render_predict, "pipeline": render_pipeline,
}
SECTION = {"accuracy": "metrics", "results": "metrics"}  # the document section a block is rendered from


def render(doc: dict) -> dict[str, str]:
    """Every block the document can render (a block whose section the document lacks is left out)."""
    try:
        return {name: fn(doc) for name, fn in RENDERERS.items() if name == "model" or SECTION.get(name, name) in doc}
    except KeyError as e:
        raise SystemExit(f"readme_examples: the recorded outputs lack {e}: was the model scored on the multi-source "
                         "test split?") from None


def rewrite(readme: str, blocks: dict[str, str]) -> str:
    """The README with every marked block replaced by its rendering; an unknown block name is an error."""
    unknown = [m["name"] for m in BLOCK_RE.finditer(readme) if m["name"] not in blocks]
    if unknown:
        raise SystemExit(f"readme_examples: README block(s) with nothing to render: {', '.join(unknown)}")
    return BLOCK_RE.sub(lambda m: m.group(1) + blocks[m["name"]] + m.group(4), readme)


def readme_drift(readme: str, doc: dict) -> list[str]:
    """Names of the README blocks that differ from the document's rendering (or that it cannot render)."""
    blocks = render(doc)
    return [m["name"] for m in BLOCK_RE.finditer(readme) if blocks.get(m["name"]) != m["body"]]


def _compare(old: Any, new: Any, where: str) -> list[str]:
    """Where ``new`` (fresh predictions) differs from ``old`` (recorded): labels exactly, scores within rounding."""
    if isinstance(old, dict) and isinstance(new, dict):
        diffs = [f"{where}.{k}: missing" for k in old.keys() ^ new.keys()]
        return diffs + [d for k in old.keys() & new.keys() for d in _compare(old[k], new[k], f"{where}.{k}")]
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: {len(old)} recorded, {len(new)} predicted"]
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in _compare(a, b, f"{where}[{i}]")]
    if isinstance(old, float) and isinstance(new, (int, float)) and not isinstance(new, bool):
        return [] if abs(old - new) <= SLACK else [f"{where}: recorded {old}, predicted {new}"]
    return [] if old == new else [f"{where}: recorded {old!r}, predicted {new!r}"]


def prediction_drift(doc: dict, fresh: dict) -> list[str]:
    """How the model's fresh predictions differ from the recorded ones (the model's identity aside)."""
    return [d for k in fresh if k not in ("model", "generated_by") for d in _compare(doc.get(k), fresh[k], k)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/latest", help="saved model folder (default: models/latest)")
    ap.add_argument("--json", default=str(ROOT / "docs" / "readme_examples.json"), help="recorded outputs")
    ap.add_argument("--readme", default=str(ROOT / "README.md"))
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when README, JSON or model disagree")
    mode.add_argument("--render", action="store_true", help="rewrite the README from the JSON, without a model")
    args = ap.parse_args(argv)
    readme_path, json_path, model_dir = Path(args.readme), Path(args.json), Path(args.model)
    if args.check:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
        problems = [f"README block '{n}' differs from {json_path.name}" for n in readme_drift(
            readme_path.read_text(encoding="utf-8"), doc)]
        if (model_dir / "model.safetensors").is_file():
            now = identity(model_dir)
            if now["model_sha256"] != doc["model"]["model_sha256"]:
                print(f"readme_examples: note: {model_dir} holds run {now['run_name']}, the examples come from "
                      f"{doc['model']['run_name']}", file=sys.stderr)
            problems += [f"model {model_dir}: {d}" for d in prediction_drift(doc, collect(model_dir))]
        for p in problems:
            print(f"readme_examples: {p}", file=sys.stderr)
        if problems:
            print("readme_examples: regenerate with: .venv/bin/python scripts/readme_examples.py --model "
                  f"{args.model}", file=sys.stderr)
        return 1 if problems else 0
    if args.render:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    else:
        if not (model_dir / "model.safetensors").is_file():
            print(f"readme_examples: no saved model in {model_dir}", file=sys.stderr)
            return 2
        doc = collect(model_dir)
        json_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    readme = readme_path.read_text(encoding="utf-8")
    readme_path.write_text(rewrite(readme, render(doc)), encoding="utf-8")
    print(f"readme_examples: {json_path} and {readme_path} from run {doc['model']['run_name']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
