"""`analyze_points` given a point that is not on the space (an axis left out) raised only when
it reached that point, after analysing the ones before it, whose results were lost: it is
refused before any point is analysed."""
from __future__ import annotations

import pytest

from cnnspace.space import DesignSpace, SpaceError, _analyze, analyze_points

SPACE = {"base": "firenet", "fixed": {"input": "3x32x32"},
         "axes": {"sr": [0.125, 0.25], "base_e": [64, 128]}}


def test_a_point_off_the_space_is_refused_before_any_analysis(monkeypatch):
    space = DesignSpace.from_dict(SPACE)
    calls = []
    real = _analyze.analyze
    monkeypatch.setattr(_analyze, "analyze", lambda *a, **k: calls.append(1) or real(*a, **k))
    good = {"sr": 0.125, "base_e": 64}
    with pytest.raises(SpaceError, match="axes.base_e"):
        analyze_points(space, iter([good, {"sr": 0.25}]))
    assert calls == []
    # the same good point on its own is analysed
    results = analyze_points(space, iter([good]))
    assert len(results) == 1 and results[0].error is None and calls == [1]
