"""cnnspace.space from Python: misuse is a SpaceError saying what belongs where."""
import pytest

from cnnspace import analyze, get_spec
from cnnspace.space import DesignSpace, SpaceError, analyze_points

SPACE = DesignSpace.load("examples/spaces/fire_widths.yaml")
POINT = {"base_e": 64, "incr_e": 32, "freq": 2}


def test_load_of_something_not_a_path_is_a_space_error():
    with pytest.raises(SpaceError, match="expected the path of a design space file"):
        DesignSpace.load(get_spec("squeezenet1_1"))


def test_check_constraints_of_a_spec_says_to_analyse_it_first():
    spec = SPACE.spec_for(POINT)
    assert SPACE.check_constraints(analyze(spec)) == []
    with pytest.raises(SpaceError, match=r"got NetSpec: cnnspace.analyze\(spec"):
        SPACE.check_constraints(spec)


@pytest.mark.parametrize("points, message", [
    (POINT, "got dict: one point[?] put it in a list"),
    (None, "expected an iterable of points"),
])
def test_analyze_points_of_one_point_or_none_is_a_space_error(points, message):
    assert analyze_points(SPACE, [POINT])[0].ok
    with pytest.raises(SpaceError, match=message):
        analyze_points(SPACE, points)


def test_analyze_points_of_a_spec_instead_of_a_space():
    with pytest.raises(SpaceError, match="expected a DesignSpace, got NetSpec"):
        analyze_points(get_spec("squeezenet1_1"), [POINT])


def test_a_file_of_another_kind_says_which_loader_reads_it(tmp_path):
    from cnnspace import SpecError, load, save
    save(get_spec("squeezenet1_1"), tmp_path / "sq.yaml")
    # the command that reads it, then the call in Python
    with pytest.raises(SpaceError, match=r"a spec file\? `cnnspace analyze FILE` reads it "
                                         r"\(cnnspace.load in Python\)"):
        DesignSpace.load(tmp_path / "sq.yaml")
    with pytest.raises(SpaceError, match=r"a study file\? `cnnspace explore FILE` runs it "
                                         r"\(cnnspace.explore.load_study_file in Python\)"):
        DesignSpace.load("examples/studies/demo.yaml")
    with pytest.raises(SpecError, match=r"a design-space file\? `cnnspace space analyze FILE` "
                                        r"reads it \(cnnspace.space.DesignSpace.load in Python\)"):
        load("examples/spaces/fire_widths.yaml")
