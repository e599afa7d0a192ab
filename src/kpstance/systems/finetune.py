"""Fine-tune one encoder for actor and stance together: a short loop, fast on a small CPU.

One forward pass gives both groups' logits; the loss is one cross-entropy per group (the actor's weighted by
``trainer.actor_weight``), plus two optional terms:

- counterfactual logit pairing (Garg et al. 2019; ``trainer.pair_weight``): a unit and its speaker-swapped copy
  must get the same stance distribution, the squared distance between their stance log-probabilities is added;
- distillation (``trainer.distill_weight``): where a teacher's distributions are given, the loss mixes the
  cross-entropy on the labels with the KL divergence from the teacher's distributions at ``distill_temperature``.

Batches are grouped by length and padded dynamically, the optimizer is fused AdamW where
torch offers it, and bf16 autocast is used where the machine computes bf16 natively (``trainer.precision``,
``systems.precision.choose_training``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import KpstanceError
from ..files import atomic_folder, fault
from .encoder import pad_batch, resolve_device
from .heads import HeadLayout

log = logging.getLogger(__name__)


@dataclass
class TrainStats:
    steps: int
    examples: int
    seconds: float
    final_loss: float
    precision: str = "fp32"  # what the steps computed in (trainer.precision resolved for this machine)

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds else float("nan")


def dist_rank_world() -> tuple[int, int]:
    """(rank, world size) from the environment torchrun or accelerate set; (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def training_device(name: str = "auto") -> Any:
    """The torch device to train on: ``auto`` takes CUDA when there is one; under torchrun each
    process takes the GPU of its LOCAL_RANK."""
    import torch

    if resolve_device(name, "trainer.device=") == "cpu":
        return torch.device("cpu")
    index = int(os.environ.get("LOCAL_RANK", 0))
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def init_distributed(device: Any = None) -> bool:
    """Join the process group once per process (gloo on CPU, nccl on GPU); False when not distributed."""
    import torch.distributed as dist

    _, world = dist_rank_world()
    if world <= 1:
        return False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device is not None and device.type == "cuda" else "gloo")
    return True


def seed_everything(seed: int, deterministic: bool = True) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS on CUDA
        torch.use_deterministic_algorithms(True, warn_only=True)


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: random.Random, group: bool = True,
                           mega_batches: int = 50) -> list[list[int]]:
    """Shuffle, then sort within mega-batches of ``mega_batches`` batches by length, then shuffle the batches.

    Batches hold sentences of similar length, so dynamic padding wastes little, while the
    order still changes every epoch. Small mega-batches keep each batch a mix of kinds of unit
    (with 50 on a small training set the whole epoch is sorted, and each batch holds mostly one kind).
    """
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    if group:
        mega = batch_size * max(1, mega_batches)
        idx = [i for k in range(0, len(idx), mega) for i in sorted(idx[k : k + mega], key=lambda j: -lengths[j])]
    batches = [idx[k : k + batch_size] for k in range(0, len(idx), batch_size)]
    rng.shuffle(batches)
    return batches


def copy_groups(order: Sequence[int], partners: Mapping[int, Sequence[int]] | None) -> list[list[int]]:
    """The examples of ``order`` grouped as a unit followed by its speaker-swapped copies (``partners``), so that a
    batch drawn over groups holds a unit with its copies; a copy whose unit is not trained on stands alone."""
    trained = set(order)
    partners = partners or {}
    taken: set[int] = set()
    groups = []
    for i in sorted(order, key=lambda i: not partners.get(i)):  # the units with copies first, then the rest
        if i in taken:
            continue
        group = [i] + [j for j in partners.get(i, ()) if j in trained and j not in taken and j != i]
        taken.update(group)
        groups.append(group)
    return groups


def stance_weights(labels: Sequence[int], n_classes: int, power: float, device: Any = None) -> Any:
    """Per stance class, its training count to the power ``-power``, scaled so that the labelled examples' mean
    weight is one (the loss keeps its scale); None when ``power`` is 0. A class without examples gets weight 0
    (it adds nothing either way). Why: the stance head is judged by macro-F1, where a rare class counts as much as
    a common one."""
    if not power:
        return None
    import torch

    counts = torch.bincount(torch.tensor(list(labels), dtype=torch.long), minlength=n_classes).double()
    w = torch.where(counts > 0, counts.clamp(min=1) ** -power, torch.zeros_like(counts))
    w = w * counts.sum() / (w * counts).sum()
    return w.float().to(device) if device is not None else w.float()


def make_optimizer(model: Any, lr: float, weight_decay: float, fused: bool) -> Any:
    import torch

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "LayerNorm" in name or name.endswith(".bias") else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if fused:
        try:
            return torch.optim.AdamW(groups, lr=lr, fused=True)
        except (RuntimeError, TypeError) as e:
            log.info("fused AdamW unavailable (%s); using the default implementation", e)
    return torch.optim.AdamW(groups, lr=lr)


def fine_tune(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    actor_ids: Sequence[int],
    stance_ids: Sequence[int],
    layout: HeadLayout,
    cfg: Any,
    seed: int,
    max_length: int = 128,
    description: str = "train",
    checkpoint_dir: Path | None = None,
    pairs: Sequence[str] | None = None,
    partners: Mapping[int, Sequence[int]] | None = None,
    trained: Sequence[bool] | None = None,
    soft: Sequence[Sequence[float] | None] | None = None,
    masked: tuple[Sequence[str], Sequence[str] | None] | None = None,
    blind_stance: bool = False,
    labelled: Sequence[bool] | None = None,
    unlike: Sequence[bool] | None = None,
    hidden: Sequence[Any | None] | None = None,
) -> TrainStats:
    """Train ``model`` in place on (text, actor id, stance id) triples; return throughput stats.

    Raises KpstanceError when the loss stops being finite (the model diverged) or no step ran, so that no
    untrained or broken model is ever returned, saved or pointed at by ``latest``.

    With ``checkpoint_dir`` and ``cfg.checkpoint_every > 0``, the model, optimizer, scheduler
    and RNG state are saved every that many steps, and a checkpoint found there is resumed:
    the batch order is replayed from the seed, so the result equals an uninterrupted run.

    ``partners``: example index -> indices of its speaker-swapped copies, paired with it when
    ``cfg.pair_weight`` > 0 (one copy per step, chosen by the step). ``trained``: which examples the
    cross-entropy trains on (a copy that serves only as a partner is not). ``soft``: per example, the teacher's
    actor and stance probabilities in the head's column order, or None (weighted by ``cfg.distill_weight``).
    ``masked``: the texts and contexts with every actor mention masked, read in a second pass: with ``blind_stance``
    the stance columns come from it (a stance head blind to the speaker); with ``cfg.mask_pair_weight`` > 0 the
    stance head also learns from it and the text's stance is paired with it (masked pairing). ``labelled``: which
    examples the labels' cross-entropy reads; the others (a distillation pool) learn from ``soft`` alone, which they
    must have (a pool example without one, let through by ``data.teacher.max_missing``, is left out of ``trained``
    by the caller). ``unlike``: which examples are direction-flipped copies, whose actor is trained as usual and whose
    stance is trained away from its label by unlikelihood, -log(1 - p(label)) times ``cfg.unlike_weight``.
    ``hidden``: per example, the teacher's representation before its classifier, or None; with ``cfg.hidden_weight``
    > 0 the batch's similarity structure as the student's classifier reads it is pulled towards the teacher's
    (``similarity_loss``).
    """
    import time

    import torch
    from transformers import get_linear_schedule_with_warmup

    from .first_token import first_token_view

    if not texts:
        raise KpstanceError("no training examples (every training sentence was dropped or none was given)")
    seed_everything(seed, cfg.deterministic)
    # with ``pairs`` each example is a text pair: the unit, then its context (kind and speaker)
    enc = tokenizer(list(texts), *([list(pairs)] if pairs else []), truncation=True, max_length=max_length)
    ids = enc["input_ids"]
    tti = enc.get("token_type_ids")
    mask_pair = float(getattr(cfg, "mask_pair_weight", 0.0) or 0.0)
    mask_every = int(getattr(cfg, "mask_pair_every", 1) or 1)  # the masked pass on one step in this many
    if (blind_stance or mask_pair) and masked is None:
        raise KpstanceError("a stance head blind to the speaker and masked pairing need the masked texts")
    if masked is not None:
        enc_b = tokenizer(list(masked[0]), *([list(masked[1])] if masked[1] else []), truncation=True,
                          max_length=max_length)
        ids_b, tti_b = enc_b["input_ids"], enc_b.get("token_type_ids")
    order = [i for i in range(len(ids)) if trained is None or trained[i]]  # the examples batches are drawn from
    together = bool(getattr(cfg, "copies_in_batch", False))
    copied_only = bool(getattr(cfg, "mask_pair_copied_only", False))
    groups = copy_groups(order, partners) if together or copied_only else None
    # the items batches are made of: single examples, or a unit with its speaker-swapped copies
    items = groups if together else [[i] for i in order]
    lengths = [max(len(ids[i]) for i in g) for g in items]
    # trainer.mask_pair_copied_only: the masked pass only for the units with copies and the copies themselves
    copied = {i for g in groups if len(g) > 1 for i in g} if copied_only else None
    if together and mask_pair:  # a unit's copies share their masked text; a text with no mention has none of its own
        masked_key = [tuple(m) for m in ids_b]
        nothing_masked = [list(m) == list(t) for m, t in zip(ids_b, ids)]
    # items per batch, so that a batch still holds about cfg.batch_size examples
    per_batch = max(1, round(cfg.batch_size * len(items) / len(order)))
    rng = random.Random(seed)
    rank, world = dist_rank_world()
    # data parallel: every rank draws the same batch order and takes every world-th batch
    per_epoch = max(1, math.ceil(len(items) / per_batch) // world)
    total = per_epoch * cfg.epochs if cfg.max_steps in (None, -1) else int(cfg.max_steps)
    device = training_device(cfg.device)
    model.to(device)
    model.train()
    if init_distributed(device):
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:  # the last layer computed only where the classifier reads it (BERT's first token): the same loss and
        # gradients for less work (systems.first_token); other architectures run the model as it is
        forward = first_token_view(model) or model
    opt = make_optimizer(model, cfg.lr, cfg.weight_decay, cfg.fused_adamw)
    sched = get_linear_schedule_with_warmup(opt, int(cfg.warmup_ratio * total), total)
    a_t = torch.tensor(list(actor_ids), device=device)
    s_t = torch.tensor(list(stance_ids), device=device)
    from .precision import choose_training

    choice = choose_training(getattr(cfg.precision, "value", cfg.precision), device.type)
    log.info("%s: training in %s (%s)", description, choice.precision, choice.reason)
    bf16 = choice.precision == "bf16"
    smoothing = float(getattr(cfg, "label_smoothing", 0.0) or 0.0)
    ce = torch.nn.CrossEntropyLoss(reduction="none", label_smoothing=smoothing)
    hard = torch.tensor([True] * len(ids) if labelled is None else list(labelled), device=device)
    unl = torch.tensor(list(unlike), device=device) if unlike is not None and any(unlike) else None
    unlike_weight = float(getattr(cfg, "unlike_weight", 1.0))
    # the examples whose stance label is their own: labelled, and not a direction-flipped copy
    own = [(labelled is None or bool(labelled[i])) and not (unlike is not None and bool(unlike[i]))
           for i in range(len(ids))]
    told = torch.tensor(own, device=device)
    if soft is None and not bool(hard.all()):
        raise KpstanceError("training examples without labels need a teacher's distributions (trainer.distill_weight)")
    extra = _ExtraLoss(cfg, layout, partners, soft, device)
    relate = _Relations(cfg, model, hidden, device)
    ce_stance = torch.nn.CrossEntropyLoss(
        weight=stance_weights([stance_ids[i] for i in order if own[i]], len(layout.stance_cols),
                              float(getattr(cfg, "stance_balance", 0.0) or 0.0), device), reduction="none",
        label_smoothing=smoothing)

    poe = float(getattr(cfg, "prior_poe", 0.0) or 0.0)
    log_prior = speaker_prior([(actor_ids[i], stance_ids[i]) for i in order if own[i]], len(layout.actor_cols),
                              len(layout.stance_cols), device) if poe else None

    def one_pass(idx: list[int], ids: Sequence[Sequence[int]], tti: Any) -> Any:
        inputs = {k: v.to(device) for k, v in pad_batch(ids, tti, idx, pad).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext():
            return forward(**inputs).logits.float()

    stance_cols = torch.zeros(len(layout.actor_cols) + len(layout.stance_cols), dtype=torch.bool, device=device)
    stance_cols[list(layout.stance_cols)] = True

    def run_batch(idx: list[int]) -> Any:
        """The logits of a batch: actor columns from the text, stance columns from the masked text when blind."""
        logits = one_pass(idx, ids, tti)
        return torch.where(stance_cols, one_pass(idx, ids_b, tti_b), logits) if blind_stance else logits

    def masked_pairing(logits: Any, idx: list[int]) -> Any:
        """Masked pairing, per example: the stance cross-entropy of the masked text plus ``mask_pair_weight`` times
        the squared distance between the text's stance log-probabilities and the masked text's; the batch mean.
        Every speaker-swapped variant of a text has the same masked text, so the term pulls all of them towards one
        name-free reading while prediction stays one unmasked pass (the stock ``pipeline()`` gives the same labels).
        Zero for an example outside ``copied`` (``mask_pair_copied_only``). With ``copies_in_batch`` the masked pass
        reads each distinct masked text of the batch once, and none for a text with no actor mention (its masked
        text is itself); otherwise one masked reading per example."""
        reading: dict[Any, int] = {}  # masked text (or, per example, the example) -> row of the masked pass
        rows, members, firsts = [], [], []
        for k, i in enumerate(idx):
            if (copied is not None and i not in copied) or (together and nothing_masked[i]):
                continue
            key = masked_key[i] if together else k
            if key not in reading:
                reading[key] = len(firsts)
                firsts.append(i)
            rows.append(reading[key])
            members.append(k)
        if not members:
            return logits.sum() * 0.0
        theirs = one_pass(firsts, ids_b, tti_b)[:, layout.stance_index][rows]
        mine = logits[members][:, layout.stance_index]
        chosen = [idx[k] for k in members]
        dist = ((torch.log_softmax(mine, -1) - torch.log_softmax(theirs, -1)) ** 2).sum(-1)
        per = ce_stance(theirs, s_t[chosen]) * told[chosen].float() + mask_pair * dist
        return per.sum() / len(idx)

    pad = tokenizer.pad_token_id or 0
    step, seen, loss_val = 0, 0, float("nan")
    every = int(cfg.checkpoint_every)
    if checkpoint_dir is not None and (checkpoint_dir / "state.json").is_file():
        step, seen = load_checkpoint(checkpoint_dir, model, opt, sched)
        log.info("%s: resumed from step %d", description, step)
    t0 = time.perf_counter()
    progress = _progress(total, description) if rank == 0 else _NoBar()
    done = step  # batches already trained on: replay the order without training
    with progress as bar, relate:  # relate's hook is on the model only inside
        task = bar.add_task(description, total=total, completed=step) if bar else None
        position = 0
        while position < total:
            batches = length_grouped_batches(lengths, per_batch, rng, cfg.group_by_length, cfg.group_batches)
            if world > 1:
                batches = batches[rank : per_epoch * world : world]
            for batch in batches:
                batch = [i for k in batch for i in items[k]]
                if position >= total:
                    break
                position += 1
                if position <= done:
                    continue
                relate.clear()
                logits = run_batch(batch)
                stance_logits = logits[:, layout.stance_index]
                if log_prior is not None:  # the prior's expert joins in training only
                    stance_logits = stance_logits + poe * log_prior[a_t[batch]]
                stance_loss = ce_stance(stance_logits, s_t[batch])
                if unl is not None and bool(unl[batch].any()):
                    stance_loss = torch.where(unl[batch], unlike_weight * unlikelihood(
                        logits[:, layout.stance_index], s_t[batch]), stance_loss)
                per = cfg.actor_weight * ce(logits[:, layout.actor_index], a_t[batch]) + stance_loss  # per example
                loss = extra(per, hard[batch], logits, batch, position, run_batch) + relate.loss(batch)
                if mask_pair and position % mask_every == 0:
                    loss = loss + masked_pairing(logits, batch)
                loss.backward()
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                seen += len(batch)
                loss_val = float(loss.detach())
                if not math.isfinite(loss_val):
                    raise KpstanceError(f"{description}: the training loss is {loss_val} at step {step} of {total}: "
                                        f"the model diverged and is not saved (lower trainer.lr, now {cfg.lr})")
                if bar:
                    bar.update(task, advance=1, description=f"{description} loss {loss_val:.3f}")
                if checkpoint_dir is not None and every and step % every == 0 and step < total and rank == 0:
                    save_checkpoint(checkpoint_dir, model, opt, sched, step, seen)
                    fault(f"after_checkpoint:{description}:{step}")
    if step == done:  # no step trained: an untrained model must never be saved as if it had learnt
        raise KpstanceError(f"{description}: no training step ran ({total} planned); check trainer.epochs and "
                            "trainer.max_steps")
    model.eval()
    return TrainStats(step, seen, time.perf_counter() - t0, loss_val, choice.precision)


def speaker_prior(pairs: Sequence[tuple[int, int]], n_actors: int, n_stances: int, device: Any = None) -> Any:
    """log p(stance | actor) over the (actor, stance) pairs of the training examples, add-one smoothed: the bias-only
    expert of a product of experts (``trainer.prior_poe``)."""
    import torch

    cells = torch.tensor([a * n_stances + s for a, s in pairs], dtype=torch.long)
    counts = torch.bincount(cells, minlength=n_actors * n_stances).view(n_actors, n_stances).double() + 1
    return (counts / counts.sum(1, keepdim=True)).log().float().to(device)


def unlikelihood(logits: Any, labels: Any) -> Any:
    """Per example, -log(1 - p(label)) (Welleck et al. 2020): low where the label is unlikely, whatever else is
    likely. For a direction-flipped copy the label is its original's stance, which the reversed step should not
    keep."""
    import torch

    p = torch.softmax(logits.float(), dim=-1).gather(1, labels[:, None]).squeeze(1)
    return -torch.log1p(-p.clamp(max=1 - 1e-6))


class _ExtraLoss:
    """The loss terms beyond the labels' cross-entropy: counterfactual logit pairing and distillation."""

    def __init__(self, cfg: Any, layout: HeadLayout, partners: Mapping[int, Sequence[int]] | None,
                 soft: Sequence[Sequence[float] | None] | None, device: Any) -> None:
        import torch

        self.layout = layout
        self.pair_weight = float(getattr(cfg, "pair_weight", 0.0) or 0.0)
        self.partners = {i: list(js) for i, js in (partners or {}).items() if js} if self.pair_weight else {}
        self.alpha = float(getattr(cfg, "distill_weight", 0.0) or 0.0)
        self.temperature = float(getattr(cfg, "distill_temperature", 1.0) or 1.0)
        self.soft = self.has_soft = None
        if self.alpha and soft is not None and any(r is not None for r in soft):
            width = len(layout.actor_cols) + len(layout.stance_cols)
            self.has_soft = torch.tensor([r is not None for r in soft], device=device)
            self.soft = torch.tensor([list(r) if r is not None else [1.0] * width for r in soft], device=device)

    def __call__(self, ce: Any, hard: Any, logits: Any, batch: list[int], position: int,
                 forward: Callable[[list[int]], Any]) -> Any:
        """The batch's loss from its examples' cross-entropies ``ce`` (read where ``hard``): a labelled example with a
        teacher's distribution weighs its cross-entropy by 1 - distill_weight and the KL by distill_weight, one
        without by 1 and 0, a pool example (no label) its KL by 1; then the logit-pairing term."""
        import torch

        w_ce = hard.float()
        per = ce * w_ce
        if self.soft is not None:
            has = self.has_soft[batch].float()
            w_kl = has * torch.where(hard, self.alpha, 1.0)
            per = per * (1 - self.alpha * has) + w_kl * self._kl(logits, self.soft[batch])
        loss = per.mean()
        pairs = [(k, js[(position * 7919 + i) % len(js)]) for k, i in enumerate(batch)
                 if (js := self.partners.get(i))]
        if pairs:
            mine = torch.log_softmax(logits[[k for k, _ in pairs]][:, self.layout.stance_index], dim=-1)
            theirs = torch.log_softmax(forward([j for _, j in pairs])[:, self.layout.stance_index], dim=-1)
            loss = loss + self.pair_weight * ((mine - theirs) ** 2).sum(-1).mean()
        return loss

    def _kl(self, logits: Any, probs: Any) -> Any:
        """Per example: temperature-scaled KL(teacher || student), summed over the two heads, times T² (Hinton et al.
        2015)."""
        import torch

        t = self.temperature
        out = 0.0
        for cols in (self.layout.actor_index, self.layout.stance_index):
            teacher = torch.log(probs[:, cols].clamp_min(1e-8)) / t
            teacher = torch.softmax(teacher, dim=-1)
            student = torch.log_softmax(logits[:, cols] / t, dim=-1)
            out = out + torch.nn.functional.kl_div(student, teacher, reduction="none").sum(-1) * t * t
        return out


def similarity_loss(student: Any, teacher: Any) -> Any:
    """Similarity-preserving distillation (Tung & Mori, ICCV 2019): the mean squared difference between the
    cosine-similarity matrices of a batch's examples under the student's representation and the teacher's. It
    compares which examples the two models read alike, so the widths may differ (MiniLM 384, MPNet 768). Each side
    is centred on the batch first: a pooled sentence representation shares a large component across sentences, under
    which every cosine is near 1 and the differences that separate readings barely count."""
    import torch

    def unit(x: Any) -> Any:
        x = x.float()
        return torch.nn.functional.normalize(x - x.mean(0, keepdim=True), dim=-1)

    s, t = unit(student), unit(teacher)
    return ((s @ s.T - t @ t.T) ** 2).mean()


class _Relations:
    """Representation distillation's term: captures the student's classifier input on the batch's first pass (a hook
    on the layer that gives the logits, so the first-token view and DDP are read alike; in training that input has
    passed the classifier's dropout, as the logits have) and compares it with the teacher's representations of the
    batch's examples that have one (at least three: centred, two rows are always opposite). A context manager: the
    hook is on the model only inside it, whatever ends the training."""

    def __init__(self, cfg: Any, model: Any, hidden: Sequence[Any | None] | None, device: Any) -> None:
        import numpy as np
        import torch

        self.weight = float(getattr(cfg, "hidden_weight", 0.0) or 0.0)
        self.handle, self.seen = None, []
        if not self.weight:
            return
        if hidden is None or all(h is None for h in hidden):
            raise KpstanceError("representation distillation (trainer.hidden_weight) needs the teacher's "
                                "representations (data.teacher.hidden_outputs)")
        from .teacher import head_input

        width = next(len(h) for h in hidden if h is not None)
        self.has = [h is not None for h in hidden]  # a list: no device sync per step
        self.vectors = torch.tensor(np.stack([np.asarray(h, dtype=np.float32) if h is not None
                                              else np.zeros(width, dtype=np.float32) for h in hidden]), device=device)
        self.layer = head_input(model)

    def __enter__(self) -> _Relations:
        if self.weight:
            self.handle = self.layer.register_forward_pre_hook(lambda _m, args: self.seen.append(args[0]))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None
        self.seen.clear()

    def clear(self) -> None:
        self.seen.clear()

    def loss(self, batch: list[int]) -> Any:
        if not self.weight or not self.seen:
            return 0.0
        keep = [k for k, i in enumerate(batch) if self.has[i]]
        if len(keep) < 3:
            return 0.0
        return self.weight * similarity_loss(self.seen[0][keep], self.vectors[[batch[k] for k in keep]])


def save_checkpoint(folder: Path, model: Any, opt: Any, sched: Any, step: int, seen: int) -> None:
    """Model weights and RNG as safetensors, optimizer state as plain tensors; written atomically."""
    import torch
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    rng = {"torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda_rng"] = torch.cuda.get_rng_state()

    def fill(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        save_file(state, str(tmp / "model.safetensors"))
        save_file(rng, str(tmp / "rng.safetensors"))
        torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({"step": step, "seen": seen}), encoding="utf-8")

    atomic_folder(folder, fill)


def load_checkpoint(folder: Path, model: Any, opt: Any, sched: Any) -> tuple[int, int]:
    """Restore a checkpoint written by save_checkpoint; only tensors are read back (no pickled code)."""
    import torch
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    rng = load_file(str(folder / "rng.safetensors"))
    torch.set_rng_state(rng["torch_rng"])
    if "cuda_rng" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda_rng"])
    states = torch.load(folder / "optimizer.pt", weights_only=True, map_location="cpu")  # moved to the params' device
    opt.load_state_dict(states["optimizer"])
    sched.load_state_dict(states["scheduler"])
    meta = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    return int(meta["step"]), int(meta["seen"])


def _progress(total: int, description: str) -> Any:
    """A rich progress bar on a terminal; nothing when stderr is redirected (logs, CI)."""
    if not sys.stderr.isatty():
        return _NoBar()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True)


class _NoBar:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
