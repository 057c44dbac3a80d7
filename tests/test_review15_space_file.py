"""A space file's numbers written as quoted whole numbers make an integer axis, as unquoted
ones do (a float axis, which base_e refused as 16.0), and `fixed` given as something other
than a mapping is refused (`fixed: []` was taken as no settings)."""
from __future__ import annotations

import pytest

from cnnspace.space import DesignSpace, SpaceError


def test_quoted_whole_numbers_make_an_integer_range():
    space = DesignSpace.from_dict({"base": "firenet", "axes": {
        "base_e": {"low": "16", "high": "64", "step": "16"}}}, "q.yaml")
    (axis,) = space.axes
    assert axis.kind == "int" and list(space.points()) == [{"base_e": v} for v in (16, 32, 48, 64)]
    # a quoted exponent is still a number (YAML 1.1 reads 1e6 as text)
    space = DesignSpace.from_dict({"base": "firenet", "axes": {"sr": [0.125]},
                                   "constraints": {"max_params": "1e6"}})
    assert space.constraints["max_params"] == 1e6


@pytest.mark.parametrize("fixed", [[], 0, False, ""])
def test_fixed_must_be_a_mapping(fixed):
    with pytest.raises(SpaceError, match=r"f.yaml: key 'fixed': expected a mapping"):
        DesignSpace.from_dict({"base": "firenet", "fixed": fixed, "axes": {"sr": [0.125]}},
                              "f.yaml")
    # left empty (`fixed:`), it is no settings
    assert DesignSpace.from_dict({"base": "firenet", "fixed": None,
                                  "axes": {"sr": [0.125]}}).fixed == {}
