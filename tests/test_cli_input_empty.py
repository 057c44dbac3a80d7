"""`--input ""` (a script's unset variable) used the model's own input size without a word."""
import pytest

from cnnspace.cli import main


@pytest.mark.parametrize("argv", [["analyze", "squeezenet1_1"], ["spec", "squeezenet1_1"],
                                  ["diff", "squeezenet1_1", "squeezenet1_0"],
                                  ["compress", "--predict", "squeezenet1_1"]])
@pytest.mark.parametrize("size", ["", "  "])
def test_an_empty_input_size_is_refused_in_one_line(argv, size, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--input", size])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --input: an empty size; give CxHxW or HxW" in err and len(err.splitlines()) == 1
