"""Distillation's stores and representation distillation (issue 18): a store that lacks a few examples, the
versioned stores against the experiments that read them, and the student's similarities pulled towards a teacher's."""

from __future__ import annotations

import pytest
from helpers import compose
from test_remedies import VAGUE, _distill_cfg, _fit_toy, _toy

from kpstance.errors import KpstanceError
from kpstance.text.segment import Unit


def test_a_few_examples_the_store_lacks_learn_from_their_labels_within_max_missing(smoke_run, tmp_path, scheme,
                                                                                      caplog):
    """A store made, then one example more: within data.teacher.max_missing that example trains on its label alone
    and the run says so in one warning; with max_missing 0, or with more examples missing than it allows, the run is
    refused as before."""
    from kpstance.systems.teacher import teacher_targets

    out = tmp_path / "teacher.safetensors"
    units, _ = _toy()
    teacher_targets(_distill_cfg(tmp_path, out, f"data.teacher.model={smoke_run['model_dir']}"), scheme, units)
    more = [*units, Unit.of_text("Kono wants talks now.", "new")]
    with caplog.at_level("WARNING", logger="kpstance"):
        got = teacher_targets(_distill_cfg(tmp_path, out, "data.teacher.max_missing=0.05"), scheme, more)
    assert got[-1].extra["teacher"] is None and all(u.extra["teacher"] is not None for u in got[:-1])
    assert f"1 of {len(more)} training examples" in caplog.text and "1 learn from their labels alone" in caplog.text
    for share in ("0", "0.01"):  # 1 of 49 is over 1 %
        with pytest.raises(KpstanceError, match=r"another training set \(1 of"):
            teacher_targets(_distill_cfg(tmp_path, out, f"data.teacher.max_missing={share}"), scheme, more)


@pytest.mark.parametrize("experiment", ["distill", "ablation/distill_crossfit_pool_written", "ablation/distill_crossfit_pool"])
def test_the_stored_teacher_outputs_cover_the_distillation_experiments(experiment, tmp_path):
    """The versioned stores in data/teacher hold the distributions of every training example of the experiments that
    read them (seed 0, within data.teacher.max_missing), so each runs from a clean clone without a teacher; a change
    to the data, the rules or the name tables that alters more examples fails here, not in a user's run."""
    from kpstance.config import compose as compose_config
    from kpstance.run.pipeline import teacher_outputs

    n = teacher_outputs(compose_config([f"experiment={experiment}", "seed=0", "logger=none",
                                        f"paths.output_dir={tmp_path / 'run'}", f"paths.models_dir={tmp_path / 'm'}"]))
    assert n > 5000


# -- representation distillation


def test_similarity_loss_ignores_width_and_rotation_and_sees_a_changed_structure():
    """The loss compares which examples two models read alike: a teacher's vectors rotated into a wider space cost
    nothing, the same vectors given to other examples cost something."""
    import torch

    from kpstance.systems.finetune import similarity_loss

    g = torch.Generator().manual_seed(0)
    student = torch.randn(8, 4, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))
    teacher = torch.cat([student, torch.zeros(8, 2)], 1) @ rotation  # width 6, the same angles
    assert float(similarity_loss(student, teacher)) < 1e-6
    assert float(similarity_loss(student, teacher[torch.randperm(8, generator=g)])) > 0.05


def test_head_input_reads_what_a_bert_classifier_reads(smoke_run):
    """The representation stored for a teacher is the input of the layer that gives its logits: for BERT the pooled
    first token, and the logits follow from it through that layer."""
    import torch

    from kpstance.systems.predictor import StancePredictor
    from kpstance.systems.teacher import head_input, representations

    p = StancePredictor.load(smoke_run["model_dir"], precision="fp32")
    texts = ["Lavrov wants talks.", "Tillerson urges drills at once."]
    vec = representations(p, texts, None)
    layer = head_input(p.model)
    assert layer is p.model.classifier and vec.shape == (2, layer.in_features)
    enc = p.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        out = p.model(**enc, output_hidden_states=False)
        pooled = p.model.bert(**enc).pooler_output
    assert torch.allclose(torch.from_numpy(vec), pooled, atol=1e-5)
    assert torch.allclose(layer(torch.from_numpy(vec)), out.logits, atol=1e-5)


def test_teacher_representations_are_stored_once_and_a_missing_teacher_is_one_line(smoke_run, tmp_path, scheme):
    from kpstance.systems.teacher import HiddenOutputs, hidden_targets

    out = tmp_path / "hidden.safetensors"
    units, _ = _toy()
    more = ["trainer.hidden_weight=1.0", f"data.teacher.hidden_outputs={out}"]
    for teacher in ([], [f"data.teacher.model={smoke_run['model_dir']}"]):  # the distributions' teacher is not asked
        with pytest.raises(KpstanceError, match=r"no teacher representations .*run `make teacher-hidden`") as e:
            hidden_targets(_distill_cfg(tmp_path, tmp_path / "t.safetensors", *more, *teacher), scheme, units)
        assert str(e.value).startswith(f"{out}: ") and "\n" not in str(e.value)
    made = hidden_targets(_distill_cfg(tmp_path, tmp_path / "t.safetensors", *more,
                                       f"data.teacher.hidden_model={smoke_run['model_dir']}"), scheme, units)
    stored = HiddenOutputs.read(out)
    assert stored is not None and len(stored.vectors) == len(units) and stored.teacher
    again = hidden_targets(_distill_cfg(tmp_path, tmp_path / "t.safetensors", *more), scheme, units)
    assert all((a.extra["teacher_hidden"] == b.extra["teacher_hidden"]).all() for a, b in zip(made, again))
    assert hidden_targets(_distill_cfg(tmp_path, tmp_path / "t.safetensors"), scheme, units) == list(units)
    out.write_bytes(b"not safetensors")
    with pytest.raises(KpstanceError, match="damaged teacher representations"):
        hidden_targets(_distill_cfg(tmp_path, tmp_path / "t.safetensors", *more), scheme, units)


def test_representation_distillation_is_refused_with_cross_validation(tmp_path):
    from kpstance.config import validate

    with pytest.raises(KpstanceError, match=r"'trainer.hidden_weight' and 'evaluation.cv'.*evaluation.cv=false"):
        validate(compose(["experiment=smoke", "evaluation.cv=true", "trainer.hidden_weight=1.0"], tmp_path))


def test_a_pool_line_without_a_distribution_sits_the_run_out(scheme, tmp_path):
    """Pool lines the store lacked (let through by data.teacher.max_missing: teacher None) take no batch slot: one
    epoch reads the labelled units and the pool lines that have a distribution, and no more."""
    from dataclasses import replace

    units, labels = _toy()
    width = len(scheme.actor_labels) + len(scheme.stance_labels)
    row = [1.0 / len(scheme.actor_labels)] * len(scheme.actor_labels) + [1.0 / len(scheme.stance_labels)] * (
        width - len(scheme.actor_labels))
    pool = [Unit.of_text(f"Seoul {w} the plan {k}.", f"pool-{w}-{k}") for k in range(3) for w in ("backs", "doubts")]
    taught = [replace(u, extra={**u.extra, "teacher": row}) for u in units]
    taught += [replace(u, extra={**u.extra, "teacher_only": True, "pool": "file", "teacher": row if k % 2 else None})
               for k, u in enumerate(pool)]
    system = _fit_toy(scheme, tmp_path / "pool", -1, taught, [*labels, *[("south_korea", "neutral")] * len(pool)],
                      "trainer.epochs=1", "trainer.distill_weight=0.5")
    assert system.stats.examples == len(units) + len(pool) // 2


def test_similarity_needs_three_examples_a_batch():
    """Centred, two vectors are always opposite whatever they were: a batch with fewer than three examples that
    have a teacher's representation adds nothing."""
    import torch

    from kpstance.systems.finetune import similarity_loss

    a, b = torch.randn(2, 5), torch.randn(2, 7)
    assert float(similarity_loss(a, b)) < 1e-10
    assert float(similarity_loss(torch.randn(3, 5), torch.randn(3, 7))) > 0


def test_representation_distillation_pulls_the_students_similarities_towards_the_teachers(scheme, tmp_path):
    """A teacher whose representations group the toy's units by what the labels do not say (whether a sentence
    says more than its speaker's name): a student trained with hidden_weight reads the units more like the teacher
    than one trained on the labels alone."""
    from dataclasses import replace

    import numpy as np
    import torch

    from kpstance.systems.finetune import similarity_loss
    from kpstance.systems.predictor import StancePredictor
    from kpstance.systems.teacher import representations

    units, labels = _toy()
    vague = [any(v in u.text for v in VAGUE) for u in units]
    teacher = np.array([[1.0, 0.0] if v else [0.0, 1.0] for v in vague], dtype=np.float32)
    taught = [replace(u, extra={**u.extra, "teacher_hidden": t}) for u, t in zip(units, teacher)]
    gap = {}
    for w in (0.0, 20.0):
        system = _fit_toy(scheme, tmp_path / f"w{w}", 60, taught, labels, f"trainer.hidden_weight={w}",
                          "evaluation.cv=false")
        read = representations(StancePredictor(system.model, system.tokenizer), [u.text for u in units], None)
        gap[w] = float(similarity_loss(torch.from_numpy(read), torch.from_numpy(teacher)))
    assert gap[20.0] < 0.7 * gap[0.0], gap
