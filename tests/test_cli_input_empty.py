"""`--input ""` (a script's unset variable) used the model's own input size without a word;
any other option given an empty value is refused too."""
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


@pytest.mark.parametrize("argv, option", [
    (["evaluate", "run/best.pt", "--data", ""], "--data"),     # the checkpoint's dataset
    (["train", "squeezenet1_1", "--data", "digits", "--out", " "], "--out"),  # a new runs/ folder
    (["train", "squeezenet1_1", "--init-from", ""], "--init-from"),  # trained from scratch
    (["explore", "study.yaml", "--storage", ""], "--storage"),  # a journal file in --out
    (["report", "runs/demo", "--study-name", ""], "--study-name"),
    (["analyze", "firenet", "--set", "sr=0.5", "--set", ""], "--set"),
    (["compress", "run/best.pt", "--schedule", ""], "--schedule"),  # compressed without pruning
])
def test_any_option_given_an_empty_value_is_refused_before_it_runs(argv, option, capsys,
                                                                   tmp_path, monkeypatch):
    # A script's unset variable (`--data "$DATA"`) was read as the option left out.
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err == (f"cnnspace {argv[0]}: error: {option}: an empty value (an "
                                       "unset shell variable?); give one, or leave the option "
                                       "out\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["analyze", "squeezenet1_1"], ["diff", "firenet", "nin"],
                                  ["compress", "--predict", "squeezenet1_1"]])
def test_a_bad_input_size_is_the_options_fault(argv, capsys):
    # diff blamed its first model: "A (firenet): field 'input': expected CxHxW ..."
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--input", "0x3x3"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"cnnspace {argv[0]}: error: argument --input: expected CxHxW (e.g. 3x224x224) or HxW " \
           "of positive integers" in err and len(err.splitlines()) == 1
