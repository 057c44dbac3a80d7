"""FireNet widths against the SqueezeNet paper's formula (Section 4; shared/reference/
published-numbers.md): e_i = base_e + incr_e * floor(i / freq), e3x3_i = floor(pct3x3 * e_i),
e1x1_i = e_i - e3x3_i, s1x1_i = SR * e_i (floored, at least 1).

The ratios are written in decimal (a sweep's 0.29, 0.57): the floor is that of the exact
product, which integer arithmetic gives, not of its binary floating-point approximation
(0.29 * 100 = 28.999999999999996).
"""
from __future__ import annotations

import pytest

from cnnspace import get_spec
from cnnspace.spec import SpecError
from cnnspace.zoo import fire_widths


def test_every_percentage_floors_as_the_exact_product():
    wrong = []
    for percent in range(0, 101):
        ratio = percent / 100
        for e in range(1, 1025):
            (s, e1, e3), = fire_widths(e, 0, 1, ratio, ratio or 0.01, num_fire=1)
            exact = percent * e // 100
            if e3 != exact or e1 != e - e3 or (percent and s != max(1, exact)):
                wrong.append((ratio, e, (s, e1, e3)))
    assert wrong == []


def test_a_spec_has_the_formulas_widths_where_floating_point_falls_short():
    spec = get_spec("firenet", base_e=100, incr_e=100, freq=1, pct3x3=0.29, sr=0.57,
                    num_fire=2, pool_after=["conv1"], input=(3, 64, 64))
    fires = [layer.attrs for layer in spec.layers if layer.type == "fire"]
    # e = 100, 200: 29 and 58 3x3 filters, 57 and 114 squeeze filters
    assert [(f["squeeze"], f["expand1x1"], f["expand3x3"]) for f in fires] == [
        (57, 71, 29), (114, 142, 58)]


def test_squeezenet_widths_are_unchanged():
    assert fire_widths(128, 128, 2, 0.5, 0.125) == [
        (16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
        (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]


@pytest.mark.parametrize("args, field", [
    ((128, 128, 0, 0.5, 0.125), "freq"),      # was ZeroDivisionError
    ((128, 128, 2, 50, 0.125), "pct3x3"),     # a percentage: was -6336 1x1 filters, silently
    ((128, 128, 2, 0.5, 2.0), "sr"),          # was 256 squeeze filters for 128 expand
    ((128, -128, 2, 0.5, 0.125), "incr_e"),   # was widths of 0 and below
    ((128.0, 128, 2, 0.5, 0.125), "base_e"),
])
def test_fire_widths_refuses_metaparameters_out_of_range_by_name(args, field):
    with pytest.raises(SpecError) as e:
        fire_widths(*args)
    assert e.value.field == field
