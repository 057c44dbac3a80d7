"""Sizes far beyond any network: refused with the field named, never a traceback from a float
that overflows; counts below the bound are exact integers, bytes included."""
import pytest

from cnnspace import analyze, get_spec
from cnnspace.cli import main
from cnnspace.spec import MAX_SIZE, SpecError, from_dict, parse_input

HUGE = 10**400  # an integer Python holds, a float cannot


def _conv(**fields):
    return {"name": "t", "input": [3, 8, 8],
            "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 3, **fields}]}


@pytest.mark.parametrize("fields, field", [({"out_channels": HUGE}, "out_channels"),
                                           ({"kernel": [1, HUGE]}, "kernel"),
                                           ({"padding": MAX_SIZE + 1}, "padding")])
def test_a_field_beyond_the_bound_is_refused_by_name(fields, field):
    with pytest.raises(SpecError, match=f"field '{field}': expected .*at most 2,147,483,647"):
        from_dict(_conv(**fields), source="huge.yaml")


def test_an_input_beyond_the_bound_is_refused():
    with pytest.raises(SpecError, match="field 'input'"):
        from_dict({**_conv(), "input": [3, HUGE, 8]})
    with pytest.raises(SpecError, match="field 'input'.*at most 2,147,483,647"):
        parse_input(f"3x{HUGE}x8")


def test_a_batch_beyond_the_bound_is_refused_in_one_line(capsys):
    assert main(["analyze", "squeezenet1_1", "--batch", str(HUGE)]) == 2
    err = capsys.readouterr().err
    assert "error: --batch: expected" in err and "at most 2,147,483,647" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv", [["analyze", "squeezenet1_1", "--bits", "0"],
                                  ["scale", "squeezenet1_1", "--bits", "65"]])
def test_bad_bits_name_the_option(capsys, argv):
    assert main(argv) == 2
    assert ": error: --bits: expected an integer from 1 to 64, got" in capsys.readouterr().err


def test_bytes_are_exact_where_a_float_would_round():
    # (2**31 - 1)**2 weights: beyond 2**53, where params * bits / 8 as a float loses the units
    spec = from_dict({"name": "wide", "input": [MAX_SIZE, 1, 1], "layers": [
        {"name": "f", "type": "flatten"},
        {"name": "fc", "type": "linear", "out_features": MAX_SIZE, "bias": False}]})
    t = analyze(spec, bits=3).totals
    assert t.params == MAX_SIZE**2
    assert t.size_bytes == -(-MAX_SIZE**2 * 3 // 8)
    assert t.activation_bytes == -(-MAX_SIZE * 3 // 8)  # the flatten is a view
    assert analyze(get_spec("squeezenet1_1"), bits=3).totals.size_bytes == -(-1_235_496 * 3 // 8)
