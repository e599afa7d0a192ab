"""Loading the label YAML, and its errors."""

from __future__ import annotations

import pytest
import yaml
from helpers import LABELS

from kpstance.errors import KpstanceError
from kpstance.weak.scheme import load_scheme


def test_scheme_loads_all_actors_and_stances(scheme):
    assert scheme.actor_labels == ["russia", "united_states", "japan", "north_korea", "south_korea", "china",
                                   "united_nations", "none"]
    assert scheme.stance_labels == ["hardline", "conciliatory", "neutral"]
    assert (scheme.coercive, scheme.deescalating, scheme.neutral_stance) == ("hardline", "conciliatory", "neutral")
    assert len(scheme.sha256) == 64


def test_mapping_and_file_give_the_same_hash(scheme):
    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    assert load_scheme(data).sha256 == scheme.sha256


def _write(tmp_path, mutate):
    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    mutate(data)
    p = tmp_path / "labels.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


def test_alias_claimed_by_two_actors_is_refused(tmp_path):
    p = _write(tmp_path, lambda d: d["actors"]["china"]["aliases"].append("Moscow"))
    with pytest.raises(KpstanceError, match=r"labels.yaml:\d+: alias 'Moscow' is claimed by two actors: russia and china"):
        load_scheme(p)


def test_stance_role_outside_the_stances_is_refused(tmp_path):
    p = _write(tmp_path, lambda d: d["stance_roles"].update(neutral="undecided"))
    with pytest.raises(KpstanceError, match="stance_roles.neutral: 'undecided' is not one of stances"):
        load_scheme(p)


def test_missing_stance_role_is_refused(tmp_path):
    p = _write(tmp_path, lambda d: d["stance_roles"].pop("coercive"))
    with pytest.raises(KpstanceError, match=r"stance_roles: needs exactly the keys .*missing coercive"):
        load_scheme(p)


def test_missing_language_list_is_refused(tmp_path):
    p = _write(tmp_path, lambda d: d["grammar"].pop("target_words"))
    with pytest.raises(KpstanceError, match=r"missing list 'grammar.target_words'"):
        load_scheme(p)


def test_renamed_stances_work_through_their_roles(tmp_path):
    """Stance names are data: renaming them in the YAML (with the roles) needs no code change."""
    from kpstance.text.segment import segment_article
    from kpstance.weak.label import label_units

    def rename(d):
        d["stances"] = ["coercive", "cooperative", "none_taken"]
        d["stance_roles"] = {"coercive": "coercive", "deescalating": "cooperative", "neutral": "none_taken"}
    scheme = load_scheme(_write(tmp_path, rename))
    units = segment_article("Talks\nBeijing urged restraint and a return to dialogue.\n"
                            "The Treasury announced sanctions against Pyongyang.\n", "x")
    labels = {s.text[:8]: (s.actor, s.stance) for s in label_units(units, scheme)}
    assert labels["Beijing "] == ("china", "cooperative")
    assert labels["The Trea"] == ("united_states", "coercive")


def test_unknown_cue_group_is_refused(tmp_path):
    p = _write(tmp_path, lambda d: d["stance_cues"].update(sympathetic=["hug"]))
    with pytest.raises(KpstanceError, match=r"stance_cues: unknown group"):
        load_scheme(p)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["stance_cues"].pop("coercive"), r"missing list\(s\) stance_cues.coercive \(the rules read every"),
    (lambda d: d.update(stances=["hardline", "conciliatory", "neutral", "hardline"]), r"stances: hardline listed twice"),
    (lambda d: d["actors"].update(japan=None), r"actors.japan: no aliases or demonyms"),
    (lambda d: d["actors"].update(rok={"aliases": []}), r"actors.rok: no aliases or demonyms"),
    (lambda d: d["stance_cues"]["deescalating"].append(d["stance_cues"]["coercive"][0]),
     r"stance_cues: '.+' in both coercive and deescalating"),
])
def test_a_scheme_that_would_label_wrongly_in_silence_is_refused(tmp_path, mutate, message):
    """Each of these used to load: every coercive step read neutral, a model with two outputs for one stance, an
    actor the rules could never name, a cue read both ways."""
    with pytest.raises(KpstanceError, match=message):
        load_scheme(_write(tmp_path, mutate))


def _line_of(p, prefix):
    return next(i for i, x in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if x.startswith(prefix))


def test_a_misspelled_key_is_refused_with_its_line_not_ignored(tmp_path):
    """'titels:' at the top level was read as no titles at all, in silence (a new user's trial, 2026-12-07): the
    rules then lost 'the secretary added' and every other bare title. Each misspelling names its key and line."""
    text = LABELS.read_text(encoding="utf-8")
    p = tmp_path / "labels.yaml"
    for old, new, message in (
            ("\ntitles:", "\ntitels:", "unknown key 'titels' (allowed at the top level: name, description, none_actor, "),
            ("\ndirections:", "\ndirectons:", "unknown key 'directons' (allowed at the top level"),
            ("\n  russia:\n    aliases:", "\n  russia:\n    alias:",
             "actors.russia: unknown key 'alias' (only 'aliases' and 'demonyms' are allowed)"),
            ("\n  criticism:", "\n  critcism:", "stance_cues: unknown group 'critcism'; allowed: coercive, "),
            ("\n  speech_verbs:", "\n  speech_verb:", "attribution: unknown key 'speech_verb'; allowed: ")):
        assert old in text, old
        p.write_text(text.replace(old, new, 1), encoding="utf-8")
        key = new.strip().split("\n")[-1]
        with pytest.raises(KpstanceError) as e:
            load_scheme(p)
        assert str(e.value).startswith(f"{p}:{_line_of(p, new.split(chr(10))[-1])}: {message}"), (key, str(e.value))


def test_a_label_file_that_is_not_utf8_names_the_line_and_byte(tmp_path):
    p = tmp_path / "labels.yaml"
    lines = LABELS.read_text(encoding="utf-8").splitlines(keepends=True)
    p.write_bytes("".join(lines[:9]).encode() + "  # Vi\xe9t Nam\n".encode("latin-1") + "".join(lines[9:]).encode())
    with pytest.raises(KpstanceError, match=r"labels.yaml:10: not valid UTF-8 \(byte 6 of the line\)"):
        load_scheme(p)


def test_a_key_given_twice_is_refused_with_its_line(tmp_path):
    """A second ``japan:`` block used to replace the first in silence: Japan's aliases were gone."""
    text = LABELS.read_text(encoding="utf-8")
    p = tmp_path / "labels.yaml"
    p.write_text(text.replace("\nactors:\n", "\nactors:\n  japan:\n    aliases: [Nippon]\n", 1), encoding="utf-8")
    line = p.read_text(encoding="utf-8").splitlines().index("  japan:") + 1
    later = [i + 1 for i, x in enumerate(p.read_text(encoding="utf-8").splitlines()) if x == "  japan:"][1]
    with pytest.raises(KpstanceError, match=rf"labels.yaml:{later}: not valid YAML \(key 'japan' appears twice"):
        load_scheme(p)
    assert line < later
    from kpstance.config import broken_config_file

    configs = tmp_path / "configs" / "labels"
    configs.mkdir(parents=True)
    (configs / "x.yaml").write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    assert f"x.yaml:{later}: not valid YAML (ConstructorError: key 'japan' appears twice" in broken_config_file(
        tmp_path / "configs", labels={"x"})


def test_invalid_yaml_names_the_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("actors:\n  russia: [\n", encoding="utf-8")
    with pytest.raises(KpstanceError, match=r"bad.yaml:\d+: not valid YAML"):
        load_scheme(p)


def test_adapting_to_another_conflict_needs_only_yaml(tmp_path):
    """A different conflict: new actors and aliases, same code."""
    from kpstance.text.segment import segment_article
    from kpstance.weak.label import label_units

    def other(d):
        d["actors"] = {"atlantis": {"aliases": ["Atlantis", "Poseidonia"], "demonyms": ["Atlantean"]},
                       "lemuria": {"aliases": ["Lemuria", "Mu City"], "demonyms": ["Lemurian"]}}
        d.pop("names")  # the speaker-swap names table belongs to a conflict too (optional; tests/test_swap.py)
    scheme = load_scheme(_write(tmp_path, other))
    assert scheme.actor_labels == ["atlantis", "lemuria", "none"]
    units = segment_article("Harbour dispute\nThe pressure on Lemuria must grow, the Atlantean foreign minister said.\n", "x")
    (lab,) = [s for s in label_units(units, scheme) if s.text.startswith("The pressure")]
    assert (lab.actor, lab.stance) == ("atlantis", "hardline")


def test_a_model_saved_before_a_cue_group_existed_still_loads_its_scheme(tmp_path):
    """A label file being written must name every cue group; the scheme stored with an older model may lack one
    (``stopping`` came later), read as the empty list it was then."""
    from kpstance.systems.predictor import model_scheme

    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    data["stance_cues"].pop("stopping")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"labels": data}), encoding="utf-8")
    assert model_scheme(tmp_path).cues["stopping"] == ()
    with pytest.raises(KpstanceError, match="missing list"):
        load_scheme(data)


def test_the_opposition_and_futility_groups_are_optional_and_without_them_the_rules_read_as_before():
    """A label file written before ``stance_cues.opposition`` and ``futility`` existed loads, its rules reading as
    they did then (being against a step, or judging talks futile, decided nothing); with the groups, they decide."""
    from kpstance.text.segment import segment_article
    from kpstance.weak.label import label_units

    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    units = segment_article("Headline\nJapan opposes lifting sanctions.\n\nTalking is not the answer, Trump said.\n",
                            "x")
    expected = [("japan", "hardline"), ("united_states", "hardline")]
    assert [(u.actor, u.stance) for u in label_units(units, load_scheme(data))][1:] == expected
    for group in ("opposition", "futility", "concession"):
        data["stance_cues"].pop(group)
    without = load_scheme(data)
    assert without.cues["opposition"] == without.cues["futility"] == without.cues["concession"] == ()
    assert [(u.actor, u.stance) for u in label_units(units, without)][1:] == [("japan", "conciliatory"),
                                                                              ("united_states", "conciliatory")]


def test_yaml_merge_keys_still_load_and_only_a_key_written_twice_is_refused(tmp_path):
    from kpstance.yamlfile import load_yaml

    assert load_yaml("x: &x {a: 1}\nc: {<<: *x, a: 2, d: 3}\n") == {"x": {"a": 1}, "c": {"a": 2, "d": 3}}
    with pytest.raises(yaml.YAMLError, match="key 'a' appears twice"):
        load_yaml("a: 1\nb: 2\na: 3\n")
    with pytest.raises(yaml.YAMLError):
        load_yaml("? [1, 2]\n: 3\n")  # PyYAML's own one-line problem, no TypeError
