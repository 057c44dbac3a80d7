"""A range written with one end as 256.0 or 2e2 (floats in YAML 1.2) is a float axis; an
integer setting then refused "base_e=32.0" where the file says 32, and nothing said why."""
from __future__ import annotations

import pytest

from cnnspace.space import DesignSpace, SpaceError


@pytest.mark.parametrize("axis", [{"low": 32, "high": "2e2"}, {"low": 32, "high": 256.0},
                                  {"low": 32, "high": 256, "step": 32.0}])
def test_an_integer_setting_on_a_float_range_says_how_to_write_it(axis):
    with pytest.raises(SpaceError) as e:
        DesignSpace.from_dict({"base": "firenet", "axes": {"base_e": axis}}, "w.yaml")
    assert e.value.key == "axes.base_e" and "got 32.0" in str(e.value)
    assert "integer axis only if low, high and step are all written as integers" in str(e.value)
    # a float setting refusing a value gets no such hint
    with pytest.raises(SpaceError) as e:
        DesignSpace.from_dict({"base": "firenet", "axes": {"sr": {"low": 0, "high": 1.0}}})
    assert "got 0.0" in str(e.value) and "integer axis" not in str(e.value)

