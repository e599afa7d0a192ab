"""The model card (models/<run>/README.md) states the training data, the held-out figures, calibration and the
known limits, from the run's metrics, and never prints a figure the run did not measure."""

from __future__ import annotations

import re
from types import SimpleNamespace

from kpstance.systems.save import model_card

NAN = re.compile(r"\bnan\b", re.IGNORECASE)


class _System:
    def describe(self) -> str:
        return "a test encoder"

    def meta(self) -> dict:
        return {"context": True}


def _cfg(article_repeat: int = 4):
    return SimpleNamespace(task_name="default", data=SimpleNamespace(article_repeat=article_repeat,
                                                                    articles=[{"id": "tass-2017-11-24-lavrov"}]),
                           evaluation=SimpleNamespace(train_labels="silver"))


def test_smoke_model_card_names_its_training_data_and_prints_no_nan(smoke_run):
    card = (smoke_run["model_dir"] / "README.md").read_text(encoding="utf-8")
    metrics = smoke_run["metrics"]
    assert not NAN.search(card)
    assert "## Training data" in card and f"{metrics['n_synthetic']} synthetic units" in card
    assert f"**{metrics['n_gold_train']} hand-labelled units**: the train split of the project's multi-source" in card
    assert f"{metrics['n_units']} units of the article `tass-2017-11-24-lavrov`" in card and "silver labels" in card
    assert f"| model: joint accuracy | {metrics['test_joint_accuracy']:.3f} |" in card
    assert f"T = {metrics['actor_temperature']:.3f}" in card and "## Known limits" in card
    assert "Stance can be read partly from who speaks" in card
    assert "also as said by 2 other actor(s)" in card  # the smoke run keeps the default speaker averaging


def test_card_leaves_out_what_the_run_did_not_measure(scheme):
    metrics = {"test_actor_macro_f1": 0.8, "test_stance_macro_f1": float("nan"), "test_joint_accuracy": 0.5,
               "test_n": 100, "rules_test_actor_macro_f1": 0.7, "seen_joint_accuracy": 0.9, "rules_actor_macro_f1": 0.75,
               "n_synthetic": 50,
               "n_gold_train": 0, "n_units": 41}
    card = model_card(_cfg(article_repeat=0), _System(), scheme, metrics, "r")
    assert not NAN.search(card)
    assert "| | test sentences (100) |" in card  # no articles column: the run has no such figures
    assert "test articles" not in card and "model: stance macro-F1" not in card
    assert "| rules: joint accuracy" not in card and "| rules: actor macro-F1 | 0.700 |" in card
    assert "hand-labelled units" not in card and "units of the article" not in card  # not trained on them
    assert "not calibrated in this run" in card
    assert "| joint accuracy | – | 0.900 |" in card  # a kept row's missing figure is a dash
    assert "cross-validated" not in card
    assert "more than its direction" not in card  # no contrast set scored, so no figure for direction


def test_card_gives_the_direction_limit_from_the_runs_contrast_pairs(scheme):
    metrics = {"test_actor_macro_f1": 0.8, "test_stance_macro_f1": 0.7, "test_joint_accuracy": 0.5, "test_n": 100,
               "test_contrast_pair_accuracy": 0.25, "n_synthetic": 50, "n_gold_train": 0, "n_units": 41}
    card = model_card(_cfg(article_repeat=0), _System(), scheme, metrics, "r")
    limits = card.split("## Known limits", 1)[1]
    assert "Stance can follow the topic of a step more than its direction" in limits
    assert "both members are right in 25 %" in limits
    metrics["test_contrast_pair_accuracy"] = 0.95  # at issue 18's goal: no longer a limit to warn of
    assert "more than its direction" not in model_card(_cfg(article_repeat=0), _System(), scheme, metrics, "r")


def test_card_of_a_run_without_held_out_figures_says_so(scheme):
    card = model_card(_cfg(), _System(), scheme, {"n_units": 41, "n_synthetic": 700}, "r")
    assert "not scored on a held-out test split" in card
    assert "41 units of the article `tass-2017-11-24-lavrov`" in card and "shown 4 times" in card


def test_the_card_of_another_conflicts_model_says_its_own_subject(scheme):
    """The card of a model trained with another label file used to call it a Korean Peninsula model, with a
    TASS seed article and a Lavrov example (a new user's trial, 2026-12-07): it says what the label file says."""
    from dataclasses import replace

    from kpstance.weak.scheme import Actor

    other = replace(scheme, description="the South China Sea dispute",
                    actors=(Actor("philippines", ("Manila", "the Philippines")), *scheme.actors[1:]))
    card = model_card(_cfg(), _System(), other, {"n_units": 11, "n_synthetic": 70}, "r")
    assert "Korean" not in card and "Lavrov" not in card and "TASS" not in card
    assert "on the South China Sea dispute." in card and "English news on the South China Sea dispute;" in card
    assert 'p.predict(["Manila said the talks would resume next week."])' in card
    assert "on the Korean Peninsula crisis of 2017–2019." in model_card(_cfg(), _System(), scheme, {}, "r")

