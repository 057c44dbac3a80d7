"""Study files: the examples parse, and bad files give one clear error naming the file and the
key, before anything is trained or written."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from _explore_studies import EXAMPLES, TINY_FIXED, write_study

from cnnspace.cli import main
from cnnspace.explore import (OBJECTIVES, StudyError, fit_space, load_study_file,
                              study_from_dict)
from cnnspace.space import parse_axis


def test_examples_parse_with_their_samplers():
    found = {p.stem: load_study_file(p) for p in EXAMPLES.glob("*.yaml")}
    assert set(found) >= {"squeeze_ratio", "pct3x3", "pareto", "demo"}
    assert found["squeeze_ratio"].space.size == 8 and found["pct3x3"].space.size == 9
    pareto = found["pareto"]
    assert pareto.sampler.name == "nsga2" and pareto.multi_objective
    assert {a.name for a in pareto.space.axes} == {"base_e", "incr_e", "pct3x3", "sr", "freq"}
    assert [o.name for o in pareto.objectives] == ["top1", "size_mib"]


def bad(tmp_path: Path, **changes) -> Path:
    path = write_study(tmp_path)
    study = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        target, *rest = key.split("__")
        if rest:
            study[target][rest[0]] = value
        else:
            study[target] = value
    path.write_text(yaml.safe_dump(study))
    return path


CASES = [
    ({"objectives": ["top1", "acc"]}, "key 'objectives[1]': unknown objective 'acc'"),
    ({"objectives": []}, "key 'objectives': expected a non-empty list"),
    ({"space__axes": {}}, "key 'space.axes': a design space needs at least one axis"),
    ({"space__axes": {"sr": []}}, "key 'space.axes.sr.choices': expected a non-empty list"),
    ({"space__axes": {"sr": [1.5]}}, "key 'space.axes.sr': firenet rejects sr=1.5"),
    ({"space": ["sr"]}, "key 'space': a design space must be a mapping, got list"),
    ({"space__constraints": {"max_params": 10}},
     "key 'space.constraints': the constraints exclude every point: 0 of 3 grid points"),
    ({"sampler": "annealing"}, "key 'sampler.name': unknown sampler 'annealing'"),
    ({"sampler": {"name": "tpe", "n_startup": 3}}, "TPESampler has no option 'n_startup'"),
    ({"sampler": {"name": "tpe", "seed": 3}},
     "key 'sampler.seed': seed is set by cnnspace: set the study's top-level `seed:` key"),
    ({"seed": 2**32}, "key 'seed': expected an integer from 0 to 2**32 - 1 (Optuna's samplers "
     "take 32 bits) or null, got 4294967296"),
    ({"seed": -1}, "key 'seed': expected an integer from 0 to 2**32 - 1"),
    ({"pruner": "asha"}, "key 'pruner': Optuna prunes single-objective studies only"),
    ({"sampler": {"name": "nsga2", "population_size": 1}},
     "key 'sampler': NSGAIISampler: `population_size` must be greater than or equal to 2"),
    ({"train__epochs": 0}, "option 'epochs': expected a positive integer, got 0"),
    ({"train__out": "x"}, "key 'train.out': set by the study"),
    ({"train__learning_rate": 0.1}, "key 'train.learning_rate': unknown training option; known:"),
    ({"train__data": "mnist"}, "key 'train.data': unknown dataset 'mnist'"),
    ({"budget": {"n_trial": 3}}, "key 'budget.n_trial': unknown budget key"),
    ({"sampler": "random"}, "key 'budget': the random sampler never runs out of points"),
    ({"space__axes": {"sr": {"low": 0.1, "high": 1.0}}, "sampler": "grid"},
     "the grid sampler needs a step on every float axis; 'sr' is continuous"),
]


@pytest.mark.parametrize("changes, message", CASES, ids=[c[1][:40] for c in CASES])
def test_bad_study_is_refused_before_training(tmp_path, capsys, changes, message):
    study = bad(tmp_path, **changes)
    out = tmp_path / "out"
    assert main(["explore", str(study), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cnnspace explore: error: {study}: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing trained, no storage created


def test_unknown_training_option_lists_only_what_a_study_accepts(tmp_path, capsys):
    study = bad(tmp_path, train__learning_rate=0.1)
    assert main(["explore", str(study), "--out", str(tmp_path / "out")]) == 2
    known = set(capsys.readouterr().err.strip().split("known: ")[1].split(", "))
    assert {"lr", "epochs", "data", "image_size", "recipe"} <= known
    assert not known & {"out", "resume", "progress"}  # the study sets these per trial


def test_every_objective_has_a_direction_and_a_source():
    for o in OBJECTIVES.values():
        assert o.direction in ("maximize", "minimize") and o.source in (
            "analytic", "trained", "measured")
    assert OBJECTIVES["top1"].maximize and not OBJECTIVES["size_mib"].maximize


def test_space_file_is_read_relative_to_the_study(tmp_path):
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "s.yaml").write_text(yaml.safe_dump(
        {"base": "firenet", "fixed": TINY_FIXED, "axes": {"sr": [0.5, 1.0]}}))
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "st.yaml").write_text(yaml.safe_dump(
        {"space": "../spaces/s.yaml", "objectives": ["top1"]}))
    study = load_study_file(tmp_path / "studies" / "st.yaml")
    assert study.name == "st" and study.space.size == 2
    assert study.sampler.name == "grid" and study.pruner.name == "none"
    assert study.train["epochs"] == 40 and study.data == "digits"  # the adam-onecycle recipe


def test_missing_space_file_names_it():
    with pytest.raises(StudyError, match=r"study\.yaml: key 'space': .*nowhere\.yaml: cannot read"):
        study_from_dict({"name": "x", "space": "nowhere.yaml", "objectives": ["top1"]},
                        "study.yaml")


def test_pruner_needs_an_accuracy_objective():
    with pytest.raises(StudyError, match="key 'pruner': .*prunes on a trained accuracy"):
        study_from_dict({"name": "x", "space": {"base": "firenet", "axes": {"sr": [0.5]}},
                         "objectives": ["size_mib"], "pruner": "median"}, "study.yaml")


def test_a_pruner_option_of_the_wrong_type_names_the_file_and_key():
    with pytest.raises(StudyError, match="study.yaml: key 'pruner': ThresholdPruner: .*float"):
        study_from_dict({"name": "x", "space": {"base": "firenet", "axes": {"sr": [0.5]}},
                         "objectives": ["top1"], "pruner": {"name": "threshold", "lower": "abc"}},
                        "study.yaml")


def test_dataset_replaces_the_space_input_and_classes():
    # examples/spaces/squeeze_ratio.yaml is written for ImageNet; the study trains on digits.
    space = load_study_file(EXAMPLES / "squeeze_ratio.yaml").space
    assert space.fixed["num_classes"] == 1000
    fitted, notes = fit_space(space, (1, 32, 32), 10)
    assert fitted.fixed["input"] == (1, 32, 32) and fitted.fixed["num_classes"] == 10
    assert len(notes) == 2 and "the study trains at [1, 32, 32]" in notes[0] + notes[1]
    # A space that leaves them at the base's defaults is told too (sizes differ from its own).
    defaults = replace(space, fixed={})
    _, notes = fit_space(defaults, (1, 32, 32), 10)
    assert notes == ["firenet's default is input=[3, 227, 227]; the study trains at [1, 32, 32], "
                     "its dataset's, and measures sizes and MACs there",
                     "firenet's default is num_classes=1000; the study trains at 10, its "
                     "dataset's, and measures sizes and MACs there"]
    spec = fitted.spec_for({"sr": 0.5})
    assert spec.input == (1, 32, 32) and fitted.point_id({"sr": 0.5}) != space.point_id(
        {"sr": 0.5})
    with pytest.raises(StudyError, match="key 'space.axes.input': the dataset sets 'input'"):
        fit_space(replace(space, axes=(parse_axis("input", ["1x32x32", "1x16x16"]),)),
                  (1, 32, 32), 10)


def test_a_class_count_axis_is_refused_without_the_image_size_hint():
    """Resizing the images is the way out for an input axis only: for the class count it was
    advice that could not help."""
    space = load_study_file(EXAMPLES / "squeeze_ratio.yaml").space
    fixed = {k: v for k, v in space.fixed.items() if k != "num_classes"}
    with pytest.raises(StudyError) as refused:
        fit_space(replace(space, fixed=fixed, axes=(parse_axis("num_classes", [10, 100]),)),
                  (1, 32, 32), 10)
    assert str(refused.value).endswith("key 'space.axes.num_classes': the dataset sets "
                                       "'num_classes' (10); it cannot be an axis"), refused.value


HUGE_AXES = {"base_e": {"low": 8, "high": 1024}, "incr_e": {"low": 0, "high": 1024},
             "sr": {"low": 0.01, "high": 1.0, "step": 0.01}}  # 104,242,500 grid points


def test_a_huge_grid_is_searched_not_listed():
    # Optuna's GridSampler lists every grid point in memory (here tens of GB, in each worker):
    # the default sampler of such a space is TPE, and asking for the grid is an error.
    study = {"name": "x", "space": {"base": "firenet", "axes": HUGE_AXES},
             "objectives": ["top1"], "budget": {"n_trials": 5}}
    assert study_from_dict(study, "study.yaml").sampler.name == "tpe"
    with pytest.raises(StudyError, match="study.yaml: key 'sampler': the grid sampler lists every "
                       "point in memory, and this grid has 104,242,500 \\(more than 1,000,000\\)"):
        study_from_dict({**study, "sampler": "grid"}, "study.yaml")


def test_a_design_space_file_given_as_a_study_says_so(capsys):
    space = EXAMPLES.parent / "spaces" / "bypass.yaml"
    assert main(["explore", str(space)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"cnnspace explore: error: {space}: this is a design-space file, not a study: a study "
        "file names it (space: PATH) with its training, objectives and budget; see "
        "examples/studies/ and docs/exploring.md")


def test_an_inline_space_is_named_after_its_study(capsys):
    # as a space file is named after itself: `space analyze` titles, trained specs' names
    assert load_study_file(EXAMPLES / "demo.yaml").space.name == "demo"
    assert load_study_file(EXAMPLES / "squeeze_ratio.yaml").space.name == "squeeze_ratio"
    assert main(["space", "analyze", str(EXAMPLES / "demo.yaml")]) == 0
    assert capsys.readouterr().out.startswith("demo: 5 points of firenet\n")


@pytest.mark.parametrize("budget, said", [({"timeout": 5}, "5 s per worker"),
                                          ({"n_trials": 2, "timeout": 5},
                                           "2 trials or 5 s per worker"),
                                          ({"n_trials": 2}, "2 trials"),
                                          ({"n_trials": 1}, "1 trial")])  # was "1 trials"
def test_the_budget_is_said_in_words(tmp_path, budget, said):
    from cnnspace.explore._session import prepare

    study = load_study_file(write_study(tmp_path, sampler="random", budget=budget))
    assert prepare(study).describe_budget() == said


def test_worker_seeds_stay_within_the_32_bits_optuna_takes():
    from cnnspace.explore._worker import worker_seed

    assert worker_seed(2**32 - 1, "tpe", 1, shared_storage=False) == 0
    assert worker_seed(7, "tpe", 2, shared_storage=False) == 9
    assert worker_seed(2**32 - 1, "grid", 3, shared_storage=True) == 2**32 - 1  # all alike
    assert 0 <= worker_seed(2**32 - 1, "random", 0, shared_storage=True) < 2**32
