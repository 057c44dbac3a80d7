"""FireNet's bypass settings against the SqueezeNet paper (arXiv 1602.07360, Section 6, Table 3).

Simple bypass puts identity shortcuts around fire3, fire5, fire7 and fire9, which only works
where a module outputs as many channels as it takes; the paper's simple-bypass SqueezeNet has
the same 1,248,424 parameters as the vanilla one. A width schedule under which one of those
modules changes width has no simple-bypass network: it is refused by name, not built without
the shortcut (freq=1 gave exactly the bypass=none network, under the name 'simple').
"""
from __future__ import annotations

import pytest

from cnnspace import analyze, get_spec
from cnnspace.spec import SpecError, network_id
from _cli import run


def shortcuts(spec) -> list[str]:
    return [layer.name for layer in spec.layers if layer.name.endswith("_bypass")]


def test_simple_bypass_of_squeezenet_has_its_four_shortcuts_and_no_extra_weights():
    spec = get_spec("firenet", bypass="simple")
    assert shortcuts(spec) == ["fire3_bypass", "fire5_bypass", "fire7_bypass", "fire9_bypass"]
    assert analyze(spec).totals.params == 1_248_424  # paper Table 3: same size as vanilla


@pytest.mark.parametrize("settings, module, widths", [
    ({"freq": 1}, "fire3", "takes 128 and outputs 256"),
    ({"freq": 3}, "fire5", "takes 128 and outputs 256"),
])
def test_simple_bypass_around_a_module_that_changes_width_is_refused(settings, module, widths):
    with pytest.raises(SpecError) as e:
        get_spec("firenet", bypass="simple", **settings)
    assert e.value.field == "bypass"
    assert module in str(e.value) and widths in str(e.value) and "bypass=complex" in str(e.value)


def test_such_a_schedule_has_a_complex_bypass_network_unlike_none():
    plain = get_spec("firenet", freq=1)
    complex_ = get_spec("firenet", freq=1, bypass="complex")
    assert network_id(plain) != network_id(complex_)
    assert len(shortcuts(complex_)) == 8  # every module changes width: a 1x1 projection each


def test_the_cli_says_so_in_one_line_with_exit_2(capsys):
    code, out, err = run(capsys, "analyze", "firenet", "--set", "bypass=simple", "--set",
                         "freq=1")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "'bypass'" in err and "fire3" in err
