"""A file that is not a spec says what it is instead, where its suffix tells."""
import re

import pytest

from cnnspace import spec as S
from cnnspace.cli import main


@pytest.mark.parametrize("name, words", [
    # it said only "not a text file"
    ("net.caffemodel", "not a text file: trained Caffe weights, which cnnspace does not read; "
                       "give the .prototxt"),
    # .onnx files are read as ONNX models (tests/test_onnx_import.py): this one is none
    ("net.onnx", "not an ONNX model (the file does not decode as one)"),
])
def test_a_binary_model_given_as_a_spec_says_what_to_give(tmp_path, capsys, name, words):
    path = tmp_path / name
    path.write_bytes(b"\x08\x07\x12\x07pytorch\xff\xfe")  # binary, as protobuf files are
    with pytest.raises(S.SpecError, match=re.escape(words)):
        S.load(path)
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{name}: {words}" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("command, text, advice", [
    (["analyze"], "name: s\naxes: {sr: [0.125, 0.25]}\n",
     "a design-space file? `cnnspace space analyze FILE` reads it "
     "(cnnspace.space.DesignSpace.load in Python)"),
    (["analyze"], "name: s\nobjectives: [top1]\n",
     "a study file? `cnnspace explore FILE` runs it (cnnspace.explore.load_study_file in Python)"),
    (["space", "analyze"], "name: n\ninput: [3, 8, 8]\nlayers: []\n",
     "a spec file? `cnnspace analyze FILE` reads it (cnnspace.load in Python)"),
])
def test_a_file_of_another_kind_names_the_command_that_reads_it(tmp_path, capsys, command, text,
                                                                advice):
    path = tmp_path / "other.yaml"
    path.write_text(text)
    assert main([*command, str(path)]) == 2
    err = capsys.readouterr().err
    assert advice in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("text", ["", "# a comment only\n"])
def test_an_empty_file_is_called_empty(tmp_path, capsys, text):
    # it said "a network description must be a mapping, got NoneType"
    path = tmp_path / "net.yaml"
    path.write_text(text)
    assert main(["analyze", str(path)]) == 2
    assert capsys.readouterr().err == f"cnnspace analyze: error: {path}: empty: no network " \
                                      "description in it\n"
