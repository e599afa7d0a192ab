"""The contrast set of minimal pairs (data/contrast/pairs.jsonl): format, labels, pairing, splits and leak guards."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from helpers import ROOT

from kpstance.text.overlap import max_overlap, tokens

PAIRS = ROOT / "data" / "contrast" / "pairs.jsonl"
MS = ROOT / "data" / "multisource"
FIELDS = {"id": str, "pair_id": str, "member": str, "text": str, "actor": str, "stance": str, "factual": bool,
          "rule": str, "topic": str, "split": str, "event": str, "source_url": str, "date": str, "kind": str,
          "phenomena": list}
SPLITS = ("train", "dev", "test")
LEAK = 0.8  # the token Jaccard the training set's leak guard uses


def _read(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name}:{n}: blank line"
        rows.append(json.loads(line))
    return rows


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return _read(PAIRS)


@pytest.fixture(scope="module")
def pairs(rows) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["pair_id"]].append(r)
    return out


def test_every_line_has_the_fields_and_ids_are_unique(rows):
    from kpstance.text.segment import KINDS

    for r in rows:
        assert set(r) == set(FIELDS), (r.get("id"), sorted(set(r) ^ set(FIELDS)))
        for key, typ in FIELDS.items():
            assert isinstance(r[key], typ), (r["id"], key)
        assert re.fullmatch(r"cp-\d{3}", r["pair_id"]) and r["member"] in ("a", "b")
        assert r["id"] == f"{r['pair_id']}-{r['member']}"
        assert r["kind"] in KINDS and r["split"] in SPLITS
        assert r["source_url"].startswith("http") and "2017" <= r["date"][:4] <= "2019"
        assert r["text"].strip() == r["text"] and len(r["text"]) >= 20
        assert r["phenomena"][0] == "direction"
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))


def test_labels_are_in_the_scheme_and_none_goes_with_neutral(rows, scheme):
    for r in rows:
        assert r["actor"] in scheme.actor_labels and r["stance"] in scheme.stance_labels, r["id"]
        if r["actor"] == scheme.none_actor:
            assert r["stance"] == scheme.neutral_stance, r["id"]


def test_each_pair_is_one_actor_and_topic_with_two_different_stances(pairs, scheme):
    polar = {scheme.coercive, scheme.deescalating}
    kinds = Counter()
    for pid, members in pairs.items():
        assert sorted(m["member"] for m in members) == ["a", "b"], pid
        a, b = sorted(members, key=lambda m: m["member"])
        for key in ("actor", "rule", "topic", "event", "source_url", "split"):
            assert a[key] == b[key], (pid, key)
        assert a["stance"] != b["stance"], pid
        assert a["text"] != b["text"] and (a["factual"] or b["factual"]), pid
        # a minimal pair: most words are shared, the direction of the step is not
        shared = len(tokens(a["text"]) & tokens(b["text"])) / min(len(tokens(a["text"])), len(tokens(b["text"])))
        assert shared >= 0.4, (pid, shared)
        kinds["polar" if {a["stance"], b["stance"]} == polar else "neutral"] += 1
    assert kinds["neutral"] <= 0.1 * len(pairs), kinds


def test_size_and_every_actor_in_every_split(pairs, scheme):
    assert len(pairs) >= 160
    actors = [a for a in scheme.actor_labels if a != scheme.none_actor]
    per_actor = Counter(m[0]["actor"] for m in pairs.values())
    assert all(per_actor[a] >= 15 for a in actors), per_actor
    cells = Counter((m[0]["actor"], m[0]["split"]) for m in pairs.values())
    for a in actors:
        assert cells[(a, "dev")] >= 1 and cells[(a, "test")] >= 1, (a, cells)


def test_splits_follow_events_and_reports_in_rough_proportion(rows, pairs):
    for key in ("source_url", "event"):
        seen: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            seen[r[key]].add(r["split"])
        assert all(len(s) == 1 for s in seen.values()), [k for k, s in seen.items() if len(s) > 1]
    n = Counter(m[0]["split"] for m in pairs.values())
    total = sum(n.values())
    assert 0.4 <= n["train"] / total <= 0.6 and 0.15 <= n["dev"] / total <= 0.25 and 0.25 <= n["test"] / total <= 0.35, n


@pytest.fixture(scope="module")
def ms_units() -> list[dict]:
    """The multi-source gold: stand-alone sentences and whole-article units, each with its split."""
    units = _read(MS / "sentences.jsonl")
    for art in _read(MS / "articles.jsonl"):
        units += [dict(u, split=art["split"]) for u in _read(MS / art["gold"])]
    return units


def test_a_report_shared_with_the_multisource_corpus_keeps_its_split(rows, ms_units):
    ms_split: dict[str, set[str]] = defaultdict(set)
    for u in ms_units:
        ms_split[u["source_url"]].add(u["split"])
    clash = [(r["id"], r["split"], sorted(ms_split[r["source_url"]])) for r in rows
             if r["source_url"] in ms_split and ms_split[r["source_url"]] != {r["split"]}]
    assert not clash, clash


def test_no_text_is_copied_between_pairs(rows):
    norm = [(r["pair_id"], " ".join(r["text"].lower().split())) for r in rows]
    assert len({t for _, t in norm}) == len(norm), "the same text appears twice"
    toks = [(r["pair_id"], r["id"], tokens(r["text"])) for r in rows]
    close = []
    for i, (pi, ii, ti) in enumerate(toks):
        for pj, ij, tj in toks[i + 1:]:
            if pi != pj and len(ti & tj) / len(ti | tj) >= LEAK:
                close.append((ii, ij))
    assert not close, close


def test_no_unit_is_a_near_copy_of_a_multisource_unit(rows, ms_units):
    refs = [u["text"] for u in ms_units]
    overlap = max_overlap([r["text"] for r in rows], refs)
    leaks = [(r["id"], round(o, 2)) for r, o in zip(rows, overlap, strict=True) if o >= LEAK]
    assert not leaks, leaks
