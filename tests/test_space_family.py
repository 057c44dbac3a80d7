"""analyze_family and analyze_points: many points of one model in one pass, each getting exactly
what it gets alone (its totals or its SpecError, its id), whatever the points hold."""
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnspace.space._family as family_module
from cnnspace import SpecError, analyze, get_spec
from cnnspace._lanes import _MEMOS
from cnnspace.space import SpaceError, analyze_family

# benchmarks/analytic_speed.py's sweep: five settings varying at once
GRID = [dict(sr=sr, pct3x3=p, base_e=b, incr_e=i, freq=f, input=(3, 224, 224))
        for sr, p, b, i, f in itertools.product((0.125, 0.25, 0.5, 0.75, 1.0), (0.25, 0.5, 0.75),
                                                (64, 128), (32, 64, 128), (1, 2))]


@pytest.fixture(autouse=True, scope="module")
def lanes_for_few_points():
    """Lanes from two points up: in use, fewer than MIN_LANES go one by one (faster there), and
    the sweeps here are small."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(family_module, "MIN_LANES", 2)
        yield


def one_by_one(model, points, **options):
    out = []
    for point in points:
        try:
            out.append(analyze(get_spec(model, **point), **options).totals)
        except SpecError as e:
            out.append(e)
    return out


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, SpecError):
            assert isinstance(g, SpecError) and (str(g), g.field, g.layer) == (
                str(w), w.field, w.layer)
        else:
            assert g == w
            assert all(type(getattr(g, k)) is type(getattr(w, k)) for k in vars(w))


@pytest.fixture
def point_by_point(monkeypatch):
    """How many points were analysed one by one (not in lanes)."""
    calls = []
    original = family_module._one

    def counted(*args):
        calls.append(args[1])
        return original(*args)
    monkeypatch.setattr(family_module, "_one", counted)
    return calls


def test_a_sweep_is_analysed_in_one_pass_and_as_point_by_point(point_by_point):
    assert_same(analyze_family("firenet", GRID), one_by_one("firenet", GRID))
    assert point_by_point == []


def test_batch_and_bits_apply_to_every_point():
    points = GRID[:12]
    assert_same(analyze_family("firenet", points, batch=16, bits=8),
                one_by_one("firenet", points, batch=16, bits=8))


def test_points_the_model_rejects_get_its_error_and_the_rest_stay_in_lanes(point_by_point):
    # simple bypass needs fire3, fire5, ... to keep their width: incr_e=0 does, 128 does not
    points = [dict(bypass="simple", freq=1, incr_e=i, sr=sr) for i in (0, 128)
              for sr in (0.125, 0.25, 0.5, 0.75)]
    got = analyze_family("firenet", points)
    assert_same(got, one_by_one("firenet", points))
    assert [isinstance(r, SpecError) for r in got] == [False] * 4 + [True] * 4
    assert len(point_by_point) == 4  # the rejected ones only


def test_a_setting_that_changes_the_layers_splits_the_sweep(point_by_point):
    points = [dict(num_fire=n, sr=sr, pool_after=["conv1"]) for n in (2, 4, 6)
              for sr in (0.25, 0.5)]
    assert_same(analyze_family("firenet", points), one_by_one("firenet", points))
    assert point_by_point == []  # one pass per num_fire


def test_counts_beyond_64_bits_are_exact():
    # 2^30 squeeze channels into 2^29 3x3 filters: 4.8e18 weights, beyond what int64 lanes hold
    points = [dict(base_e=2**30 - 2 * k, incr_e=0, sr=1.0, num_fire=1, pool_after=["conv1"],
                   input=(3, 15, 15)) for k in range(3)]
    got = analyze_family("firenet", points)
    assert_same(got, one_by_one("firenet", points))
    assert got[0].macs > 2**63


def test_other_models_and_other_settings():
    points = [dict(num_classes=n, input=f"{s}x{s}") for n in (10, 100) for s in (32, 64)]
    assert_same(analyze_family("vgg11", points), one_by_one("vgg11", points))
    assert_same(analyze_family("squeezenet1_1", [{"num_classes": 7}, {"num_classes": 7},
                                                 {"num_classes": 0}]),
                one_by_one("squeezenet1_1", [{"num_classes": 7}] * 2 + [{"num_classes": 0}]))


def test_the_memos_keep_no_lanes():
    before = [len(m) for m in _MEMOS]
    analyze_family("firenet", [dict(base_e=b, sr=0.3) for b in (17, 19, 23)])
    after = [len(m) for m in _MEMOS]
    assert all(a <= b + 64 for a, b in zip(after, before))  # the constant layers' entries only
    assert not any("Lanes" in repr(k) or "Lanes" in repr(v) for m in _MEMOS for k, v in m.items())


def test_wrong_calls_are_refused_before_any_work():
    with pytest.raises(SpecError, match="unknown model 'firenett'"):
        analyze_family("firenett", GRID)
    with pytest.raises(SpecError) as e:
        analyze_family("firenet", GRID, batch=0)
    assert e.value.field == "batch"
    with pytest.raises(SpaceError, match="one point"):
        analyze_family("firenet", {"sr": 0.5})
    with pytest.raises(SpaceError, match="point 1 is a list"):
        analyze_family("firenet", [{"sr": 0.5}, ["sr", 0.5]])
    assert analyze_family("firenet", []) == []


SETTINGS = {
    "base_e": st.sampled_from([1, 2, 16, 64, 128, 0, 64.0, 2**31]),
    "incr_e": st.sampled_from([0, 16, 128, -1]),
    "freq": st.sampled_from([1, 2, 3]),
    "pct3x3": st.sampled_from([0.0, 0.1, 0.29, 0.5, 1.0, 1, 1.5, -0.0]),
    "sr": st.sampled_from([0.01, 0.125, 0.29, 0.5, 1.0, 1, 0.0, float("nan")]),
    "num_fire": st.sampled_from([1, 2, 8]),
    "bypass": st.sampled_from(["none", "simple", "complex"]),
    "conv1_filters": st.sampled_from([1, 96, 128]),
    "conv1_kernel": st.sampled_from([1, 3, 7, 40]),
    "conv1_stride": st.sampled_from([1, 2, 3, 5]),
    "num_classes": st.sampled_from([1, 10, 1000, True]),
    "input": st.sampled_from([(3, 32, 32), (3, 224, 224), "64x64", 227]),
    "pool_after": st.sampled_from([["conv1"], ("conv1", "fire4", "fire8"), "conv1,fire2"]),
    "batchnorm": st.booleans(),
}


@st.composite
def sweeps(draw):
    """A few points around one: the settings a sweep varies, and the odd value out."""
    keys = draw(st.lists(st.sampled_from(sorted(SETTINGS)), min_size=1, max_size=6, unique=True))
    base = {k: draw(SETTINGS[k]) for k in keys}
    points = []
    for _ in range(draw(st.integers(1, 10))):
        changed = draw(st.lists(st.sampled_from(keys), max_size=3, unique=True))
        points.append({**base, **{k: draw(SETTINGS[k]) for k in changed}})
    return points


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sweeps())
def test_any_sweep_gives_what_each_point_gives_alone(points):
    assert_same(analyze_family("firenet", points), one_by_one("firenet", points))


def point_results_one_by_one(space, points):
    """analyze_points as it was before lanes: each point alone."""
    from cnnspace.errors import CnnspaceError
    from cnnspace.space import PointResult
    out = []
    for point in points:
        try:
            spec, pid = space._identified(point)
            totals = analyze(spec, batch=space.batch, bits=space.bits).totals
        except CnnspaceError as e:
            out.append(PointResult(space.point_id(point), point, None, error=str(e)))
            continue
        out.append(PointResult(pid, point, totals, tuple(space.check_constraints(totals))))
    return out


def test_a_space_analysis_gives_each_point_its_id_totals_verdict_and_error(monkeypatch):
    from cnnspace.space import DesignSpace, analyze_points
    space = DesignSpace.from_dict({
        "name": "lanes", "base": "firenet",
        "fixed": {"input": "3x96x96"},
        "axes": {"bypass": ["none", "simple"], "base_e": {"low": 16, "high": 64, "step": 16},
                 "incr_e": {"choices": [0, 16]},
                 "freq": {"low": 1, "high": 3}, "sr": {"low": 0.25, "high": 1.0, "step": 0.25}},
        "constraints": {"max_params": 300_000}, "batch": 4, "bits": 8}, "lanes.yaml")
    points = list(space.points())
    # several parts, as a long sweep is taken, each reported to the progress bar as taken
    monkeypatch.setattr("cnnspace.space._analyze.MAX_LANES", 25)
    taken = []

    def progress(items):
        for item in items:
            taken.append(item)
            yield item
    got = analyze_points(space, points, progress=progress)
    want = point_results_one_by_one(space, points)
    assert got == want
    assert taken == points
    ok, rejected, violating = (sum(r.ok for r in got), sum(r.error is not None for r in got),
                               sum(bool(r.violated) for r in got))
    assert ok and rejected and violating  # all three kinds are in this sweep


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sweeps())
def test_any_sweep_gives_each_point_its_network_id(points):
    from cnnspace.space._family import in_lanes
    from cnnspace.spec import lane_network_ids, network_id

    def alone(at):
        try:
            return network_id(get_spec("firenet", **points[at]))
        except SpecError as e:
            return str(e)
    got = in_lanes("firenet", points, alone,
                   lambda spec, members: lane_network_ids(spec, len(members)))
    assert got == [alone(at) for at in range(len(points))]


@pytest.fixture
def registry(monkeypatch):
    """register_model into a copy of the registry, dropped after the test."""
    from cnnspace.zoo import _registry, register_model
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))
    return register_model


def _tiny(name, width, *extra):
    from cnnspace import Layer, NetSpec
    return NetSpec(name, (3, 8, 8), [Layer("conv", "conv2d", (), {"out_channels": width,
                                                                    "kernel": 3}), *extra])


def test_a_model_registered_without_lanes_is_analysed_point_by_point(registry, point_by_point):
    # a builder that reads a number as no lane can (a type check, a lookup): not in lanes
    @registry("odd builder")
    def odd(num_classes: int = 10, input=(3, 8, 8), width: int = 16):
        groups = {32: 2, 64: 4}.get(width, 1)
        return _tiny("odd", width if isinstance(width, int) else 16 * groups)
    points = [{"width": 32}, {"width": 64}]
    assert_same(analyze_family("odd", points), one_by_one("odd", points))
    assert len(point_by_point) == 2


def test_lanes_raise_what_python_raises_and_the_first_point_s_error_comes_first(registry):
    @registry("careful builder", lanes=True)
    def careful(num_classes: int = 10, input=(3, 8, 8), width: int = 16, limit: int = 100):
        try:
            depth = 64 // (width % 2)  # every width even: a ZeroDivisionError, as each alone
        except ZeroDivisionError:
            depth = 8
        if width > limit:
            raise ValueError(f"too wide: {width}")
        return _tiny("careful", width + depth)
    points = [{"width": 2}, {"width": 4}]
    assert_same(analyze_family("careful", points), one_by_one("careful", points))
    with pytest.raises(ValueError, match="too wide: 200"):  # the first, as one by one
        analyze_family("careful", [{"width": 10}, {"width": 200}, {"width": 300}])


def test_every_model_registered_for_lanes_gives_what_each_point_gives_alone():
    from cnnspace import list_models
    from cnnspace.zoo import model_entry
    for name in list_models():
        if model_entry(name).lanes:
            points = [{"num_classes": n, "input": s} for n in (10, 1000) for s in (64, 227)]
            assert_same(analyze_family(name, points), one_by_one(name, points))


def test_points_that_are_not_plain_values_are_never_taken_for_one_another():
    import numpy as np

    class Copying(dict):  # gives a new list at each read: ids of freed values come back
        def items(self):
            return [(k, list(v) if isinstance(v, tuple) else v) for k, v in super().items()]
    pools = [("conv1",), ("conv1", "fire4", "fire8"), ("conv1", "fire4"), ("conv1", "fire4"),
             ("fire2",)]
    points = [Copying(pool_after=p, num_classes=10 + k) for k, p in enumerate(pools)]
    assert_same(analyze_family("firenet", points), one_by_one("firenet", points))
    # arrays whose repr numpy abbreviates alike
    a = np.array(["conv1"] + ["fire2"] * 600 + ["fire3"] + ["fire2"] * 600 + ["conv1"])
    b = np.array(["conv1"] + ["fire2"] * 600 + ["fire4"] + ["fire2"] * 600 + ["conv1"])
    assert repr(a) == repr(b)
    points = [dict(num_fire=4, pool_after=a, num_classes=10),
              dict(num_fire=4, pool_after=b, num_classes=20)]
    assert_same(analyze_family("firenet", points), one_by_one("firenet", points))


def test_a_few_points_go_one_by_one(monkeypatch, point_by_point):
    monkeypatch.setattr(family_module, "MIN_LANES", 16)
    points = [{"sr": sr} for sr in (0.125, 0.25, 0.5)]
    assert_same(analyze_family("firenet", points), one_by_one("firenet", points))
    assert len(point_by_point) == 3
    point_by_point.clear()
    analyze_family("firenet", [{"sr": 0.05 * k} for k in range(1, 17)])
    assert point_by_point == []
