"""Lanes (cnnspace._lanes): every operation gives each lane exactly what Python gives that lane's
number alone, or refuses; a branch is taken only where every lane takes it."""
import math
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnspace._lanes import Diverged, Lanes, discarding_new_entries, memo

BINARY = [operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod,
          operator.truediv, operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
          operator.ne]
UNARY = [operator.neg, operator.pos, abs, round, math.floor, math.ceil, math.trunc]
ints = st.integers(-2**40, 2**40)
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
# Sizes at and beyond what int64 and float64 hold exactly: refused or right, never wrapped.
huge = st.integers(-2**70, 2**70)
numbers = st.one_of(st.lists(ints, min_size=1, max_size=6),
                    st.lists(floats, min_size=1, max_size=6),
                    st.lists(huge, min_size=1, max_size=6))
scalars = st.one_of(ints, floats, huge, st.booleans())


def _python(op, *args):
    try:
        return op(*args)
    except (ArithmeticError, ValueError):
        return "raises"


def _same(got, want) -> bool:
    """Equal value and type (1 is not 1.0 is not True), a nan as a nan."""
    if type(got) is not type(want):
        return False
    if isinstance(want, float) and math.isnan(want):
        return math.isnan(got)
    return got == want and (not isinstance(want, float) or math.copysign(1, got) == math.copysign(
        1, want))


def _lanes_or_diverged(values):
    try:
        return Lanes.of(values)
    except Diverged:
        assert any(abs(v) >= 2**62 for v in values)
        return None


def _check(op, values, operands, result):
    """Each lane of ``result`` (or its refusal) against Python on that lane's numbers."""
    want = [_python(op, *[o[i] if isinstance(o, list) else o for o in operands])
            for i in range(len(values))]
    if result is None:  # refused: fine whatever Python does
        return
    if result == "raises":  # only where Python raises in every lane
        assert all(w == "raises" for w in want), f"{op.__name__}{operands}: {want}"
        return
    got = result.values.tolist()
    for g, w in zip(got, want):
        assert w != "raises", f"{op.__name__}{operands}: lanes computed where Python raises"
        assert _same(g, w), f"{op.__name__}{operands}: lane gave {g!r}, Python {w!r}"


def _run(fn):
    try:
        with np.errstate(all="ignore"):  # as the family analysis runs them: Python is silent
            return fn()
    except Diverged:
        return None
    except (ArithmeticError, ValueError):
        return "raises"


@settings(max_examples=1000, deadline=None)
@given(numbers, numbers, scalars, st.sampled_from(BINARY))
def test_binary_operations_match_python_lane_by_lane(a, b, scalar, op):
    b = (b * len(a))[:len(a)]
    la, lb = _lanes_or_diverged(a), _lanes_or_diverged(b)
    if la is None or lb is None:
        return
    _check(op, a, [a, b], _run(lambda: op(la, lb)))
    _check(op, a, [a, scalar], _run(lambda: op(la, scalar)))
    _check(op, a, [scalar, a], _run(lambda: op(scalar, la)))


@settings(max_examples=500, deadline=None)
@given(numbers, st.sampled_from(UNARY))
def test_unary_operations_match_python_lane_by_lane(a, op):
    la = _lanes_or_diverged(a)
    if la is not None:
        _check(op, a, [a], _run(lambda: op(la)))


@given(st.lists(ints, min_size=1, max_size=5))
def test_a_branch_is_taken_only_where_every_lane_takes_it(values):
    lanes = Lanes.of(values)
    positive = lanes > 0
    if all(v > 0 for v in values) or all(v <= 0 for v in values):
        assert bool(positive) is (values[0] > 0)
    else:
        with pytest.raises(Diverged):
            bool(positive)
    if all(v > 1 for v in values):
        assert max(1, lanes) is lanes
    elif all(v <= 1 for v in values):
        assert max(1, lanes) == 1
    else:
        with pytest.raises(Diverged):
            max(1, lanes)
    if len(set(values)) == 1:
        assert int(lanes) == values[0] and range(lanes) == range(values[0])
    else:
        with pytest.raises(Diverged):
            int(lanes)


def test_sums_beyond_64_bits_are_refused_not_wrapped():
    big = Lanes.of([2**61, 3])
    with pytest.raises(Diverged):
        big * 4
    with pytest.raises(Diverged):
        big + big
    assert (big * 1).values.tolist() == [2**61, 3]  # multiplying by one is exact at any size
    with pytest.raises(Diverged):
        Lanes.of([2**62, 1])


def test_lanes_of_one_kind_only():
    with pytest.raises(Diverged):
        Lanes.of([1, 2.0])
    with pytest.raises(Diverged):
        Lanes.of([True, False])


def test_memo_reprs_tell_lanes_apart_by_every_value():
    a, b = Lanes.of(list(range(2000))), Lanes.of([*range(1999), 5])
    assert repr(a) != repr(b) and repr(a) == repr(Lanes.of(list(range(2000))))
    assert repr(Lanes.of([1, 2])) != repr(Lanes.of([1.0, 2.0]))


def test_a_lane_evaluation_leaves_the_memos_as_it_found_them():
    cache = memo()
    cache["kept"] = 1
    with discarding_new_entries():
        cache["lane entry"] = 2
        cache["another"] = 3
    assert cache == {"kept": 1}
    with discarding_new_entries():
        cache.clear()  # a size limit reached meanwhile
        cache["new"] = 4
    assert cache == {}
