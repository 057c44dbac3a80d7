"""`cnnspace scale` given a file that is wrong: one error line, exit 2."""
import pytest

from cnnspace.cli import main


@pytest.mark.parametrize("content", [b"\xff\xfe{}", b'{"nproc": 2, "backend": "gl\xe9o"}'])
def test_a_commbench_file_that_is_not_utf8_is_one_line(tmp_path, capsys, content):
    # a binary file (or one saved in Latin-1) ended in a UnicodeDecodeError traceback
    path = tmp_path / "bench.json"
    path.write_bytes(content)
    assert main(["scale", "squeezenet1_1", "--input", "3x32x32", "--preset", "measured",
                 "--commbench", str(path), "--workers", "1,2", "--batch", "128"]) == 2
    err = capsys.readouterr().err
    assert f"--commbench {path}: 'utf-8' codec can't decode" in err and err.count("\n") == 1


def test_a_commbench_file_nested_too_deep_is_one_line(tmp_path, capsys):
    # JSON nested 100,000 deep ended in a RecursionError traceback
    path = tmp_path / "bench.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["scale", "squeezenet1_1", "--input", "3x32x32", "--preset", "measured",
                 "--commbench", str(path), "--workers", "1,2", "--batch", "128"]) == 2
    err = capsys.readouterr().err
    assert f"--commbench {path}: maximum recursion depth" in err and err.count("\n") == 1
