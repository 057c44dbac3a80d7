"""cnnspace.explore from Python: a path where a study belongs (and vice versa), None or a wrong
kind is a StudyError saying what to pass, not an AttributeError from deep inside; results
print short and convert to plain data."""
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from _explore_studies import EXAMPLES, write_study
from cnnspace.errors import CnnspaceError
from cnnspace.explore import (ExploreResult, Feasibility, Heartbeat, Objective, StudyError,
                              StudyFile, StudyResults, check_feasible, explore, fit_space,
                              load_results, load_study_file, pareto_mask, study_names)

DEMO = EXAMPLES / "demo.yaml"


@pytest.fixture(scope="module")
def demo():
    return load_study_file(DEMO)


@pytest.mark.parametrize("study, message", [
    (str(DEMO), "expected a StudyFile, got str: cnnspace.explore.load_study_file\\(path\\) reads"),
    (None, "expected a StudyFile, got NoneType"),
    ({"name": "x"}, "got dict: cnnspace.explore.study_from_dict\\(d\\) makes one"),
])
def test_explore_of_a_path_or_none_says_how_to_get_a_study(study, message, tmp_path):
    with pytest.raises(StudyError, match=message):
        explore(study, tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    ({"out_dir": None}, "out_dir: expected the study's folder \\(a str or pathlib.Path\\), got "
                        "NoneType"),
    ({"storage": 5}, "storage: expected a .journal or .db file or a storage URL"),
    ({"study_name": 5}, "study_name: expected a str or None, got int"),
    ({"heartbeat": 10}, "heartbeat: expected a Heartbeat"),
])
def test_explore_refuses_wrong_arguments_by_name(demo, tmp_path, kwargs, message):
    kwargs = {"out_dir": tmp_path, **kwargs}
    with pytest.raises(StudyError, match=message):
        explore(demo, **kwargs)
    assert not list(tmp_path.iterdir())  # refused before any storage was made


def test_explore_names_workers_as_the_python_caller_gave_it(demo, tmp_path):
    with pytest.raises(CnnspaceError, match="^workers: expected a positive integer, got 0$"):
        explore(demo, tmp_path, workers=0)
    with pytest.raises(CnnspaceError, match="^workers=1000: .* call explore on each"):
        explore(demo, tmp_path, workers=1000)


@pytest.mark.parametrize("location", [None, 5])
def test_load_results_and_study_names_refuse_a_non_path(location, demo):
    message = "expected the folder `cnnspace explore --out` wrote, .* got "
    for read in (load_results, study_names):
        with pytest.raises(StudyError, match=message + type(location).__name__):
            read(location)
    with pytest.raises(StudyError, match=message + "StudyFile"):
        load_results(demo)
    assert not Path("None").exists()


def test_load_study_file_refuses_a_non_path_and_prints_short(demo):
    with pytest.raises(StudyError, match="expected the path of a study file \\(a str or "
                                         "pathlib.Path\\), got NoneType$"):
        load_study_file(None)
    with pytest.raises(StudyError, match="got StudyFile: it is read already"):
        load_study_file(demo)
    assert repr(demo) == ("StudyFile(name='demo', space='demo', objectives=['top1', 'size_mib'], "
                          "sampler='grid', pruner='none', data='digits', n_trials=None, "
                          f"source={str(DEMO)!r})")


@pytest.mark.parametrize("space", ["space.yaml", None])
def test_check_feasible_and_fit_space_refuse_a_path(space):
    with pytest.raises(StudyError, match="expected a DesignSpace, got .*DesignSpace.load"):
        check_feasible(space)
    with pytest.raises(StudyError, match="expected a DesignSpace"):
        fit_space(space, (1, 8, 8), 10)


def test_check_feasible_of_a_study_names_its_space(demo):
    with pytest.raises(StudyError, match="got StudyFile: a study's space is its .space"):
        check_feasible(demo)


@pytest.mark.parametrize("values, maximize, message", [
    ([[1, 2], [3]], [True, True], "row 1: expected one value per objective \\(2"),
    ([[1, 2], [3, 4]], [True], "row 0: expected one value per objective \\(1"),
    (None, [True], "expected rows of objective values"),
])
def test_pareto_mask_refuses_rows_of_the_wrong_length(values, maximize, message):
    with pytest.raises(StudyError, match=message):
        pareto_mask(values, maximize)


def test_pareto_mask_takes_numpy_arrays():
    np = pytest.importorskip("numpy")
    assert pareto_mask(np.array([[1, 2], [2, 1], [0, 0]]), np.array([True, True])) == \
        [True, True, False]


def test_explore_result_is_plain_data_and_results_print_short(tmp_path):
    # A budget spent before the first trial: quick, and the study exists.
    study = load_study_file(write_study(tmp_path, name="empty", axes={"sr": [0.5]},
                                        budget={"timeout": 1e-6}))
    result = explore(study, tmp_path / "out", console=Console(file=io.StringIO()))
    data = json.loads(json.dumps(result.to_json()))
    assert data["out_dir"] == str(tmp_path / "out") and data["study_name"] == "empty"
    assert data["counts"]["trained"] == 0 and data["feasibility"]["checked"] == 1
    results = load_results(tmp_path / "out")
    assert repr(results) == (f"StudyResults(name='empty', storage={results.storage!r}, "
                             f"objectives=['top1', 'size_mib'], axes=['sr'], trials=<0 "
                             f"FrozenTrial>, counts={results.counts!r})")


@pytest.mark.parametrize("thing", [StudyError, ExploreResult, StudyResults, StudyFile,
                                   Feasibility, Heartbeat, Objective, load_study_file,
                                   study_names])
def test_public_names_have_docstrings(thing):
    assert thing.__doc__ and not thing.__doc__.startswith(thing.__name__ + "(")


def test_a_sample_that_no_point_of_satisfies_says_it_was_a_sample(demo, monkeypatch):
    # Above FEASIBILITY_SAMPLE points only a sample is analysed: "every point" overstated it
    from dataclasses import replace

    from cnnspace.explore import _points

    strict = replace(demo.space, constraints={"max_params": 10})
    with pytest.raises(StudyError, match="the constraints exclude every point: 0 of 5 grid"):
        check_feasible(strict)
    monkeypatch.setattr(_points, "FEASIBILITY_SAMPLE", 3)
    with pytest.raises(StudyError, match="the constraints exclude every sampled point: 0 of 3 "
                                         "sampled points satisfy"):
        check_feasible(strict)


def test_a_sampled_space_is_checked_until_a_feasible_point_is_found(demo, monkeypatch):
    # Every run and every worker analysed all 20,000 sampled points up front (28 s at 64x64)
    # where the first thousand already showed the space feasible.
    from dataclasses import replace

    from cnnspace.explore import _points
    from cnnspace.space import DesignSpace, analyze_points

    space = DesignSpace.from_dict({**demo.space.to_dict(),
                                   "axes": {"sr": {"low": 0.125, "high": 1.0}}})
    analysed = []
    monkeypatch.setattr(_points, "analyze_points",
                        lambda space, points: analysed.append(len(points))
                        or analyze_points(space, points))
    found = check_feasible(space)
    assert (found.checked, found.feasible, found.whole_grid) == (1000, 1000, False)
    # Feasible points rare (one in the sample): chunks until it is found, not the whole sample.
    monkeypatch.setattr(_points, "FEASIBILITY_SAMPLE", 200)
    monkeypatch.setattr(_points, "FEASIBILITY_CHUNK", 10)
    smallest = min(r.totals.params for r in analyze_points(space, space.sample(200)))
    analysed.clear()
    found = check_feasible(replace(space, constraints={"max_params": smallest}))
    assert found.feasible == 1 and found.checked == sum(analysed) < 200
    assert all(n == 10 for n in analysed) and len(analysed) > 1


def test_studies_whose_names_make_one_file_name_train_in_their_own_folders(tmp_path):
    # 'pct3x3 sweep' and 'pct3x3-sweep' shared trials/pct3x3-sweep-POINT: the second study's
    # trial resumed the first's checkpoint, and failed as trained with other options.
    from cnnspace.explore import file_name

    out = tmp_path / "out"
    for name, epochs in (("pct3x3 sweep", 1), ("pct3x3-sweep", 2)):
        study = load_study_file(write_study(tmp_path, name=name, axes={"sr": [0.5]},
                                           epochs=epochs, keep_checkpoints=True))
        assert explore(study, out).counts.trained == 1
    folders = [p.name for p in (out / "trials").iterdir()]
    assert len(folders) == 2 and file_name("pct3x3-sweep") == "pct3x3-sweep"
    assert sum(f.startswith(file_name("pct3x3 sweep") + "-") for f in folders) == 1


def test_latency_is_measured_on_the_threads_the_study_trains_on(tmp_path, monkeypatch):
    # train() gives torch's thread count back when it ends, and the latency was then timed on
    # the machine's count: on a busy 2-core machine 25-37 ms medians where 1 thread gave 0.23.
    import torch
    import yaml

    from cnnspace._threads import torch_threads
    from cnnspace.explore import _training

    seen = []
    timed = _training.time_calls

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return timed(*args, **kwargs)
    monkeypatch.setattr(_training, "time_calls", spy)
    path = write_study(tmp_path, axes={"sr": [0.5]})
    study = yaml.safe_load(path.read_text())
    study["train"]["threads"] = 1
    path.write_text(yaml.safe_dump(study))
    with torch_threads(2):
        assert explore(load_study_file(path), tmp_path / "out").counts.trained == 1
    assert seen == [1]
