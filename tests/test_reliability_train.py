"""The reliability promise for training: impossible values, a diverging or crashing run, Hydra's overrides, and
the run folders that ``kpstance report`` and ``kpstance compare`` accept (issue 17, section 2)."""

from __future__ import annotations

import pytest
from helpers import compose

from kpstance.errors import KpstanceError

# ---------------------------------------------------------------------------- impossible values


@pytest.fixture(scope="module")
def smoke_cfg(tmp_path_factory):
    return compose(["experiment=smoke"], tmp_path_factory.mktemp("cfg"))


@pytest.mark.parametrize("key, value, named", [
    ("trainer.batch_size", 0, None),
    ("seed", -1, None),
    ("seed", 2**32, None),
    ("trainer.epochs", 0, None),
    ("trainer.epochs", -2, None),
    ("trainer.max_steps", 0, None),
    ("trainer.lr", 0.0, None),
    ("trainer.lr", -1e-4, None),
    ("trainer.lr", float("nan"), None),
    ("trainer.lr", float("inf"), None),
    ("trainer.warmup_ratio", 1.5, None),
    ("trainer.weight_decay", -0.1, None),
    ("trainer.predict_batch_size", 0, None),
    ("trainer.checkpoint_every", -1, None),
    ("data.synthetic.n", -5, None),
    ("encoder.num_heads", 3, "encoder.hidden_size' and 'encoder.num_heads"),
])
def test_impossible_config_values_are_refused_naming_the_key(smoke_cfg, key, value, named):
    from omegaconf import OmegaConf

    from kpstance.config import validate

    cfg = smoke_cfg.copy()
    OmegaConf.update(cfg, key, value)
    with pytest.raises(KpstanceError, match=f"config keys? '{named or key}'"):
        validate(cfg)


def test_a_sound_config_passes_the_range_checks(smoke_cfg):
    from omegaconf import OmegaConf

    from kpstance.config import validate

    cfg = smoke_cfg.copy()
    for key, value in (("seed", 2**32 - 1), ("trainer.max_steps", -1), ("trainer.epochs", 1),
                       ("trainer.max_grad_norm", None), ("trainer.num_threads", None)):
        OmegaConf.update(cfg, key, value)
    assert validate(cfg).seed == 2**32 - 1


# ---------------------------------------------------------------------------- a run that diverges or crashes


def test_zero_training_steps_never_return_a_model(tmp_path, units, scheme):
    """Behind the config check: fine_tune itself refuses to return a model that took no step."""
    from omegaconf import OmegaConf

    from kpstance.config import validate
    from kpstance.systems.encoder import build
    from kpstance.systems.finetune import fine_tune
    from kpstance.systems.heads import HeadLayout

    cfg = validate(compose(["experiment=smoke"], tmp_path))
    trainer = OmegaConf.merge(cfg.trainer, {"epochs": 0, "max_steps": -1})
    layout = HeadLayout.from_scheme(scheme)
    texts = [u.text for u in units[:8]]
    model, tokenizer = build(cfg.encoder, layout.id2label(), texts)
    with pytest.raises(KpstanceError, match="no training step ran"):
        fine_tune(model, tokenizer, texts, [0] * 8, [0] * 8, layout, trainer, 0)


