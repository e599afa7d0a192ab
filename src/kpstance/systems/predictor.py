"""Load a saved kpstance model and label sentences: actor, stance and their probabilities.

Prediction sorts sentences by token count and pads each batch only to its own longest sentence
(padding to max length costs several times more), under ``torch.inference_mode``; on CPU it
runs one single-threaded batch per core at a time, which beats multi-threaded small GEMMs. In bf16 a
batch's width is rounded up to a multiple of 8 tokens: as fast, and 130-230 MiB less peak memory over a
long job (at most 16 shapes instead of one per width; ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..weak.scheme import LabelScheme
from .encoder import check_safetensors, pad_batch, quiet_transformers, resolve_device
from .heads import HeadLayout

log = logging.getLogger(__name__)
_THREADS_LOCK = threading.Lock()
REQUIRED_FILES = ("config.json", "tokenizer_config.json")
# oneDNN keeps each compiled kernel (one per operation and batch shape) in a cache of 1,024 by default. Over a long
# job the shapes keep changing (a chunk's last batch has any number of rows, the speaker-swapped copies their own),
# the cache fills for hours, and resident memory with it: about 3 MiB a chunk in bf16, 130 MiB over 200,000
# sentences with speaker averaging. 64 kernels hold the shapes in use at no measured cost in speed
# (docs/benchmarks.md). Read by oneDNN when it first compiles a kernel; a value the user set is kept.
ONEDNN_CACHE = "64"
# a tokenizer's vocabulary: tokenizer.json, or the files a slow tokenizer is built from
VOCAB_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
               "tokenizer.model")


def bound_kernel_cache() -> None:
    """Cap oneDNN's kernel cache at ``ONEDNN_CACHE`` unless ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` is set already; too
    late (and harmless) where this process has run a oneDNN kernel before."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", ONEDNN_CACHE)


class StancePredictor:
    """Actor and stance for each sentence, from a model saved by kpstance (or held in memory)."""

    def __init__(self, model: Any, tokenizer: Any, max_length: int = 128, device: str = "cpu",
                 precision: str = "fp32", n_units: int | None = None) -> None:
        """``precision``: fp32, bf16 (autocast), int8 (torchao, quantises ``model`` in place and compiles it) or
        auto (``systems.precision.choose`` for this machine and a job of ``n_units`` sentences)."""
        from .first_token import first_token_view
        from .precision import REFERENCE_WORK, choose, compile_int8, linear_work, quantize_int8

        bound_kernel_cache()
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.device = resolve_device(device)
        self.choice = choose(precision, self.device, n_units, work=linear_work(model) / REFERENCE_WORK)
        self.precision = self.choice.precision
        log.info("precision %s (%s)", self.precision, self.choice.reason)  # the Python API's record of auto's choice
        self.model.to(self.device)
        if self.precision == "int8":
            quantize_int8(self.model)  # in place, before the view below takes the model's modules
        # the model's last layer computed only where its classifier reads it (BERT's first token): the same logits,
        # 1.16-1.26x faster on one core (docs/benchmarks.md); other architectures run as they are
        self._plain: Callable[..., Any] = first_token_view(self.model) or self.model
        self._forward = compile_int8(self._plain) if self.precision == "int8" else self._plain
        self._compiled = False  # int8: the first batch compiles, alone, before any worker thread runs
        # batch widths rounded up to this many tokens: in bf16 as fast and 130-230 MiB less peak memory over a
        # long job (fewer distinct shapes); in fp32 and int8 it costs 4-8 % of the speed, so they pad exactly
        self.pad_multiple = 8 if self.precision == "bf16" else 1
        self.folder: Path | None = None  # the saved folder it was loaded from
        self.meta: dict = {}  # kpstance.json of a saved folder: run, experiment, base model, label scheme
        self.temperature = {"actor": 1.0, "stance": 1.0}  # per head, fitted on dev (calibration)
        self.layout = HeadLayout.from_id2label({int(k): v for k, v in model.config.id2label.items()})
        # a model trained blind for stance (system.blind_stance) reads stance from the text with every actor
        # mention masked: a second pass; set from the label scheme by ``load`` and by the system that trained it
        self.blind: Callable[[str], str] | None = None
        # speaker averaging: a unit's stance is read from it and from this many copies with its predicted actor's
        # names swapped for other actors' (``weak.swap``, role for role), the log-probabilities averaged, so a label
        # cannot rest on who speaks; from kpstance.json (system.speaker_average), 0 = one plain pass
        self.speaker_average = 0
        self.label_scheme: LabelScheme | None = None  # the names table the copies are made from (default: scheme())
        self._swapper: Any = None
        self.truncated: list[int] = []  # the inputs of the last predict_proba call cut to max_length
        # raw logits by (text, context), kept over calls where set to a dict (None: nothing kept, constant memory for
        # a corpus). A run's evaluation reads the same sentences many times (the calibration, the scores, the swap
        # test's originals, the speaker-averaging copies of both): each is computed once
        self.memo: dict[tuple[str, str | None], tuple[Any, Any, bool]] | None = None
        self.actors, self.stances = list(self.layout.actors), list(self.layout.stances)

    @classmethod
    def load(cls, model_dir: str | os.PathLike, device: str = "cpu", precision: str | None = None,
             expected_labels: dict[str, Sequence[str]] | None = None, n_units: int | None = None,
             speaker_average: int | None = None) -> StancePredictor:
        """Load a saved folder: safetensors only, never remote code; labels checked against a scheme.

        ``precision`` (default ``$KPSTANCE_PRECISION``, else auto): fp32, bf16, int8 or auto, which picks by the
        machine and by ``n_units``, the sentences the job will hold (unknown: taken as small); see
        ``systems.precision``. The folder is unchanged: int8 quantises the loaded copy. ``speaker_average``: the
        swapped copies each stance is averaged over (default: the model's own, from its training config).
        """
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from .precision import default_precision

        quiet_transformers()
        p = Path(model_dir)
        if p.is_file():
            raise KpstanceError(f"a file, not a model folder (the model is the folder that holds it: {p.parent})", p)
        if not p.is_dir():
            raise KpstanceError("model folder not found", p)
        missing = [f for f in REQUIRED_FILES if not (p / f).is_file()]
        if not any((p / f).is_file() for f in VOCAB_FILES):  # else transformers builds a tokenizer of 5 tokens
            missing.append("tokenizer.json")
        if missing:
            raise KpstanceError(f"incomplete model folder: missing {', '.join(missing)}{task_hint(p)}", p)
        meta = _read_meta(p / "kpstance.json")
        check_safetensors(p)
        for f in sorted(p.glob("*.safetensors")):
            _check_weights(f)
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                p, use_safetensors=True, trust_remote_code=False, local_files_only=True
            )
        except (OSError, ValueError) as e:
            raise KpstanceError(f"cannot load model: {str(e).splitlines()[0]}", p) from None
        try:
            tokenizer = AutoTokenizer.from_pretrained(p, trust_remote_code=False, local_files_only=True)
        except (OSError, ValueError) as e:
            where = p / "tokenizer.json" if (p / "tokenizer.json").is_file() else p
            raise KpstanceError(f"cannot load the tokenizer: {str(e).splitlines()[0]}", where) from None
        n_emb = int(getattr(model.config, "vocab_size", 0) or 0)
        if len(tokenizer) < n_emb // 2:  # a vocabulary cut short: most words would become [UNK]
            raise KpstanceError(f"incomplete tokenizer: it knows {len(tokenizer)} tokens, the model has {n_emb} "
                                "token embeddings (tokenizer.json damaged or from another model)", p)
        pred = cls(model, tokenizer, int(meta.get("max_length", 128)), device, precision or default_precision(),
                   n_units)
        pred.meta, pred.folder = meta, p
        pred.temperature = {g: float(t) for g, t in meta.get("temperature", pred.temperature).items()}
        if meta.get("blind_stance"):
            pred.blind = blinder(pred.scheme())
        n = int(meta.get("speaker_average", 0)) if speaker_average is None else speaker_average
        if n < 0:
            raise KpstanceError(f"speaker averaging needs 0 or more copies, got {n}")
        pred.speaker_average = n
        if expected_labels is not None:
            want_a, want_s = list(expected_labels["actor"]), list(expected_labels["stance"])
            if want_a != pred.actors or want_s != pred.stances:
                order = sorted(want_a) == sorted(pred.actors) and sorted(want_s) == sorted(pred.stances)
                raise KpstanceError(
                    f"the model's labels (actors {pred.actors}, stances {pred.stances}) do not match the "
                    f"configured scheme (actors {want_a}, stances {want_s})"
                    + ("; the same labels in another order: list them in the model's order" if order else ""),
                    p,
                )
        return pred

    @property
    def model_id(self) -> str | None:
        """Which model this is, as the tables it predicts record it (their ``model`` column): the run that saved it,
        whatever folder or link it is loaded through (a Ray replica's temporary copy included); None for a model
        saved without a run name."""
        return _run_name(self.meta)

    def scheme(self, labels: str | os.PathLike | None = None) -> LabelScheme:
        """The label scheme whose rules give each unit its context: ``labels`` if given, else the scheme the model
        was trained with (its folder's ``config.yaml``), else the default label YAML."""
        return model_scheme(self.folder, labels)

    def _workers(self, workers: int | None, n_batches: int) -> int:
        """CPU: one single-threaded worker per core beats one multi-threaded GEMM on these small shapes."""
        import torch

        if workers is not None and workers < 1:
            raise KpstanceError(f"workers must be at least 1, got {workers}")
        if self.device != "cpu":
            return 1
        w = torch.get_num_threads() if workers is None else workers
        return max(1, min(w, n_batches))

    def _collate(self, enc: Any, idx: list[int]) -> dict[str, Any]:
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        batch = pad_batch(enc["input_ids"], enc.get("token_type_ids"), idx, self.tokenizer.pad_token_id or 0, left,
                          self.pad_multiple)
        return {k: v.to(self.device) for k, v in batch.items()}

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64,
                      workers: int | None = None, contexts: Sequence[str] | None = None) -> tuple[Any, Any]:
        """Softmax probabilities per group: (n × actors, n × stances) as numpy arrays; a model blind for stance
        takes the stance from a second pass over the texts and contexts with every actor mention masked."""
        pa, ps, self.truncated = self._proba(texts, batch_size, workers, contexts)
        if self.truncated:  # the texts' own; a second pass (masked, swapped) reads the same sentences
            log.warning("%d sentence(s) longer than %d tokens were truncated", len(self.truncated), self.max_length)
        if self.blind is not None:
            _, ps, _ = self._proba([self.blind(t) for t in texts], batch_size, workers,
                                   None if contexts is None else [self.blind(c) for c in contexts])
        elif self.speaker_average > 0:
            ps = self._average_speakers(texts, contexts, pa, ps, batch_size, workers)
        return pa, ps

    def _average_speakers(self, texts: Sequence[str], contexts: Sequence[str] | None, pa: Any, ps: Any,
                          batch_size: int, workers: int | None) -> Any:
        """Each unit whose predicted actor is named in its text or speaker, read again as said by
        ``speaker_average`` other actors (clean swaps only, seeded by the text: the same copies in any batch); its
        stance distribution becomes the normalised geometric mean over the original and the copies, which keeps
        temperature scaling exact (the mean of logits over T). Units with no clean copy keep their own."""
        import numpy as np

        from ..weak.swap import Swapper
        from .context import format_context, parse_context

        if self.label_scheme is None:
            self.label_scheme = self.scheme()
        scheme = self.label_scheme
        if self._swapper is None:
            self._swapper = Swapper(scheme, remember=False)  # a corpus's sentences are read once: nothing to keep
        owner, copy_texts, copy_contexts = [], [], []
        for i, a in enumerate(pa.argmax(1).tolist()):
            actor = self.actors[a]
            if actor == scheme.none_actor:
                continue
            kind, speaker = parse_context(contexts[i]) if contexts is not None else ("sentence", None)
            made, _ = self._swapper.copies([texts[i], speaker or ""], actor, (texts[i], speaker),
                                           self.speaker_average, [kind, "sentence"])
            for c in made:
                owner.append(i)
                copy_texts.append(c.texts[0])
                copy_contexts.append(format_context(kind, c.texts[1] or None))
        if not owner:
            return ps
        _, cs, _ = self._proba(copy_texts, batch_size, workers, copy_contexts if contexts is not None else None)
        logs = np.log(np.clip(ps, 1e-12, 1.0)).astype(np.float64)
        counts = np.ones(len(ps))
        np.add.at(logs, owner, np.log(np.clip(cs, 1e-12, 1.0)))
        np.add.at(counts, owner, 1)
        z = logs / counts[:, None]
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def _proba(self, texts: Sequence[str], batch_size: int = 64,
               workers: int | None = None, contexts: Sequence[str] | None = None) -> tuple[Any, Any, list[int]]:
        """Softmax probabilities per group (at the current temperatures), and the indices of the inputs cut to
        ``max_length``; with ``memo`` set, only inputs it lacks are computed, once each."""
        import numpy as np
        import torch

        if batch_size < 1:
            raise KpstanceError(f"batch size must be at least 1, got {batch_size}")
        if self.memo is None:
            la, ls, truncated = self._logits(texts, batch_size, workers, contexts)
        else:
            keys = [(t, None if contexts is None else contexts[i]) for i, t in enumerate(texts)]
            first: dict[tuple[str, str | None], int] = {}
            for i, k in enumerate(keys):
                if k not in self.memo:
                    first.setdefault(k, i)
            new = list(first.values())
            if new:
                na, ns, cut = self._logits([texts[i] for i in new], batch_size, workers,
                                           None if contexts is None else [contexts[i] for i in new])
                cut_set = set(cut)
                self.memo.update({keys[i]: (na[j], ns[j], j in cut_set) for j, i in enumerate(new)})
            got = [self.memo[k] for k in keys]
            la = np.stack([g[0] for g in got]) if got else np.zeros((0, len(self.actors)), dtype=np.float32)
            ls = np.stack([g[1] for g in got]) if got else np.zeros((0, len(self.stances)), dtype=np.float32)
            truncated = [i for i, g in enumerate(got) if g[2]]
        ta, ts = self.temperature["actor"], self.temperature["stance"]
        pa = torch.softmax(torch.from_numpy(la) / ta, dim=-1).numpy()
        ps = torch.softmax(torch.from_numpy(ls) / ts, dim=-1).numpy()
        return pa, ps, truncated

    def _logits(self, texts: Sequence[str], batch_size: int, workers: int | None,
                contexts: Sequence[str] | None) -> tuple[Any, Any, list[int]]:
        """Raw actor and stance logits from one pass, and the indices of the inputs cut to ``max_length``.

        All texts are tokenized at once, sorted by token count and cut into batches, so a batch
        holds sentences of (nearly) one length and padding costs about 2 % instead of 25 % when
        sorting by characters. On CPU the batches go to ``workers`` threads (default: one per
        intra-op thread), each running single-threaded; a batch's result does not depend on
        which thread ran it, so predictions are deterministic.
        """
        import numpy as np
        import torch

        n = len(texts)
        la = np.zeros((n, len(self.actors)), dtype=np.float32)
        ls = np.zeros((n, len(self.stances)), dtype=np.float32)
        if n == 0:
            return la, ls, []
        pair = [list(contexts)] if contexts is not None else []  # a second text: the unit's kind and speaker
        enc = self.tokenizer(list(texts), *pair, truncation=True, max_length=self.max_length)
        encodings = getattr(enc, "encodings", None) or []
        truncated = [i for i, e in enumerate(encodings) if e.overflowing]
        order = sorted(range(n), key=lambda i: len(enc["input_ids"][i]))
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
        use_bf16 = self.precision == "bf16"

        def run(idx: list[int]) -> None:  # inference_mode and autocast are per thread
            ctx = torch.autocast(self.device, dtype=torch.bfloat16) if use_bf16 else nullcontext()
            with torch.inference_mode(), ctx:
                logits = self._forward(**self._collate(enc, idx)).logits.float()
                la[idx] = logits[:, self.layout.actor_index].cpu().numpy()
                ls[idx] = logits[:, self.layout.stance_index].cpu().numpy()

        # int8's compiled kernels spread each batch over every core themselves (faster here than one single-threaded
        # batch per core) and are specialised to the thread count, which a worker pool would change (a recompile)
        w = 1 if self.precision == "int8" else self._workers(workers, len(batches))
        if w == 1:
            if self.precision == "int8" and not self._compiled:
                with _THREADS_LOCK:
                    self._compile(run, batches.pop(0))
            for idx in batches:
                run(idx)
        else:
            with _THREADS_LOCK:  # the thread count is process-wide: one multi-worker call at a time
                threads = torch.get_num_threads()
                torch.set_num_threads(max(1, threads // w))
                try:
                    with ThreadPoolExecutor(w, thread_name_prefix="kpstance-predict") as pool:
                        list(pool.map(run, batches))
                finally:
                    torch.set_num_threads(threads)
        return la, ls, truncated

    def _compile(self, run: Callable[[list[int]], None], first: list[int]) -> None:
        """Run the first batch alone, which compiles the int8 model; where compiling fails (no C++ compiler,
        an unsupported platform) warn once and go on with the quantised model uncompiled (about fp32's speed)."""
        import warnings

        from .precision import warn_once

        with warnings.catch_warnings():  # the caller holds _THREADS_LOCK
            warnings.filterwarnings("ignore", message=".*_stable_hash_for_caching.*")  # torchao's tensor, torch's cache
            try:
                run(first)
            except Exception as e:  # torch.compile raises its backend's own errors
                warn_once("int8-compile", f"int8: torch.compile failed ({str(e).splitlines()[0][:200]}); running "
                                          "the int8 model uncompiled, about as fast as fp32")
                self._forward = self._plain
                run(first)
            self._compiled = True

    def predict(self, texts: Sequence[str] | str, batch_size: int = 64, workers: int | None = None,
                contexts: Sequence[str] | None = None) -> list[dict]:
        """One dict per sentence: actor, stance, actor_score, stance_score and both distributions.

        A saved model that reads context gets, for sentences given without one, the context ``kpstance predict``
        gives a ``.jsonl`` line without ``kind`` or ``speaker`` (a sentence, no speaker), so both agree; for a
        whole article with its speakers, use ``predict_article``.
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return []
        blank = next((i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()), None)
        if blank is not None:  # the CLI refuses such a line too; a label for no text would be a made-up one
            raise KpstanceError(f"text {blank} is {'empty' if isinstance(texts[blank], str) else 'not a string'}: "
                                "every item must be a sentence")
        if contexts is None and self.meta.get("context"):
            from .context import format_context

            contexts = [format_context("sentence", None)] * len(texts)
        pa, ps = self.predict_proba(texts, batch_size, workers, contexts)
        # whole arrays to Python at once (``tolist`` gives the same floats as ``float`` of each element): per-element
        # numpy calls were a few per cent of a corpus run's time
        actors, stances = self.actors, self.stances
        out = []
        for ai, si, arow, srow in zip(pa.argmax(1).tolist(), ps.argmax(1).tolist(), pa.tolist(), ps.tolist()):
            out.append({
                "actor": actors[ai],
                "stance": stances[si],
                "actor_score": round(arow[ai], 6),
                "stance_score": round(srow[si], 6),
                "actor_probs": dict(zip(actors, [round(v, 6) for v in arow])),
                "stance_probs": dict(zip(stances, [round(v, 6) for v in srow])),
            })
        return out

    def predict_rows(self, rows: Iterable[tuple[str, dict, Any]], scheme: LabelScheme | None = None,
                     batch_size: int = 64, workers: int | None = None, chunk_size: int = 4096
                     ) -> Iterator[list[tuple[tuple[str, dict, Any], dict]]]:
        """The one way inputs become labels, for ``kpstance predict``, ``summarize``, ``annotate export`` and
        ``predict_article``: each row (path, record, unit or line number, as ``text.read.iter_inputs`` gives)
        gets its context (kind and carried speaker, from ``scheme``'s rules, default ``self.scheme()``) and a
        prediction; the model reads the context when it was trained with one. Yields (row, prediction) per chunk
        of ``chunk_size`` rows, memory bounded; an article's speaker memory carries across chunks, so the chunk
        size never changes a label. Each prediction also holds the row's ``kind`` and ``speaker`` (None when the
        unit is not reported speech); ``self.truncated`` lists the chunk's rows cut to ``max_length``.
        """
        from ..text.read import chunks
        from .context import ContextReader

        if chunk_size < 1:
            raise KpstanceError(f"chunk size must be at least 1, got {chunk_size}")
        reader = ContextReader(scheme or self.scheme())
        for chunk in chunks(iter(rows), chunk_size):
            ctx = reader(chunk)
            preds = self.predict_in_context([r["text"] for _, r, _ in chunk], ctx, batch_size, workers)
            yield list(zip(chunk, preds))

    def predict_in_context(self, texts: Sequence[str], ctx: Sequence[tuple[str, str | None]], batch_size: int = 64,
                           workers: int | None = None) -> list[dict]:
        """``predict`` for units whose (kind, speaker) the context reader gave (``predict_rows``, and the Ray
        engine's replicas, which read each article's context where they segment it); each prediction also holds
        its ``kind`` and ``speaker``. The model reads the context only when it was trained with one."""
        from .context import format_context

        preds = self.predict(list(texts), batch_size, workers,
                             contexts=[format_context(k, s) for k, s in ctx] if self.meta.get("context") else None)
        return [{**p, "kind": k, "speaker": s} for p, (k, s) in zip(preds, ctx)]

    def predict_article(self, text: str, article_id: str = "article") -> list[dict]:
        """Label a whole article as ``kpstance predict`` labels a ``.txt`` file: segmented into title, dateline,
        subheadings and sentences, each read with its kind and speaker ("he said" carries the last named one).

        One dict per unit: id, kind, text, speaker (None when the unit is not reported speech), actor, stance,
        actor_score and stance_score.
        """
        from ..text.read import unit_rows

        rows = unit_rows(text, article_id)
        return [{"id": rec["id"], "kind": p["kind"], "text": rec["text"], "speaker": p["speaker"], "actor": p["actor"],
                 "stance": p["stance"], "actor_score": p["actor_score"], "stance_score": p["stance_score"]}
                for chunk in self.predict_rows(rows) for (_, rec, _), p in chunk]

    def predict_stream(self, texts: Iterable[str], batch_size: int = 64, chunk: int = 2048,
                       workers: int | None = None) -> Iterator[dict]:
        """Predict an iterable of any length in chunks, so memory stays constant."""
        from ..text.read import chunks

        for part in chunks(iter(texts), chunk):
            yield from self.predict(part, batch_size, workers)


def blinder(scheme: LabelScheme) -> Callable[[str], str]:
    """The masking a model blind for stance reads its stance input through (``weak.aliases.blind``)."""
    from ..weak.aliases import blind, matcher_for

    matcher = matcher_for(scheme)
    return lambda text: blind(text, matcher)


def task_hint(folder: str | os.PathLike) -> str:
    """What to say when a model is looked for in a task's folder (``models/<task_name>``, whose ``latest`` link is its
    newest run's model) or in ``models/`` itself: the path meant, most likely; else nothing."""
    p = Path(folder)
    return f" (a folder of models: the newest is {p / 'latest'})" if (p / "latest" / "config.json").is_file() else ""


def model_scheme(model_dir: str | os.PathLike | None, labels: str | os.PathLike | None = None) -> LabelScheme:
    """``labels`` if given, else the scheme a saved model was trained with (its ``config.yaml``), else the default."""
    from ..weak.scheme import default_labels, load_scheme

    if labels:
        return load_scheme(labels)
    cfg = Path(model_dir) / "config.yaml" if model_dir else None
    if cfg is not None and cfg.is_file():
        import yaml

        try:
            data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            raise KpstanceError("not valid YAML", cfg) from None
        if isinstance(data, dict) and isinstance(data.get("labels"), dict):
            return load_scheme(data["labels"], f"{cfg} (labels)", saved=True)
    return load_scheme(default_labels())


def model_id(model_dir: str | os.PathLike) -> str | None:
    """A saved model's identity without loading it: the run name its ``kpstance.json`` records (a copy of the
    folder, or models/latest, is the same model); None without one (a folder's name is no identity: Ray's replicas
    load a temporary copy)."""
    return _run_name(_read_meta(Path(model_dir) / "kpstance.json"))


def _run_name(meta: dict) -> str | None:
    run = meta.get("run_name")
    return str(run) if run else None


def _read_meta(path: Path) -> dict:
    """A model folder's ``kpstance.json`` (absent: {}); damaged, it is refused rather than half read."""
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KpstanceError(f"not valid JSON ({getattr(e, 'msg', None) or e.reason}); the model folder is damaged",
                            path) from None
    if not isinstance(meta, dict):
        raise KpstanceError(f"expected a JSON object, got {type(meta).__name__}; the model folder is damaged", path)
    try:
        int(meta.get("max_length", 128))
        {g: float(t) for g, t in (meta.get("temperature") or {}).items()}
    except (TypeError, ValueError, AttributeError):
        raise KpstanceError("'max_length' or 'temperature' has the wrong type; the model folder is damaged",
                            path) from None
    return meta


def _check_weights(path: Path) -> None:
    """Read a safetensors file's header and tensor table: a truncated or foreign file is one line, not a traceback."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            for name in f.keys():
                f.get_slice(name)
    except Exception as e:  # safetensors raises its own SafetensorError, or OSError
        raise KpstanceError(f"not a readable safetensors file ({str(e).splitlines()[0]}); the model folder is "
                            "damaged", path) from None
