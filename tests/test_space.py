"""Design spaces: loading and errors, axes, grid and sampling, point ids, constraints, Optuna."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cnnspace import analyze, get_spec
from cnnspace.space import Axis, DesignSpace, SpaceError, analyze_points
from cnnspace.spec import from_dict, network_id, to_dict

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "spaces"


def space(**d) -> DesignSpace:
    return DesignSpace.from_dict({"base": "firenet", **d}, "test.yaml")


# -- loading and errors -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["squeeze_ratio", "pct3x3", "fire_widths", "bypass"])
def test_examples_load_and_round_trip(name):
    s = DesignSpace.load(EXAMPLES / f"{name}.yaml")
    assert s.name == name and s.source.endswith(f"{name}.yaml")
    again = DesignSpace.from_dict(s.to_dict())
    assert again.axes == s.axes and dict(again.fixed) == dict(s.fixed)
    assert list(again.points()) == list(s.points())


@pytest.mark.parametrize("d, key, words", [
    ({"axes": {}}, "axes", "at least one axis"),
    ({}, "axes", "at least one axis"),
    ({"axes": {"srr": [0.1]}}, "axes.srr", "no setting 'srr'"),
    ({"axes": {"sr": [0.25, 1.5]}}, "axes.sr", "sr=1.5"),
    ({"axes": {"sr": {"low": 0.5, "high": 1.5, "step": 0.5}}}, "axes.sr", "squeeze ratio"),
    ({"axes": {"bypass": ["none", "sideways"]}}, "axes.bypass", "sideways"),
    ({"axes": {"sr": {"low": 0.1, "high": 1.0, "stepp": 0.1}}}, "axes.sr.stepp",
     "unknown axis key"),
    ({"axes": {"sr": {"low": 0.1, "high": 1.0, "step": 0.25}}}, "axes.sr.step", "multiple of step"),
    ({"axes": {"sr": {"low": 0.9, "high": 0.1}}}, "axes.sr.low", "must not exceed"),
    ({"axes": {"dropout": {"low": 0.0, "high": 1e300, "step": 1e-300}}}, "axes.dropout.step",
     "too many steps"),
    ({"axes": {"conv1_filters": {"low": 1, "high": 10**400}}}, "axes.conv1_filters.high",
     "finite number"),
    ({"axes": {"sr": {"high": 0.5}}}, "axes.sr.low", "needs 'low' and 'high'"),
    ({"axes": {"sr": 0.5}}, "axes.sr", "use 'fixed'"),
    ({"axes": {"sr": []}}, "axes.sr.choices", "non-empty"),
    ({"axes": {"sr": [0.5, 0.5]}}, "axes.sr.choices", "distinct"),
    ({"axes": {"base_e": {"low": 16, "high": 64, "log": True, "step": 16}}}, "axes.base_e.step",
     "log axis"),
    ({"axes": {"sr": {"low": 0, "high": 1, "log": True, "kind": "float"}}}, "axes.sr.low",
     "low > 0"),
    ({"axes": {"base_e": {"low": 16, "high": 64.5, "kind": "int"}}}, "axes.base_e.high",
     "integers"),
    ({"axes": {"sr": [0.5]}, "fixed": {"sr": 0.25}}, "axes.sr", "both fixed and an axis"),
    ({"axes": {"sr": [0.5]}, "fixed": {"bypas": "simple"}}, "fixed.bypas", "no setting"),
    ({"axes": {"sr": [0.5]}, "fixed": {"num_fire": 4}}, "fixed", "pool_after"),
    ({"axes": {"sr": [0.5]}, "constraints": {"max_param": 1}}, "constraints.max_param",
     "unknown constraint"),
    ({"axes": {"sr": [0.5]}, "constraints": {"max_params": "many"}}, "constraints.max_params",
     "finite number"),
    ({"axes": {"sr": [0.5]}, "bits": 0}, "bits", "integer"),
    ({"axes": {"sr": [0.5]}, "seed": 1}, "seed", "unknown top-level key"),
])
def test_bad_spaces_name_the_file_and_key(d, key, words):
    with pytest.raises(SpaceError) as e:
        space(**d)
    assert e.value.key == key
    assert str(e.value).startswith("test.yaml: ") and words in str(e.value)


def test_unknown_base_and_unreadable_files(tmp_path):
    with pytest.raises(SpaceError, match="key 'base': unknown model 'resnet'"):
        DesignSpace.from_dict({"base": "resnet", "axes": {"x": [1]}})
    with pytest.raises(SpaceError, match="cannot read"):
        DesignSpace.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("base: firenet\naxes: {sr: [0.1\n")
    with pytest.raises(SpaceError, match="bad.yaml: not valid YAML: line 3, column 1: ") as e:
        DesignSpace.load(tmp_path / "bad.yaml")
    assert "\n" not in str(e.value)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(SpaceError, match="must be a mapping"):
        DesignSpace.load(tmp_path / "list.yaml")


def test_a_value_rejected_only_in_combination_is_left_to_its_points():
    # num_fire=4 with the default pools (after fire8) fails, but a pool_after axis can fix it.
    s = space(axes={"num_fire": [4, 8], "pool_after": [["conv1"], ["conv1", "fire4", "fire8"]]})
    results = {(r.point["num_fire"], len(r.point["pool_after"])): r
               for r in analyze_points(s, s.points())}
    assert results[(4, 3)].error and "pool_after" in results[(4, 3)].error
    assert all(r.error is None for k, r in results.items() if k != (4, 3))


# -- axes, grid, sampling ---------------------------------------------------------------------

def test_grid_values_and_kinds():
    s = space(axes={"sr": {"low": 0.1, "high": 0.7, "step": 0.2},
                    "base_e": {"low": 32, "high": 96, "step": 32}, "bypass": ["none", "simple"]})
    sr, base_e, bypass = s.axes
    assert (sr.kind, base_e.kind, bypass.kind) == ("float", "int", "choice")
    assert sr.grid() == (0.1, 0.3, 0.5, 0.7)  # no float noise such as 0.30000000000000004
    assert base_e.grid() == (32, 64, 96)
    assert s.size == 4 * 3 * 2 == len(list(s.points()))
    assert list(s.points())[:2] == [{"sr": 0.1, "base_e": 32, "bypass": "none"},
                                    {"sr": 0.1, "base_e": 32, "bypass": "simple"}]


def test_sample_is_seeded_distinct_and_on_the_grid():
    s = DesignSpace.load(EXAMPLES / "fire_widths.yaml")
    grid = [tuple(p.values()) for p in s.points()]
    a, b = s.sample(20, seed=7), s.sample(20, seed=7)
    assert a == b and a != s.sample(20, seed=8)
    keys = [tuple(p.values()) for p in a]
    assert len(set(keys)) == 20 and set(keys) <= set(grid)
    assert s.sample(10_000, seed=1) == list(s.points())  # asking for more gives the whole grid


def test_a_grid_too_large_for_a_machine_integer_is_sampled():
    # 1e5 ** 4 points: more than random.sample can count (a C ssize_t)
    wide = {"low": 1, "high": 100_000}
    s = space(axes={"base_e": wide, "freq": wide, "conv1_filters": wide, "incr_e": wide})
    a = s.sample(50, seed=2)
    assert a == s.sample(50, seed=2) and len({tuple(p.values()) for p in a}) == 50
    for p in a:
        s.settings_for(p)  # on the grid

def test_continuous_axes_sample_but_do_not_enumerate():
    s = space(axes={"sr": {"low": 0.05, "high": 0.8, "log": True}, "base_e": [64, 128],
                    "incr_e": {"low": 0, "high": 128, "step": 32},
                    "dropout": {"low": 0.1, "high": 0.5, "step": 0.1}})
    assert s.size is None
    with pytest.raises(SpaceError, match="continuous"):
        list(s.points())
    points = s.sample(200, seed=3)
    assert points == s.sample(200, seed=3)
    for axis in s.axes[1:]:  # the other axes are drawn from their grids
        assert {p[axis.name] for p in points} == set(axis.grid())
    values = [p["sr"] for p in points]
    assert all(0.05 <= v <= 0.8 for v in values) and len(set(values)) == 200
    # log-uniform: about half the draws fall below the geometric mean (0.2), not a quarter
    assert 70 < sum(v < 0.2 for v in values) < 130


def test_axes_map_onto_optuna_suggest_calls():
    import optuna
    s = space(axes={"sr": {"low": 0.125, "high": 1.0, "step": 0.125},
                    "base_e": {"low": 16, "high": 256, "log": True},
                    "dropout": {"low": 0.0, "high": 0.9},
                    "pool_after": [["conv1", "fire4", "fire8"], ["conv1", "fire3", "fire5"]]})
    assert s.axes[1].to_optuna() == ("suggest_int", {"name": "base_e", "low": 16, "high": 256,
                                                     "step": 1, "log": True})
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        point = {a.name: a.from_optuna(getattr(trial, a.to_optuna()[0])(**a.to_optuna()[1]))
                 for a in s.axes}
        assert point["sr"] in s.axes[0].grid() and 16 <= point["base_e"] <= 256
        assert point["pool_after"] in s.axes[3].choices
        assert s.spec_for(point).meta["point_id"] == s.point_id(point)
        study.tell(trial, 0.0)


def test_axis_dataclass_is_the_public_description():
    axis = Axis("sr", "float", low=0.125, high=1.0, step=0.125)
    assert axis.enumerable and len(axis.grid()) == 8
    assert axis.to_dict() == {"kind": "float", "low": 0.125, "high": 1.0, "step": 0.125}


# -- points: specs, ids, constraints ----------------------------------------------------------

def test_spec_for_is_the_family_point():
    s = DesignSpace.load(EXAMPLES / "squeeze_ratio.yaml")
    spec = s.spec_for({"sr": 0.25})
    family = get_spec("firenet", sr=0.25)
    assert (spec.input, spec.layers) == (family.input, family.layers)
    assert spec.meta["space"] == "squeeze_ratio" and spec.name.startswith("squeeze_ratio-")
    combined = space(axes={"num_fire": [2, 8], "pool_after": [["conv1", "fire4"], ["conv1"]]})
    with pytest.raises(SpaceError, match="rejects the point num_fire=2, pool_after") as e:
        combined.spec_for({"num_fire": 2, "pool_after": ["conv1", "fire4"]})
    assert e.value.key == "axes.pool_after"


def test_point_ids_are_stable_and_name_the_network_not_the_space():
    sr = DesignSpace.load(EXAMPLES / "squeeze_ratio.yaml")
    pct = DesignSpace.load(EXAMPLES / "pct3x3.yaml")
    # The same network reached from two spaces (SR 0.5 with 50% 3x3 filters) has one id.
    assert sr.point_id({"sr": 0.5}) == pct.point_id({"pct3x3": 0.5})
    ids = {sr.point_id(p) for p in sr.points()}
    assert len(ids) == sr.size and all(len(i) == 10 for i in ids)
    # Spelling does not matter: 1 vs 1.0, an input as text or as a list, key order.
    assert sr.point_id({"sr": 1}) == sr.point_id({"sr": 1.0})
    other = space(axes={"sr": [0.5]}, fixed={"input": [3, 227, 227], "num_classes": 1000})
    assert other.point_id({"sr": 0.5}) == sr.point_id({"sr": 0.5})
    # Settings that build the same network give one id: with incr_e 0 every Fire module has
    # base_e expand filters, so freq changes nothing (a study must not train it twice).
    widths = space(axes={"freq": [1, 2, 4]}, fixed={"incr_e": 0, "base_e": 32})
    assert len({widths.point_id(p) for p in widths.points()}) == 1
    # The id is the network's, whoever names it: SqueezeNet v1.0 as the zoo writes it.
    assert sr.point_id({"sr": 0.125}) == network_id(get_spec("squeezenet1_0"))
    # Pinned: ids are stored by studies and results; changing the scheme orphans them.
    assert sr.point_id({"sr": 0.125}) == "61a95a2125"
    # A point the base rejects builds no network; it still has a stable id of its own.
    combined = space(axes={"num_fire": [2, 4], "pool_after": [["fire3"], ["fire5"]]})
    rejected = combined.point_id({"num_fire": 2, "pool_after": ["fire5"]})
    assert rejected == combined.point_id({"pool_after": ("fire5",), "num_fire": 2})
    assert rejected != combined.point_id({"num_fire": 2, "pool_after": ["fire3"]})


def test_a_networks_id_ignores_its_name_metadata_and_spelling():
    spec = get_spec("squeezenet1_1", input=(3, 64, 64))
    renamed = replace(spec, name="other", description="x", meta={"a": 1})
    assert network_id(renamed) == network_id(spec)
    written = to_dict(spec)
    written["layers"][0]["kernel"] = [3, 3]  # was 3
    assert network_id(from_dict(written)) == network_id(spec)
    assert network_id(replace(spec, init="xavier")) != network_id(spec)
    assert network_id(spec.with_input((3, 65, 65))) != network_id(spec)


def test_a_pool_stride_left_to_its_default_and_written_out_is_one_network():
    # A pool's stride defaults to its kernel: `kernel: 2` and `kernel: 2, stride: 2` build the
    # same network, which had two ids (a study would train it twice).
    def pooled(**stride):
        return from_dict({"name": "p", "input": [3, 8, 8], "layers": [
            {"name": "p", "type": "maxpool", "kernel": 2, **stride},
            {"name": "q", "type": "avgpool", "kernel": [2, 1], **stride}]})
    assert network_id(pooled()) == network_id(pooled(stride=None))
    assert network_id(pooled()) != network_id(pooled(stride=1))
    two = pooled(stride=2)
    written_out = replace(two, layers=(two.layers[0], pooled().layers[1]))
    assert network_id(written_out) == network_id(pooled())


def test_constraints_are_checked_against_the_analysis():
    s = DesignSpace.load(EXAMPLES / "fire_widths.yaml")  # max 10 MiB, max 2 GMACs
    small = analyze(s.spec_for({"base_e": 32, "incr_e": 0, "freq": 1}))
    wide = analyze(s.spec_for({"base_e": 256, "incr_e": 256, "freq": 1}))
    assert s.check_constraints(small) == [] and s.check_constraints(small.totals) == []
    assert wide.totals.size_mib > 10 and wide.totals.macs > 2e9
    assert s.check_constraints(wide) == ["max_size_mib", "max_macs"]


def test_analyze_points_matches_analyze():
    s = space(axes={"incr_e": [0, 64], "freq": [1, 2, 4]}, fixed={"input": "3x64x64"},
              constraints={"max_params": 700_000})
    results = analyze_points(s, s.points())
    assert len(results) == 6
    for r in results:
        expected = analyze(s.spec_for(r.point)).totals
        assert r.totals == expected and r.id == s.point_id(r.point)
        assert r.ok == (expected.params <= 700_000)
        assert r.row()["params"] == expected.params and r.to_json()["ok"] == r.ok


# -- spaces are values; points must lie on the axes -------------------------------------------

def test_spaces_pickle_copy_and_hash():
    import copy
    import pickle

    s = space(axes={"sr": [0.25, 0.5], "pool_after": [["conv1", "fire4", "fire8"]]},
              fixed={"input": [3, 64, 64]}, constraints={"max_params": 1e6})
    for again in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert again == s and hash(again) == hash(s)
        assert list(again.points()) == list(s.points())
    assert s.fixed == {"input": (3, 64, 64)} and s.to_dict()["fixed"] == {"input": [3, 64, 64]}
    assert s.to_dict()["axes"]["pool_after"] == {"kind": "choice",
                                                 "choices": [["conv1", "fire4", "fire8"]]}


@pytest.mark.parametrize("point, key, words", [
    ({"sr": 0.25, "bypass": "none"}, "axes.base_e",
     "no value for this axis, which takes an integer from 32 to 128 in steps of 32"),
    ({"sr": 0.3, "base_e": 64, "bypass": "none"}, "axes.sr",
     "0.3 is not on this axis; it takes a number from 0.125 to 1.0 in steps of 0.125"),
    ({"sr": 1.125, "base_e": 64, "bypass": "none"}, "axes.sr", "1.125 is not on this axis"),
    ({"sr": 0.25, "base_e": 33, "bypass": "none"}, "axes.base_e", "33 is not on this axis"),
    ({"sr": 0.25, "base_e": 64.0, "bypass": "none"}, "axes.base_e", "64.0 is not on this axis"),
    ({"sr": 0.25, "base_e": 64, "bypass": "none", "freq": 2}, "axes.freq",
     "the point sets 'freq', which is not an axis of this space (axes: sr, base_e, bypass)"),
    ({"sr": 0.25, "base_e": 64, "bypass": "complex"}, "axes.bypass",
     "'complex' is not on this axis; it takes one of ['none', 'simple']"),
    ({"sr": 0.25, "base_e": 64, "bypass": True}, "axes.bypass", "True is not on this axis"),
])
def test_points_off_the_axes_are_refused(point, key, words):
    import re

    s = space(axes={"sr": {"low": 0.125, "high": 1.0, "step": 0.125},
                    "base_e": {"low": 32, "high": 128, "step": 32}, "bypass": ["none", "simple"]})
    for call in (s.spec_for, s.settings_for):
        with pytest.raises(SpaceError, match=re.escape(words)) as e:
            call(point)
        assert e.value.key == key and "test.yaml" in str(e.value)


def test_points_on_the_axes_pass_within_float_rounding():
    s = space(axes={"sr": {"low": 0.1, "high": 0.9, "step": 0.1},
                    "base_e": {"low": 16, "high": 256, "log": True},
                    "dropout": {"low": 0.0, "high": 0.9},
                    "pool_after": [["conv1", "fire4", "fire8"], ["conv1", "fire3", "fire5"]]})
    point = {"sr": 0.1 + 0.2, "base_e": 256, "dropout": 0.9,  # 0.30000000000000004
             "pool_after": ("conv1", "fire3", "fire5")}
    assert s.settings_for(point)["sr"] == 0.1 + 0.2
    for p in s.sample(50, seed=1):
        s.settings_for(p)


def test_axes_and_spaces_check_their_fields():
    with pytest.raises(SpaceError, match="choice, int, float") as e:
        Axis("sr", "weird", low=0.1, high=0.5)
    assert e.value.key == "axes.sr.kind"
    with pytest.raises(SpaceError, match="at least one choice"):
        Axis("sr", "choice")
    with pytest.raises(SpaceError, match="'low' and 'high'"):
        Axis("sr", "float", high=0.5)
    axes = (Axis("sr", "choice", choices=(0.5,)),)
    for key, value in (("bits", 0), ("bits", 65), ("batch", -3), ("batch", 2.0)):
        with pytest.raises(SpaceError, match="expected an integer") as e:
            DesignSpace("x", "firenet", axes, **{key: value})
        assert e.value.key == key


def test_a_space_equals_itself_read_back_whatever_file_it_came_from():
    loaded = DesignSpace.load(EXAMPLES / "fire_widths.yaml")
    again = DesignSpace.from_dict(loaded.to_dict())
    assert again == loaded and hash(again) == hash(loaded) and again.source != loaded.source


def test_a_rejected_point_is_described_with_lists_as_the_space_file_writes_them():
    s = space(axes={"num_fire": [4, 8], "pool_after": [["conv1", "fire4", "fire8"]]})
    with pytest.raises(SpaceError) as e:
        s.spec_for(next(s.points()))  # a grid point: its list choice is stored frozen
    assert "the point num_fire=4, pool_after=['conv1', 'fire4', 'fire8']:" in str(e.value)
