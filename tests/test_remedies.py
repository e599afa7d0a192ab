"""The remedies for a stance read from the speaker (issue 18): counterfactual logit pairing, a stance head blind to
actor mentions, alias-varied copies, and distillation from a teacher's stored distributions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from helpers import compose

from kpstance.errors import KpstanceError
from kpstance.text.segment import Unit
from kpstance.weak.swap import Swapper

PAIRS = [("Lavrov", "Tillerson"), ("Moscow", "Washington"), ("Wang Yi", "Kono"), ("Beijing", "Tokyo")]
SAYS = {"hardline": ["wants sanctions", "urges drills"], "conciliatory": ["wants talks", "urges restraint"]}
VAGUE = ["spoke", "commented", "met reporters"]
# the training remedies are judged on one plain reading, apart from speaker averaging at prediction (the default)
ONE_PASS = "system.speaker_average=0"
ACTOR = {"Lavrov": "russia", "Moscow": "russia", "Wang Yi": "china", "Beijing": "china",
         "Tillerson": "united_states", "Washington": "united_states", "Kono": "japan", "Tokyo": "japan"}


def _toy() -> tuple[list[Unit], list[tuple[str, str]]]:
    """Russia and China always conciliatory, the US and Japan always hardline; the vague sentences tell the stances
    apart only by the speaker, so a model free to read the speaker does."""
    units, labels = [], []
    for soft, hard in PAIRS:
        for name, stance in ((soft, "conciliatory"), (hard, "hardline")):
            for j, what in enumerate([*SAYS[stance], *VAGUE]):
                units.append(Unit.of_text(f"{name} {what}.", f"{ACTOR[name]}-{name}-{j}"))
                labels.append((ACTOR[name], stance))
    return units, labels


def _with_copies(scheme, units, labels, pair_only=False):
    from kpstance.weak.trainset import TrainPart, swap_part

    copies = swap_part([TrainPart("toy", units, labels)], scheme, 1, 0, pair_only=pair_only)
    return units + copies.units, labels + copies.labels, copies


def _stance_gap(model_predict, units, copies) -> float:
    """Mean absolute difference of the stance distributions of each unit and its swapped copy."""
    by_id = {u.id: u for u in units}
    originals = [by_id[c.extra["swap_of"]] for c in copies.units]
    a, b = model_predict(originals), model_predict(copies.units)
    return sum(abs(p["stance_probs"][s] - q["stance_probs"][s]) for p, q in zip(a, b) for s in p["stance_probs"]) \
        / len(a)


def _fit_toy(scheme, folder: Path, steps: int, units, labels, *overrides: str):
    """The tiny smoke BERT fitted on a toy set: batches of 8 at lr 3e-3, no masked pairing, no context, and (unless
    ``overrides`` say otherwise) one plain reading at prediction."""
    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh

    plain = [] if any(o.startswith("system.speaker_average") for o in overrides) else [ONE_PASS]
    cfg = validate(compose(["experiment=smoke", f"trainer.max_steps={steps}", "trainer.batch_size=8", "trainer.lr=3e-3",
                            "trainer.mask_pair_weight=0.0", "system.context=false", *plain, *overrides], folder))
    return fit_fresh(cfg, scheme, units, labels, folder.name)


def _telling(units, labels, preds) -> list[bool]:
    """Whether each unit that says more than its speaker's name is read with its label's stance."""
    return [p["stance"] == s for u, p, (_, s) in zip(units, preds, labels) if not any(v in u.text for v in VAGUE)]


def test_logit_pairing_pulls_a_unit_and_its_swapped_copy_together(scheme, tmp_path):
    """The same tiny BERT, the same data and seed: with the pairing term the stance distributions of a unit and its
    speaker-swapped copy lie much closer than without it, and both still read the telling sentences right. The copies
    serve only as partners (not trained on)."""
    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh

    units, labels = _toy()
    us, ls, copies = _with_copies(scheme, units, labels, pair_only=True)
    assert copies.units and all(u.extra["pair_only"] for u in copies.units)
    gaps = {}
    for weight in (0.0, 5.0):
        cfg = validate(compose(["experiment=smoke", "trainer.max_steps=100", "trainer.batch_size=8", "trainer.lr=3e-3",
                                f"trainer.pair_weight={weight}", "trainer.mask_pair_weight=0.0", "system.context=false",
                                ONE_PASS],
                               tmp_path / str(weight)))
        model = fit_fresh(cfg, scheme, us, ls, f"pair {weight}")
        gaps[weight] = _stance_gap(model.predict, units, copies)
        telling = [(p["stance"], s) for u, p, (_, s) in zip(units, model.predict(units), labels)
                   if not any(v in u.text for v in VAGUE)]
        assert all(p == s for p, s in telling), (weight, telling)
    assert gaps[5.0] < 0.5 * gaps[0.0], gaps


def test_counterfactual_pairs_map_each_unit_to_its_copies_and_skip_partners_in_the_loss(scheme):
    from kpstance.systems.transformer import counterfactual_pairs

    units, labels = _toy()
    us, _, copies = _with_copies(scheme, units[:3] * 2, labels[:3] * 2, pair_only=True)  # repeated units too
    partners, trained = counterfactual_pairs(us)
    assert trained == [True] * 6 + [False] * len(copies.units)
    first_copy = next(j for j, u in enumerate(us) if u.extra.get("swap_of") == units[0].id)
    assert first_copy in partners[0] and first_copy in partners[3]  # both showings of the unit are paired


def test_masked_pairing_pulls_swapped_copies_together_with_one_unmasked_pass(scheme, tmp_path):
    """trainer.mask_pair_weight: the same tiny BERT, data and seed, no swapped copy in training. Pairing each text with
    its masked form brings the stance distributions of a unit and of its speaker-swapped copy much closer than
    training without it, the telling sentences are still read right, and prediction is one pass over the unmasked
    text (no blind pass, so the stock pipeline() reads what the project's predictor reads)."""
    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh

    units, labels = _toy()
    _, _, copies = _with_copies(scheme, units, labels)
    gaps = {}
    for weight in (0.0, 1.0):
        cfg = validate(compose(["experiment=smoke", "trainer.max_steps=300", "trainer.batch_size=8", "trainer.lr=3e-3",
                                f"trainer.mask_pair_weight={weight}", "system.context=false", ONE_PASS],
                               tmp_path / str(weight)))
        model = fit_fresh(cfg, scheme, units, labels, f"mask pair {weight}")
        assert not model.meta()["blind_stance"]
        gaps[weight] = _stance_gap(model.predict, units, copies)
        telling = [(p["stance"], s) for u, p, (_, s) in zip(units, model.predict(units), labels)
                   if not any(v in u.text for v in VAGUE)]
        assert all(p == s for p, s in telling), (weight, telling)
    assert gaps[1.0] < 0.5 * gaps[0.0], gaps  # measured: 0.30 against 1.18
    # trainer.mask_pair_every: on one step in N; past the last step the term never runs and the model is the plain one
    cfg = validate(compose(["experiment=smoke", "trainer.max_steps=300", "trainer.batch_size=8", "trainer.lr=3e-3",
                            "trainer.mask_pair_weight=1.0", "trainer.mask_pair_every=1000", "system.context=false",
                            ONE_PASS],
                           tmp_path / "never"))
    assert _stance_gap(fit_fresh(cfg, scheme, units, labels, "never").predict, units, copies) == pytest.approx(gaps[0.0])


def test_a_blind_stance_head_gives_a_unit_and_its_swapped_copy_one_stance(scheme, tmp_path):
    """With system.blind_stance the stance is read from the text with every actor mention masked, in training and in
    prediction alike: "Lavrov wants talks." and "Tillerson wants talks." get the very same stance distribution, from
    the fitted system and from the saved model loaded back."""
    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh
    from kpstance.systems.predictor import StancePredictor

    units, labels = _toy()
    cfg = validate(compose(["experiment=smoke", "trainer.max_steps=10", "system.blind_stance=true",
                            "trainer.mask_pair_weight=0.0"], tmp_path))
    model = fit_fresh(cfg, scheme, units, labels, "blind")
    _, _, copies = _with_copies(scheme, units, labels)
    assert _stance_gap(model.predict, units, copies) < 1e-6
    model.save(tmp_path / "m")
    import json

    (tmp_path / "m" / "kpstance.json").write_text(json.dumps(model.meta()), encoding="utf-8")
    loaded = StancePredictor.load(tmp_path / "m")
    assert loaded.blind is not None and loaded.blind("Lavrov's envoy met Japanese officials.") == \
        "someone's envoy met someone officials."
    texts = [u.text for u in units]
    assert [p["stance"] for p in loaded.predict(texts)] == [p["stance"] for p in model.predict(units)]
    cfg_seeing = validate(compose(["experiment=smoke", "trainer.max_steps=100", "trainer.batch_size=8", "trainer.lr=3e-3",
                                   "system.context=false"], tmp_path / "seeing"))
    seeing = fit_fresh(cfg_seeing, scheme, units, labels, "seeing")
    assert _stance_gap(seeing.predict, units, copies) > 1e-3  # without blindness the names move the distribution


# -- alias variety


@pytest.fixture(scope="module")
def swapper(scheme):
    return Swapper(scheme)


def _all_variants(swapper, text, kind="sentence", n=40):
    return {v[0] for k in range(n) if (v := swapper.vary([text], k, [kind])) is not None}


def test_alias_variety_writes_formal_names_and_abbreviations_with_their_articles(swapper):
    got = _all_variants(swapper, "North Korea said on Monday it would halt its tests.")
    assert "The DPRK said on Monday it would halt its tests." in got
    assert "The Democratic People's Republic of Korea said on Monday it would halt its tests." in got
    assert "N. Korea said on Monday it would halt its tests." in got
    assert "North Korea said on Monday it would halt its tests." not in got  # a copy differs from its original
    got = _all_variants(swapper, "The move angered South Korea's foreign ministry.")
    assert "The move angered the Republic of Korea's foreign ministry." in got
    assert "The move angered the ROK's foreign ministry." in got
    assert "The move angered S. Korea's foreign ministry." in got  # the alias dictionary counts "S. Korea" for Seoul
    got = _all_variants(swapper, "US officials condemned the launch.")
    assert got <= {"U.S. officials condemned the launch.", "USA officials condemned the launch."}  # a modifier stays short
    got = _all_variants(swapper, "China to cut oil supplies to North Korea", "title")
    assert "People's Republic of China to cut oil supplies to DPRK" in got  # headlines drop the article
    assert "PRC to cut oil supplies to N. Korea" in got
    assert not any(g.startswith("The ") for g in got)


def test_alias_copies_keep_labels_and_mark_their_origin(scheme):
    from kpstance.weak.trainset import TrainPart, alias_part

    units = [Unit.of_text("Russia and China urged the United States to talk.", "u1"),
             Unit.of_text("Analysts expect more talks.", "u2")]
    part = alias_part([TrainPart("toy", units, [("russia", "conciliatory"), ("none", "neutral")])], scheme, 2, 0)
    assert part.units and all(u.extra["alias_of"] == "u1" for u in part.units)
    assert part.labels == [("russia", "conciliatory")] * len(part.units)
    assert len({u.text for u in part.units}) == len(part.units) and all(u.text != units[0].text for u in part.units)


# -- distillation


def _distill_cfg(tmp, outputs, *more):
    from kpstance.config import validate

    return validate(compose(["experiment=smoke", "evaluation.cv=false", "trainer.distill_weight=0.5",
                             f"data.teacher.outputs={outputs}", *more], tmp))


def test_distillation_without_teacher_outputs_is_one_line_naming_make_teacher(tmp_path, scheme):
    from kpstance.systems.teacher import teacher_targets

    cfg = _distill_cfg(tmp_path, tmp_path / "t.safetensors")
    units, _ = _toy()
    with pytest.raises(KpstanceError, match=r"no teacher outputs .*run `make teacher`") as e:
        teacher_targets(cfg, scheme, units)
    assert str(e.value).startswith(f"{tmp_path / 't.safetensors'}: ") and "\n" not in str(e.value)
    (tmp_path / "t.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(KpstanceError, match="damaged teacher outputs"):
        teacher_targets(cfg, scheme, units)


def test_a_teacher_fills_its_outputs_once_and_a_changed_set_is_refused(smoke_run, tmp_path, scheme):
    """With a saved teacher the missing distributions are predicted and stored; the next run reads them without the
    teacher; a training set with a unit the store lacks (the data changed) is refused."""
    from kpstance.systems.teacher import TeacherOutputs, teacher_targets

    out = tmp_path / "teacher.safetensors"
    units, _ = _toy()
    made = teacher_targets(_distill_cfg(tmp_path, out, f"data.teacher.model={smoke_run['model_dir']}"), scheme, units)
    stored = TeacherOutputs.read(out)
    assert stored is not None and len(stored.probs) == len(units) and stored.teacher
    again = teacher_targets(_distill_cfg(tmp_path, out), scheme, units)
    assert [u.extra["teacher"] for u in again] == [u.extra["teacher"] for u in made]
    row = made[0].extra["teacher"]
    n_actor = len(scheme.actor_labels)
    assert abs(sum(row[:n_actor]) - 1) < 1e-4 and abs(sum(row[n_actor:]) - 1) < 1e-4
    with pytest.raises(KpstanceError, match=r"another training set \(1 of"):
        teacher_targets(_distill_cfg(tmp_path, out), scheme, [*units, Unit.of_text("Kono wants talks now.", "new")])


def test_the_student_follows_the_teacher_where_the_weight_says_so(scheme, tmp_path):
    """Labels say hardline; a teacher says neutral with certainty: with distill_weight 1 the student learns the
    teacher's stance, with 0 the labels'."""
    from dataclasses import replace

    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh

    units, labels = _toy()
    labels = [(a, "hardline") for a, _ in labels]
    n_actor = len(scheme.actor_labels)
    neutral = scheme.stance_labels.index("neutral")
    taught = []
    for u, (a, _) in zip(units, labels):
        row = [0.0] * (n_actor + len(scheme.stance_labels))
        row[scheme.actor_labels.index(a)] = 1.0
        row[n_actor + neutral] = 1.0
        taught.append(replace(u, extra={**u.extra, "teacher": row}))
    said = {}
    for w in (0.0, 1.0):
        cfg = validate(compose(["experiment=smoke", "trainer.max_steps=30", "trainer.batch_size=8",
                                f"trainer.distill_weight={w}"], tmp_path / str(w)))
        said[w] = [p["stance"] for p in fit_fresh(cfg, scheme, taught, labels, f"distill {w}").predict(units)]
    assert said[0.0].count("hardline") == len(units) and said[1.0].count("neutral") == len(units), said


def test_teacher_outputs_then_a_student_with_every_remedy_trains_without_the_teacher(smoke_run, tmp_path):
    """What `make teacher` does after training the teacher (``teacher_outputs``: the training set built as a run
    builds it, predicted by the teacher, stored), then a student run with every remedy that finds all its training
    examples in the store and never loads the teacher."""
    from kpstance.config import compose as compose_config
    from kpstance.run.pipeline import teacher_outputs, train
    from kpstance.systems.teacher import TeacherOutputs

    out = tmp_path / "teacher.safetensors"
    student = ["experiment=smoke", "evaluation.swap=true", "trainer.pair_weight=1.0", "data.alias_augment=1",
               "data.swap_augment=0", "system.blind_stance=true", "trainer.mask_pair_weight=0.0",
               "trainer.distill_weight=0.5",
               f"data.teacher.outputs={out}"]
    n = teacher_outputs(compose_config([*student, "logger=none", f"paths.output_dir={tmp_path / 'a'}",
                                        f"data.teacher.model={smoke_run['model_dir']}"]))
    assert n > 0 and len(TeacherOutputs.read(out).probs) <= n  # repeated examples share a key
    m = train(compose(student, tmp_path / "b"))
    assert m["n_pair_partners"] > 100 and m["n_alias_train"] > 100 and m["n_swap_train"] == 0
    assert "test_swap_stance_flip" in m and Path(m["model_dir"], "kpstance.json").is_file()


def test_cross_fitting_leaves_each_source_out_of_its_own_teacher_with_every_copy(tmp_path):
    """A cross-fitted teacher (``data.teacher.folds``, ``data.teacher.fold``) trains on every fold but its own: the
    folds of one data set are disjoint and cover it, a gold unit goes with its report and a copy with its original."""
    from kpstance.config import validate
    from kpstance.run.pipeline import labelled
    from kpstance.run.prepare import prepare
    from kpstance.weak.trainset import root_id

    base = ["experiment=smoke", "evaluation.cv=false", "data.swap_augment=1", "data.alias_augment=1"]
    _, data = labelled(prepare(validate(compose(base, tmp_path / "all"))))
    everything, _ = data.build([], [])
    copies = [u for u in everything if "~" in u.id]
    assert copies and {data.source_of(u) for u in copies} <= {data.source_of(u) for u in everything if "~" not in u.id}
    originals = [u for u in everything if "~" not in u.id]
    per_source = Counter(data.source_of(u) for u in originals)
    # the multi-source corpus's sentences go by their report: several units, one source that is none of their ids
    assert any(n > 1 and s not in {u.id for u in originals} for s, n in per_source.items())
    kept = {}
    for fold in (0, 1):
        _, d = labelled(prepare(validate(compose([*base, "data.teacher.folds=2", f"data.teacher.fold={fold}"],
                                                 tmp_path / str(fold)))))
        units, labels = d.build([], [])
        assert len(units) == len(labels) and set(d.folds_of(units, 2)) == {1 - fold}
        kept[fold] = [u.id for u in units]
    assert not set(kept[0]) & set(kept[1]) and len(kept[0]) + len(kept[1]) == len(everything)
    # a copy is left out with its original
    assert all(root_id(i) in {root_id(j) for j in kept[0]} for i in kept[0] if "~" in i)


class _FakeTeacher:
    """A saved teacher that says one stance for everything: which teacher predicted an example shows in its row."""

    def __init__(self, scheme, stance):
        self.actors, self.stances, self.stance, self.asked = scheme.actor_labels, scheme.stance_labels, stance, []

    def predict_proba(self, texts, batch_size=64, workers=None, contexts=None):
        import numpy as np

        self.asked += list(texts)
        pa = np.full((len(texts), len(self.actors)), 1 / len(self.actors))
        ps = np.zeros((len(texts), len(self.stances)))
        ps[:, self.stances.index(self.stance)] = 1.0
        return pa, ps


def test_cross_fitted_teachers_each_predict_the_fold_they_never_saw(tmp_path, scheme, monkeypatch):
    """With ``data.teacher.fold_models`` every example's distributions come from the teacher of its fold (a copy's
    from its original's), the store records the teachers together, and other teachers make it again."""
    from kpstance.systems import predictor
    from kpstance.systems.teacher import TeacherOutputs, teacher_targets
    from kpstance.weak.trainset import fold_of, root_id

    dirs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(name.encode())
        dirs.append(str(tmp_path / name))
    said = {dirs[0]: "hardline", dirs[1]: "conciliatory"}
    loaded = {}
    monkeypatch.setattr(predictor.StancePredictor, "load",
                        classmethod(lambda cls, m, **_: loaded.setdefault(m, _FakeTeacher(scheme, said[m]))))
    units, labels = _toy()
    units, labels, _ = _with_copies(scheme, units, labels)

    def folds_of(us, k):
        return [fold_of(root_id(u.id), k) for u in us]

    out = tmp_path / "t.safetensors"
    cfg = _distill_cfg(tmp_path, out, f"data.teacher.fold_models=[{dirs[0]},{dirs[1]}]", "system.context=false")
    taught = teacher_targets(cfg, scheme, units, folds_of)
    n_actor = len(scheme.actor_labels)
    stance_of = [scheme.stance_labels[max(range(3), key=lambda j: u.extra["teacher"][n_actor + j])] for u in taught]
    first = {}  # a text met in two folds (a copy that is another unit's text) is predicted once, by its first fold
    for u, f in zip(units, folds_of(units, 2)):
        first.setdefault(u.text, f)
    assert set(first.values()) == {0, 1}
    assert stance_of == [said[dirs[first[u.text]]] for u in units]
    assert sum(len(t.asked) for t in loaded.values()) == len(first)
    made = TeacherOutputs.read(out).teacher
    cfg = _distill_cfg(tmp_path, out, f"data.teacher.fold_models=[{dirs[1]},{dirs[0]}]", "system.context=false")
    again = teacher_targets(cfg, scheme, [*units, Unit.of_text("Kono wants talks now.", "new")], folds_of)
    assert TeacherOutputs.read(out).teacher != made and len(again) == len(units) + 1
    assert sum(len(t.asked) for t in loaded.values()) == 2 * len(first) + 1  # made again, all of it
    with pytest.raises(KpstanceError, match="need each example's fold"):
        teacher_targets(cfg, scheme, [*units, Unit.of_text("Abe wants talks now.", "new2")])


def test_pool_file_lines_take_their_distributions_from_a_store_of_their_own(tmp_path, scheme, monkeypatch):
    """``data.teacher.pool_files``: each line joins the pool as a unit the teacher alone labels (its label, if any,
    ignored), and its distributions come from ``pool_outputs``, made by ``pool_model``, while the training examples
    keep theirs from the cross-fitted teachers; neither store is rewritten once complete; a bad line is one error
    naming file and line."""
    import json

    from kpstance.systems import predictor
    from kpstance.systems.teacher import TeacherOutputs, teacher_targets
    from kpstance.weak.trainset import fold_of, root_id, teacher_pool, wants_pool

    dirs = []
    for name in ("f0", "f1", "pool"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(name.encode())
        dirs.append(str(tmp_path / name))
    said = dict(zip(dirs, ("hardline", "hardline", "conciliatory")))
    loaded = {}
    monkeypatch.setattr(predictor.StancePredictor, "load",
                        classmethod(lambda cls, m, **_: loaded.setdefault(m, _FakeTeacher(scheme, said[m]))))
    lines = [{"text": "Tokyo said it would keep its port ban in place.", "kind": "sentence", "stance": "hardline"},
             {"id": "h1", "text": "Seoul calls off border drills", "kind": "title"},
             {"text": "Washington is ready to talk, Pompeo said.", "speaker": "Pompeo"}]
    units, labels = _toy()
    lines.append({"text": units[0].text})  # a training text again: each keeps its own teacher's distributions
    pool_file = tmp_path / "mine.jsonl"
    pool_file.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    more = [f"data.teacher.fold_models=[{dirs[0]},{dirs[1]}]", f"data.teacher.pool_model={dirs[2]}",
            f"data.teacher.pool_files=[{pool_file}]", f"data.teacher.pool_outputs={tmp_path / 'pool.safetensors'}"]
    cfg = _distill_cfg(tmp_path, tmp_path / "t.safetensors", *more)
    assert wants_pool(cfg)
    (part,) = teacher_pool(cfg, scheme, [], [])
    assert [u.text for u in part.units] == [r["text"] for r in lines]
    assert [u.id for u in part.units] == ["mine:1", "mine:h1", "mine:3", "mine:4"] and part.units[1].kind == "title"
    assert part.units[2].extra["speaker"] == "Pompeo"
    assert all(u.extra["teacher_only"] and u.extra["pool"] == "file" for u in part.units)

    def folds_of(us, k):
        return [fold_of(root_id(u.id), k) for u in us]

    taught = teacher_targets(cfg, scheme, [*units, *part.units], folds_of)
    n_actor = len(scheme.actor_labels)
    stance_of = [scheme.stance_labels[max(range(3), key=lambda j: u.extra["teacher"][n_actor + j])] for u in taught]
    assert stance_of == ["hardline"] * len(units) + ["conciliatory"] * len(lines)
    assert sorted(loaded[dirs[2]].asked) == sorted(r["text"] for r in lines)
    pool_store = TeacherOutputs.read(tmp_path / "pool.safetensors")
    assert len(pool_store.probs) == len(lines) and len(TeacherOutputs.read(tmp_path / "t.safetensors").probs) \
        == len({u.text for u in units})
    asked = sum(len(t.asked) for t in loaded.values())
    teacher_targets(cfg, scheme, [*units, *part.units], folds_of)  # complete stores: no teacher asked again
    assert sum(len(t.asked) for t in loaded.values()) == asked
    # another pool teacher named: its store is made again by it, though no line is missing; the training
    # examples' store, whose teachers are the same, is left alone
    (tmp_path / "pool2").mkdir()
    (tmp_path / "pool2" / "model.safetensors").write_bytes(b"pool2")
    said[str(tmp_path / "pool2")] = "neutral"
    cfg2 = _distill_cfg(tmp_path, tmp_path / "t.safetensors", *more[:1], f"data.teacher.pool_model={tmp_path / 'pool2'}",
                        *more[2:])
    taught = teacher_targets(cfg2, scheme, [*units, *part.units], folds_of)
    stance_of = [scheme.stance_labels[max(range(3), key=lambda j: u.extra["teacher"][n_actor + j])] for u in taught]
    assert stance_of == ["hardline"] * len(units) + ["neutral"] * len(lines)
    assert sorted(loaded[str(tmp_path / "pool2")].asked) == sorted(r["text"] for r in lines)
    assert sum(len(loaded[d].asked) for d in dirs) == asked
    bare = _distill_cfg(tmp_path, tmp_path / "t.safetensors", f"data.teacher.pool_files=[{pool_file}]",
                        f"data.teacher.pool_outputs={tmp_path / 'none.safetensors'}")
    with pytest.raises(KpstanceError, match=r"no teacher outputs for 4 of the 4 pool-file lines: set "
                                            r"data.teacher.pool_model"):
        teacher_targets(bare, scheme, [*units, *part.units], folds_of)
    pool_file.write_text(json.dumps(lines[0]) + "\n" + '{"text": ""}\n', encoding="utf-8")
    with pytest.raises(KpstanceError, match=r"mine.jsonl.*2.*empty") as e:
        teacher_pool(cfg, scheme, [], [])
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("override, says", [("data.teacher.folds=1", r"0 \(no cross-fitting\) or at least 2"),
                                            ("data.teacher.fold=3", "the fold must be below"),
                                            ("data.teacher.fold_models=[x]", "at least 2 teachers")])
def test_cross_fitting_settings_no_run_can_use_are_refused(tmp_path, override, says):
    from kpstance.config import validate

    more = ["data.teacher.folds=3"] if override.startswith("data.teacher.fold=") else []
    with pytest.raises(KpstanceError, match=says):
        validate(compose(["experiment=smoke", override, *more], tmp_path))


def test_actor_weight_scales_the_actor_cross_entropy_in_the_loss(scheme, tmp_path):
    """One step from the same seeded initial weights: the first-step loss is actor CE x weight + stance CE, so halving
    the weight lowers it by half the actor CE of a near-uniform random head (about ln 8 / 2 for eight actors)."""
    import math

    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh

    units, labels = _toy()
    loss = {}
    for w in (1.0, 0.5):
        cfg = validate(compose(["experiment=smoke", "trainer.max_steps=1", "trainer.batch_size=64",
                                f"trainer.actor_weight={w}", "system.context=false"], tmp_path / str(w)))
        loss[w] = fit_fresh(cfg, scheme, units, labels, f"actor weight {w}").stats.final_loss
    half_actor_ce = math.log(len(scheme.actor_labels)) / 2
    assert abs((loss[1.0] - loss[0.5]) - half_actor_ce) < 0.25 * half_actor_ce, (loss, half_actor_ce)


def test_pool_examples_learn_from_the_teacher_alone(scheme, tmp_path):
    """Labels say hardline, the teacher says neutral; at a small distill_weight the labels win on labelled examples,
    while the same examples marked as a distillation pool (``teacher_only``) never read their labels and learn the
    teacher's neutral."""
    from dataclasses import replace

    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh

    units, labels = _toy()
    labels = [(a, "hardline") for a, _ in labels]
    n_actor = len(scheme.actor_labels)
    neutral = scheme.stance_labels.index("neutral")
    said = {}
    for pool in (False, True):
        taught = []
        for u, (a, _) in zip(units, labels):
            row = [0.0] * (n_actor + len(scheme.stance_labels))
            row[scheme.actor_labels.index(a)] = 1.0
            row[n_actor + neutral] = 1.0
            taught.append(replace(u, extra={**u.extra, "teacher": row, **({"teacher_only": True} if pool else {})}))
        cfg = validate(compose(["experiment=smoke", "trainer.max_steps=30", "trainer.batch_size=8",
                                "trainer.distill_weight=0.1"], tmp_path / str(pool)))
        said[pool] = [p["stance"] for p in fit_fresh(cfg, scheme, taught, labels, f"pool {pool}").predict(units)]
    assert said[False].count("hardline") == len(units) and said[True].count("neutral") == len(units), said


def test_pool_examples_without_a_teacher_are_refused(scheme, tmp_path):
    from dataclasses import replace

    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh

    units, labels = _toy()
    units = [replace(u, extra={**u.extra, "teacher_only": True}) for u in units]
    cfg = validate(compose(["experiment=smoke", "trainer.max_steps=2"], tmp_path))
    with pytest.raises(KpstanceError, match="need a teacher's distributions"):
        fit_fresh(cfg, scheme, units, labels, "no teacher")


def test_the_distillation_pool_holds_new_names_and_new_synthetic_units_marked_teacher_only(scheme, tmp_path):
    from kpstance.weak.trainset import TrainPart, swap_part, teacher_pool

    units, labels = _toy()
    part = [TrainPart("toy", units, labels)]
    cfg = _distill_cfg(tmp_path, tmp_path / "t.safetensors", "data.teacher.pool_swap=2", "data.teacher.pool_alias=1",
                       "data.teacher.pool_synthetic=30", "seed=0")
    (pool,) = teacher_pool(cfg, scheme, [], part)
    kinds = [u.extra["pool"] for u in pool.units]
    assert all(u.extra["teacher_only"] and u.id.endswith("~pool") for u in pool.units)
    assert kinds.count("synthetic") == 30 and kinds.count("swap") >= len(units)
    labelled = {u.text for u in swap_part(part, scheme, 1, 0).units}
    swapped = {u.text for u in pool.units if u.extra["pool"] == "swap"}
    assert len(swapped - labelled) > len(swapped) / 2  # mostly other names than the labelled copies'
    assert not any("swap_of" in u.extra or "alias_of" in u.extra for u in pool.units)  # never a pairing partner
    assert teacher_pool(_distill_cfg(tmp_path, tmp_path / "t.safetensors", "trainer.distill_weight=0",
                                     "data.teacher.pool_swap=2"), scheme, [], part) == []


def test_copy_groups_put_a_unit_with_its_copies_whatever_the_order():
    from kpstance.systems.finetune import copy_groups

    partners = {0: [3, 4], 1: [5], 2: [6]}
    # copy 3 comes before its unit in the order; unit 2 is not trained on, so its copy 6 stands alone
    assert copy_groups([3, 0, 1, 4, 5, 6], partners) == [[0, 3, 4], [1, 5], [6]]
    assert copy_groups([0, 1], None) == [[0], [1]]


def test_a_shared_masked_pass_pairs_as_well_at_a_fraction_of_the_reads(scheme, tmp_path):
    """trainer.copies_in_batch: each batch holds a unit with its swapped copy, and the masked pass reads each distinct
    masked text once. Counted with a forward hook, training reads far fewer rows than masked pairing per example, and
    fewer again with trainer.mask_pair_copied_only where only some units have copies; the stance distributions of a
    unit and its copy still lie much closer than with the copies alone, and the telling sentences are read right."""
    from kpstance.config import validate
    from kpstance.systems import finetune
    from kpstance.systems.base import fit_fresh

    units, labels = _toy()
    us, ls, copies = _with_copies(scheme, units, labels)
    _, _, half = _with_copies(scheme, units[::2], labels[::2])  # copies of half the units
    rows: Counter[str] = Counter()
    now = {"run": ""}
    built = finetune.fine_tune

    def counting(model, *args, **kwargs):
        model.register_forward_hook(lambda m, a, kw, out: rows.update({now["run"]: kw["input_ids"].shape[0]}),
                                    with_kwargs=True)
        return built(model, *args, **kwargs)

    def fit(run: str, overrides: list[str], steps: int, train_units, train_labels):
        now["run"] = run
        cfg = validate(compose(["experiment=smoke", f"trainer.max_steps={steps}", "trainer.batch_size=8",
                                "trainer.lr=3e-3", "system.context=false", ONE_PASS, *overrides], tmp_path / run))
        return fit_fresh(cfg, scheme, train_units, train_labels, run)

    gaps = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(finetune, "fine_tune", counting)
        for together in ("true", "false"):
            for only in ("true", "false"):
                fit(f"{together} {only}", ["trainer.mask_pair_weight=1.0", f"trainer.copies_in_batch={together}",
                                           f"trainer.mask_pair_copied_only={only}"], 20,
                    units + half.units, labels + half.labels)
        for name, extra in (("copies", ["trainer.copies_in_batch=true", "trainer.mask_pair_weight=0.0"]),
                            ("per example", ["trainer.mask_pair_weight=1.0"]),
                            ("shared", ["trainer.mask_pair_weight=1.0", "trainer.copies_in_batch=true"])):
            model = fit(name, extra, 300, us, ls)
            gaps[name] = _stance_gap(model.predict, units, copies)
            telling = [(p["stance"], s) for u, p, (_, s) in zip(units, model.predict(units), labels)
                       if not any(v in u.text for v in VAGUE)]
            if name != "per example":  # here only to count its reads
                assert all(p == s for p, s in telling), (name, telling)
    assert gaps["shared"] < 0.5 * gaps["copies"], gaps  # measured: 0.14 against 0.50
    # measured: 3428 rows against 4920 per example and 2520 for the copies alone (300 steps of 8 or so examples)
    assert rows["shared"] < 0.8 * rows["per example"], rows
    # the masked pass skips the units without copies, in a shared pass and per example alike
    assert rows["true true"] < 0.9 * rows["true false"] and rows["false true"] < 0.9 * rows["false false"], rows


def test_stance_balance_weighs_each_stance_class_to_the_same_total(tmp_path):
    """Balanced (power 1): every class present weighs as much in total, and the labelled examples' mean weight stays
    one, so the loss keeps its scale; power 0 leaves the loss unweighted; a negative power is refused."""
    import torch

    from kpstance.config import validate
    from kpstance.systems.finetune import stance_weights

    labels = [0] * 60 + [1] * 30 + [2] * 10
    w = stance_weights(labels, 3, 1.0)
    counts = torch.tensor([60.0, 30.0, 10.0])
    assert torch.allclose(w * counts, torch.full((3,), 100 / 3), atol=1e-4)
    assert abs(float((w * counts).sum()) / 100 - 1.0) < 1e-6
    half = stance_weights(labels, 3, 0.5)
    assert float(half[2] / half[0]) == pytest.approx(6 ** 0.5, rel=1e-5)  # between unweighted and balanced
    assert stance_weights(labels, 3, 0.0) is None
    assert stance_weights([0, 0, 1], 3, 1.0)[2] == 0.0  # a class without examples adds nothing
    with pytest.raises(KpstanceError, match="stance_balance"):
        validate(compose(["experiment=smoke", "trainer.stance_balance=-1"], tmp_path))


def test_stance_balance_reaches_the_training_loss(scheme, tmp_path):
    """One step from the same seeded weights on a set where hardline is rare: balanced weights change the first-step
    loss (the rare class's cross-entropy counts more); unweighted, the loss is what it was."""
    from kpstance.config import validate
    from kpstance.systems.base import fit_fresh

    units, labels = _toy()
    keep = [i for i, (_, s) in enumerate(labels) if s != "hardline" or i % 5 == 0]
    units, labels = [units[i] for i in keep], [labels[i] for i in keep]
    loss = {}
    for b in (0.0, 0.0, 1.0):
        cfg = validate(compose(["experiment=smoke", "trainer.max_steps=1", "trainer.batch_size=64",
                                f"trainer.stance_balance={b}", "system.context=false"], tmp_path / f"{b}-{len(loss)}"))
        loss.setdefault(b, []).append(fit_fresh(cfg, scheme, units, labels, f"balance {b}").stats.final_loss)
    assert loss[0.0][0] == pytest.approx(loss[0.0][1], abs=1e-6)  # the same run twice: the same loss
    assert abs(loss[1.0][0] - loss[0.0][0]) > 1e-3, loss


def test_label_smoothing_caps_how_sure_the_heads_grow_and_keeps_the_labels(scheme, tmp_path):
    """trainer.label_smoothing: the same tiny BERT, data and seed trained until it fits. Unsmoothed, the stance head
    grows near certain on the sentences it fits; at e = 0.3 the loss is lowest at 1 - e + e/3 = 0.8 for the label,
    so the scores stay well below certainty while the telling sentences keep their labels. 1 is refused."""
    from kpstance.config import validate

    units, labels = _toy()
    sure = {}
    for e in (0.0, 0.3):
        preds = _fit_toy(scheme, tmp_path / f"smoothing {e}", 300, units, labels,
                         f"trainer.label_smoothing={e}").predict(units)
        assert all(_telling(units, labels, preds)), e
        fitted = [max(p["stance_probs"].values()) for u, p in zip(units, preds) if not any(v in u.text for v in VAGUE)]
        sure[e] = sum(fitted) / len(fitted)
    assert sure[0.0] > 0.9 and 0.7 < sure[0.3] < 0.85, sure  # measured: 0.98 and 0.80
    with pytest.raises(KpstanceError, match="label_smoothing"):
        validate(compose(["experiment=smoke", "trainer.label_smoothing=1"], tmp_path))


def _direction_toy() -> tuple[list[Unit], list[tuple[str, str]]]:
    """Steps with a direction, each topic seen in one direction only, and a neutral sentence that has one too."""
    said = [("Lavrov", "suspended the drills", "conciliatory"), ("Tillerson", "imposed new sanctions", "hardline"),
            ("Wang Yi", "eased the pressure", "conciliatory"), ("Kono", "condemned the talks", "hardline"),
            ("Moscow", "welcomed the summit", "conciliatory"), ("Washington", "expanded the blockade", "hardline")]
    units, labels = [], []
    for k, (name, what, stance) in enumerate(said):
        for j, tail in enumerate(["", " on Monday", " again", " at once"]):
            units.append(Unit.of_text(f"{name} {what}{tail}.", f"d{k}-{j}"))
            labels.append((ACTOR[name], stance))
    units.append(Unit.of_text("Reporters said the talks continued.", "n0"))
    labels.append(("none", "neutral"))
    return units, labels


def test_unlike_part_flips_a_step_of_each_polar_unit_and_keeps_its_labels(scheme):
    from kpstance.weak.trainset import TrainPart, unlike_part

    units, labels = _direction_toy()
    part = unlike_part([TrainPart("toy", units, labels)], scheme, 1, 0)
    assert part.count_key == "n_unlike_train" and len(part.units) == len(units) - 1  # not the neutral unit
    by_id = {u.id: (u, lab) for u, lab in zip(units, labels)}
    for copy, label in zip(part.units, part.labels):
        original, own = by_id[copy.extra["direction_of"]]
        assert copy.extra["unlike"] and label == own and copy.text != original.text
    texts = {c.text for c in part.units}
    assert "Lavrov resumed the drills." in texts and "Kono welcomed the talks." in texts


def test_unlikelihood_moves_a_flipped_step_off_its_originals_stance(scheme, tmp_path):
    """The same tiny BERT, data and seed: trained on the originals alone, the model gives a direction-flipped copy
    ("resumed the drills") the original's stance, as it reads the topic; with the copies trained by unlikelihood
    (data.direction_unlike) the original's stance becomes unlikely for them, and the originals are still read right.
    The unlikelihood pulls the copies' stance away without naming it: no copy is trained towards a label."""
    from kpstance.config import validate
    from kpstance.weak.trainset import TrainPart, unlike_part

    units, labels = _direction_toy()
    copies = unlike_part([TrainPart("toy", units, labels)], scheme, 1, 0)
    kept = {}
    for name, us, ls in (("originals", units, labels),
                         ("unlike", units + copies.units, labels + copies.labels)):
        model = _fit_toy(scheme, tmp_path / name, 300, us, ls)
        right = [p["stance"] == s for p, (_, s) in zip(model.predict(units), labels) if s != "neutral"]
        assert all(right), (name, right)
        preds = model.predict(copies.units)
        kept[name] = sum(p["stance_probs"][s] for p, (_, s) in zip(preds, copies.labels)) / len(preds)
    assert kept["originals"] > 0.5 and kept["unlike"] < kept["originals"] - 0.2, kept  # measured: 0.60 and 0.28
    with pytest.raises(KpstanceError, match="direction_unlike"):
        validate(compose(["experiment=smoke", "data.direction_unlike=-1"], tmp_path))


def test_speaker_prior_counts_each_actors_stances_add_one_smoothed():
    import torch

    from kpstance.systems.finetune import speaker_prior

    prior = speaker_prior([(0, 0)] * 3 + [(0, 1)], 2, 3)
    assert torch.allclose(prior[0].exp(), torch.tensor([4 / 7, 2 / 7, 1 / 7]))
    assert torch.allclose(prior[1].exp(), torch.full((3,), 1 / 3))  # an actor never seen: no prior


def test_a_product_of_experts_with_the_speaker_prior_leaves_the_speaker_out_of_the_network(scheme, tmp_path):
    """trainer.prior_poe: each actor takes its usual stance in most units and the other in one telling unit; the vague
    units say nothing but the name. Without the prior's expert, the network reads the vague units' stance from the
    name, so a unit and its speaker-swapped copy get different stances; with it, the prior explains the name's share
    in training and the network, which prediction reads alone, keeps much less of it, while it reads the telling
    units about as well."""
    from kpstance.config import validate

    units, labels = [], []
    for soft, hard in PAIRS:
        for name, usual, other in ((soft, "conciliatory", "hardline"), (hard, "hardline", "conciliatory")):
            said = [(w, usual) for w in SAYS[usual]] + [(SAYS[other][0], other)] + [(v, usual) for v in VAGUE]
            for j, (what, stance) in enumerate(said):
                units.append(Unit.of_text(f"{name} {what}.", f"{ACTOR[name]}-{name}-{j}"))
                labels.append((ACTOR[name], stance))
    _, _, copies = _with_copies(scheme, units, labels)
    copies.units[:] = [c for c in copies.units if any(v in c.text for v in VAGUE)]  # the vague units' copies
    gaps, telling = {}, {}
    for poe in (0.0, 1.0):
        model = _fit_toy(scheme, tmp_path / f"poe {poe}", 200, units, labels, f"trainer.prior_poe={poe}")
        gaps[poe] = _stance_gap(model.predict, units, copies)
        telling[poe] = sum(_telling(units, labels, model.predict(units)))
    assert gaps[1.0] < 0.5 * gaps[0.0], gaps  # measured: 0.22 against 0.73
    assert telling[1.0] >= telling[0.0] - 2, telling  # measured: 16 and 17 of 24
    with pytest.raises(KpstanceError, match="prior_poe"):
        validate(compose(["experiment=smoke", "trainer.prior_poe=-1"], tmp_path))


# -- speaker averaging at prediction


def test_speaker_averaging_reads_each_stance_over_swapped_speakers_and_the_saved_model_keeps_it(scheme, tmp_path):
    """A tiny model trained on a confounded toy set reads the stance from the speaker; averaged over two swapped
    speakers (system.speaker_average=2) a unit and its swapped copy get much closer stance distributions. The
    average is the normalised geometric mean of the passes (so temperature scaling stays exact), the actor is the
    plain pass's, the saved model keeps the setting and a caller may override it."""
    import json

    import numpy as np

    from kpstance.systems.predictor import StancePredictor

    units, labels = _toy()
    _, _, copies = _with_copies(scheme, units, labels)
    model = _fit_toy(scheme, tmp_path / "seeing", 300, units, labels, "system.speaker_average=2")
    assert model.meta()["speaker_average"] == 2
    plain = StancePredictor(model.model, model.tokenizer, model.cfg.encoder.max_length)
    plain.label_scheme = scheme

    def read(p):
        return lambda us: p.predict([u.text for u in us])

    gap_plain = _stance_gap(read(plain), units, copies)
    assert gap_plain > 0.5  # measured: 1.18, the names carry the stance
    gap_averaged = _stance_gap(model.predict, units, copies)
    every = StancePredictor(model.model, model.tokenizer, model.cfg.encoder.max_length)
    every.label_scheme, every.speaker_average = scheme, 6  # every other actor: a unit and its copy share the speakers
    gap_every = _stance_gap(read(every), units, copies)
    assert gap_every < gap_averaged < 0.7 * gap_plain, (gap_every, gap_averaged, gap_plain)  # measured: 0.64 for 2, 0.19 for 6
    assert gap_every < 0.25 * gap_plain
    # the average by hand for one unit: the plain pass and the copies the predictor makes of it
    text = "Lavrov spoke."
    made, _ = Swapper(scheme).copies([text, ""], "russia", (text, None), 2, ["sentence", "sentence"])
    assert len(made) == 2 and all("Lavrov" not in c.texts[0] for c in made)
    _, ps = plain.predict_proba([text, *[c.texts[0] for c in made]])
    mean = np.exp(np.log(ps).mean(0))
    averaged = model.predict([Unit.of_text(text, "x")])[0]
    np.testing.assert_allclose([averaged["stance_probs"][s] for s in plain.stances], mean / mean.sum(), atol=1e-5)
    assert averaged["actor_probs"] == plain.predict([text])[0]["actor_probs"]
    # saved and loaded: the model's own setting, or the caller's
    model.save(tmp_path / "m")
    (tmp_path / "m" / "kpstance.json").write_text(json.dumps(model.meta()), encoding="utf-8")
    texts = [u.text for u in units]
    assert StancePredictor.load(tmp_path / "m").speaker_average == 2
    assert [p["stance"] for p in StancePredictor.load(tmp_path / "m").predict(texts)] == \
        [p["stance"] for p in model.predict(units)]
    assert StancePredictor.load(tmp_path / "m", speaker_average=0).predict(texts) == plain.predict(texts)
    with pytest.raises(KpstanceError, match="0 or more copies"):
        StancePredictor.load(tmp_path / "m", speaker_average=-1)
