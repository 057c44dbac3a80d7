"""Numbers a hand-written spec may hold: an integer beyond a float's range in a float field is
refused by name (it raised OverflowError out of `analyze`), a whole number written as a float
(YAML's and JSON's 1e3, 64.0) is refused with the integer to write, and an input size takes
ASCII digits only."""
import pytest

from cnnspace.cli import main
from cnnspace.spec import SpecError, loads, parse_input

HUGE = "1" + "0" * 400  # an integer YAML reads and Python holds, beyond a float's range


def _spec(layer: str) -> str:
    return f"name: t\ninput: [3, 8, 8]\nlayers:\n  - {layer}\n"


@pytest.mark.parametrize("layer, field", [
    (f"{{name: b, type: batchnorm, eps: {HUGE}}}", "eps"),
    (f"{{name: b, type: batchnorm, momentum: {HUGE}}}", "momentum"),
    (f"{{name: n, type: lrn, alpha: {HUGE}}}", "alpha"),
    (f"{{name: n, type: lrn, k: -{HUGE}}}", "k"),
    (f"{{name: d, type: dropout, p: {HUGE}}}", "p"),
    (f"{{name: r, type: leaky_relu, negative_slope: {HUGE}}}", "negative_slope"),
])
def test_an_integer_beyond_a_floats_range_is_refused_by_name(layer, field):
    with pytest.raises(SpecError, match=f"layer '.': field '{field}': expected a finite number, "
                                        "got (an|a negative) integer of 401 digits"):
        loads(_spec(layer), "huge.yaml")


def test_the_command_says_so_in_one_line(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text(_spec(f"{{name: b, type: batchnorm, eps: {HUGE}}}"))
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert "field 'eps': expected a finite number, got an integer of 401 digits" in err


def test_an_integer_field_beyond_the_bound_is_quoted_by_its_length():
    with pytest.raises(SpecError, match="at most 2,147,483,647, got an integer of 401 digits"):
        loads(_spec(f"{{name: c, type: conv2d, out_channels: {HUGE}, kernel: 3}}"))


@pytest.mark.parametrize("layer, field, whole", [
    ("{name: c, type: conv2d, out_channels: 1e3, kernel: 3}", "out_channels", 1000),
    ("{name: c, type: conv2d, out_channels: 64.0, kernel: 3}", "out_channels", 64),
    ("{name: c, type: conv2d, out_channels: 4, kernel: 3.0}", "kernel", 3),
    ("{name: c, type: conv2d, out_channels: 4, kernel: [1, 5.0]}", "kernel", 5),
    ("{name: f, type: fire, squeeze: 1e1, expand1x1: 4, expand3x3: 4}", "squeeze", 10),
])
def test_a_whole_number_written_as_a_float_gets_the_integer_to_write(layer, field, whole):
    with pytest.raises(SpecError, match=rf"field '{field}': .*\(a float; write the integer "
                                        rf"{whole}, without a decimal point or exponent\)"):
        loads(_spec(layer))


@pytest.mark.parametrize("layer", ["{name: c, type: conv2d, out_channels: 1.5, kernel: 3}",
                                   "{name: c, type: conv2d, out_channels: -2.0, kernel: 3}",
                                   "{name: c, type: conv2d, out_channels: 4, kernel: 0.0}"])
def test_no_integer_is_advised_for_a_fraction_or_a_value_out_of_range(layer):
    with pytest.raises(SpecError) as e:
        loads(_spec(layer))
    assert "write the integer" not in str(e.value)


@pytest.mark.parametrize("given", ["3x2_24x224", "+3x224x224", "\uff13x224x224",
                                   "3x224x\u0662\u0662\u0664", "3x" + "9" * 5000 + "x2"])
def test_an_input_size_takes_ascii_digits_only(given):
    # int() reads "2_24" as 224 and other scripts' digits as ours
    with pytest.raises(SpecError, match="field 'input': expected CxHxW"):
        parse_input(given)


def test_the_usual_input_spellings_still_read():
    assert parse_input(" 3 x 224 x 224 ") == (3, 224, 224)
    assert parse_input("224X224", 1) == (1, 224, 224)
