"""Check and gather the written transfer pool (data/pool/written.jsonl) from its writers' drafts.

    python scripts/pool_prep.py DRAFT.jsonl [DRAFT.jsonl ...] [--out data/pool/written.jsonl] [--max-overlap 0.5]

Each draft line holds ``id``, ``text``, ``kind`` and the writer's ``actor`` and ``stance`` (a writer's reading, not
gold: ``data.teacher.pool_files`` never reads them; ``experiment=ablation/written_labels`` trains on them); ids are
prefixed ``w-`` so that they cannot meet another corpus's. A line is dropped
when its labels are not the scheme's, when its text repeats an earlier line's, or when its token Jaccard with any
held-out text (the dev and test units of the multi-source corpus, its dev and test articles, and the contrast set's
dev and test pairs) reaches ``--max-overlap``, a stricter screen than training's leak guard (0.8): the pool was
written without sight of them, and this checks it. Prints what was dropped and why, and the counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def held_out_texts(scheme) -> list[str]:
    """Every text a run is scored on outside the seed article, as training's leak guard reads it: the protected
    (dev and test) texts of the multi-source corpus, sentences and articles, and of the contrast set."""
    from kpstance.corpora.load import load_contrast, load_multisource

    corpora = [load_multisource(ROOT / "data/multisource", scheme), load_contrast(ROOT / "data/contrast/pairs.jsonl", scheme)]
    return [t for c in corpora for t in c.protected_texts()]


def main(argv: list[str] | None = None) -> int:
    from kpstance.text.overlap import max_overlap
    from kpstance.text.segment import DATELINE_RE
    from kpstance.weak.scheme import load_scheme

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("drafts", nargs="+")
    ap.add_argument("--out", default=str(ROOT / "data/pool/written.jsonl"))
    ap.add_argument("--max-overlap", type=float, default=0.5)
    args = ap.parse_args(argv)
    scheme = load_scheme(ROOT / "configs/labels/korean_peninsula.yaml")
    rows, seen, dropped, read = [], set(), Counter(), 0
    for draft in args.drafts:
        for line, raw in enumerate(Path(draft).open(encoding="utf-8"), start=1):
            if not raw.strip():
                continue
            r, read = json.loads(raw), read + 1
            text = " ".join(str(r.get("text", "")).split())
            if not text or r.get("actor") not in scheme.actor_labels or r.get("stance") not in scheme.stance_labels \
                    or r.get("kind", "sentence") not in ("sentence", "title"):
                dropped["bad label, kind or empty text"] += 1
                print(f"{draft}:{line}: dropped (labels or kind): {raw.strip()[:120]}")
                continue
            if text.lower() in seen:
                dropped["repeats an earlier line"] += 1
                continue
            seen.add(text.lower())
            m = DATELINE_RE.match(text)  # a dateline written alone is read as the segmenter reads one
            kind = "dateline" if m and m.end() >= len(text.rstrip(" -—–")) else r.get("kind", "sentence")
            rows.append({"id": f"w-{r.get('id') or f'{Path(draft).stem}-{line}'}", "text": text, "kind": kind,
                         "actor": r["actor"], "stance": r["stance"], "pair": r.get("pair"),
                         "note": r.get("note", "")})
    overlap = max_overlap([r["text"] for r in rows], held_out_texts(scheme))
    kept = []
    for r, o in zip(rows, overlap):
        if o >= args.max_overlap:
            dropped[f"Jaccard >= {args.max_overlap} with a held-out text"] += 1
            print(f"dropped (overlap {o:.2f} with a held-out text): {r['id']}: {r['text'][:120]}")
        else:
            kept.append(r)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in kept)
    print(f"kept {len(kept)} of {read} lines; "
          f"dropped: {dict(dropped) or 'none'}")
    print("writer's labels:", dict(Counter((r["actor"], r["stance"]) for r in kept).most_common()))
    print(f"pairs: {len({r['pair'] for r in kept if r['pair']})}; kinds: {dict(Counter(r['kind'] for r in kept))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
