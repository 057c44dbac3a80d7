"""A file that is not a spec says what it is instead, where its suffix tells."""
import pytest

from cnnspace import spec as S
from cnnspace.cli import main


def test_an_onnx_file_given_as_a_spec_says_cnnspace_only_writes_onnx(tmp_path, capsys):
    path = tmp_path / "net.onnx"
    path.write_bytes(b"\x08\x07\x12\x07pytorch\xff\xfe")  # binary, as every ONNX model is
    with pytest.raises(S.SpecError, match="ONNX model, which cnnspace writes but does not read"):
        S.load(path)
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert "net.onnx: not a text file: an ONNX model" in err and len(err.splitlines()) == 1
