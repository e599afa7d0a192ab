"""The fine-tuned encoder as a System: one head for actor and stance, one forward pass, savable."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..text.segment import Unit
from .base import Labels, System
from .heads import HeadLayout

log = logging.getLogger("kpstance")


def counterfactual_pairs(units: Sequence[Unit]) -> tuple[dict[int, list[int]], list[bool]]:
    """Each unit's speaker-swapped copies in the training set (``extra["swap_of"]``: logit pairing), and which
    units the labels' loss trains on (a copy made only to be paired, ``extra["pair_only"]``, is not)."""
    at: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        at.setdefault(u.id, []).append(i)
    partners: dict[int, list[int]] = {}
    for j, u in enumerate(units):
        for i in at.get(u.extra.get("swap_of", ""), ()):
            partners.setdefault(i, []).append(j)
    return partners, [not u.extra.get("pair_only") for u in units]


def masked_inputs(scheme: Any, trainer_cfg: Any, blind_stance: bool, texts: Sequence[str],
                  contexts: Sequence[str] | None) -> tuple[list[str], list[str] | None] | None:
    """The texts and contexts with every actor mention masked, which a blind stance head and masked pairing
    (``trainer.mask_pair_weight`` > 0) read in a second pass; None when neither is on."""
    if not (blind_stance or float(trainer_cfg.get("mask_pair_weight", 0.0) or 0.0)):
        return None
    from .predictor import blinder

    mask = blinder(scheme)
    return [mask(t) for t in texts], [mask(c) for c in contexts] if contexts else None


class TransformerSystem(System):
    saveable = True
    temperature: dict[str, float]  # per head; 1.0 until calibrated on dev
    _pred: Any = None  # the predictor of the fitted model (``_predictor``)

    @classmethod
    def check_available(cls, cfg: Any) -> None:
        from .finetune import training_device

        log.info("training on %s", training_device(cfg.trainer.device))  # refuse a missing GPU up front

    def fit(self, units: Sequence[Unit], labels: Labels, *, description: str = "train",
            checkpoint_dir: Path | None = None) -> TransformerSystem:
        from .encoder import build
        from .finetune import fine_tune

        layout = HeadLayout.from_scheme(self.scheme)
        texts = [u.text for u in units]
        a2i = {a: i for i, a in enumerate(layout.actors)}
        s2i = {s: i for i, s in enumerate(layout.stances)}
        self.temperature = {"actor": 1.0, "stance": 1.0}
        self.model, self.tokenizer = build(self.cfg.encoder, layout.id2label(), texts)
        partners, trained = counterfactual_pairs(units)
        soft = [u.extra.get("teacher") for u in units]
        # a pool example whose distribution the store lacked (data.teacher.max_missing) has nothing to learn from
        trained = [t and not (u.extra.get("teacher_only") and "teacher" in u.extra and u.extra["teacher"] is None)
                   for t, u in zip(trained, units)]
        ctx = self._contexts(units)
        blind_stance = bool(self.cfg.system.get("blind_stance"))
        masked = masked_inputs(self.scheme, self.cfg.trainer, blind_stance, texts, ctx)
        self.stats = fine_tune(
            self.model, self.tokenizer, texts, [a2i[a] for a, _ in labels], [s2i[s] for _, s in labels], layout,
            self.cfg.trainer, self.seed, self.cfg.encoder.max_length, description, checkpoint_dir,
            pairs=ctx, partners=partners, trained=trained, soft=soft if any(p is not None for p in soft) else None,
            masked=masked, blind_stance=blind_stance, labelled=[not u.extra.get("teacher_only") for u in units],
            unlike=[bool(u.extra.get("unlike")) for u in units],
            hidden=[u.extra.get("teacher_hidden") for u in units] if self.cfg.trainer.get("hidden_weight") else None,
        )
        st = self.stats
        log.info("%s: %d steps, %d examples in %.1fs (%.1f examples/s), final loss %.4f", description,
                 st.steps, st.examples, st.seconds, st.examples_per_second, st.final_loss)
        return self

    def predict(self, units: Sequence[Unit]) -> list[dict]:
        predictor = self._predictor()
        predictor.temperature = dict(self.temperature)  # calibration changes it between calls
        self.model.eval()  # kept logits are dropout-free ones, whatever ran on the model since
        return predictor.predict([u.text for u in units], self.cfg.trainer.predict_batch_size,
                                 contexts=self._contexts(units))

    def _predictor(self) -> Any:
        """One predictor for the fitted model, made on the first call: its memo keeps each input's logits, so the
        sentences a run's evaluation reads again (42 % of them in the default run) are computed once."""
        from .predictor import StancePredictor, blinder

        if self._pred is None or self._pred.model is not self.model:
            device = next(self.model.parameters()).device.type  # predict where the model was trained
            pred = StancePredictor(self.model, self.tokenizer, self.cfg.encoder.max_length, device)
            if self.cfg.system.get("blind_stance"):
                pred.blind = blinder(self.scheme)
            pred.speaker_average, pred.label_scheme = int(self.cfg.system.get("speaker_average", 0)), self.scheme
            pred.memo = {}
            self._pred = pred
        return self._pred

    def _contexts(self, units: Sequence[Unit]) -> list[str] | None:
        """Kind and carried speaker per unit, when the system reads context (system.context)."""
        from .context import contexts

        return contexts(units, self.scheme) if self.cfg.system.context else None

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)

    def meta(self) -> dict:
        return {"temperature": dict(self.temperature), "context": bool(self.cfg.system.context),
                "blind_stance": bool(self.cfg.system.get("blind_stance", False)),
                "speaker_average": int(self.cfg.system.get("speaker_average", 0))}

    def describe(self) -> str:
        from .encoder import describe

        return describe(self.cfg.encoder)
