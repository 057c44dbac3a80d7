"""`cnnspace scale` given a file that is wrong: one error line, exit 2."""
import json

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


@pytest.mark.parametrize("field, value, message", [
    ("sizes_bytes", [1000, 2000, 10**400], "message sizes must be finite numbers of bytes > 0"),
    ("times_s", [1e-3, 2e-3, 10**400], "measured times must be finite numbers of seconds > 0"),
    ("nproc", 10**400, "nproc must be an integer from 2 to 2,147,483,647"),
], ids=["sizes", "times", "nproc"])
def test_a_commbench_file_with_numbers_beyond_any_float_is_one_line(tmp_path, capsys, field,
                                                                    value, message):
    # an integer of 400 digits is valid JSON; each ended in an OverflowError traceback
    data = {"nproc": 2, "backend": "gloo", "threads": 1, "repeats": 1,
            "patterns": {"allreduce": {"sizes_bytes": [1000, 2000, 4000],
                                       "times_s": [1e-3, 2e-3, 3e-3]}}}
    where = data if field == "nproc" else data["patterns"]["allreduce"]
    where[field] = value
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    assert main(["scale", "squeezenet1_1", "--input", "3x32x32", "--preset", "measured",
                 "--commbench", str(path), "--workers", "1,2", "--batch", "128"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: " in err and message in err and err.count("\n") == 1


def test_a_dataset_size_beyond_any_float_is_one_line(capsys):
    # argparse reads 400 digits as an int; epochs x images then raised OverflowError
    assert main(["scale", "squeezenet1_1", "--dataset-size", "1" + "0" * 400]) == 2
    err = capsys.readouterr().err
    assert "--dataset-size must be at most 1.8e+308, got a 401-digit number" in err
    assert err.count("\n") == 1


def test_a_process_count_beyond_any_float_is_one_line(capsys):
    # the memory check divided 400 digits of processes into GB: an OverflowError traceback
    assert main(["commbench", "--nproc", "1" + "0" * 400]) == 2
    err = capsys.readouterr().err
    assert "--nproc must be an integer from 2 to 2,147,483,647, got 1000" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("nproc", ["0", "-3", "1"])
def test_measured_preset_with_a_given_link_checks_nproc_before_measuring(capsys, monkeypatch,
                                                                         nproc):
    # with --alpha and --beta no commbench checked --nproc: 0 was a ZeroDivisionError, -3 "batch
    # must be an integer >= 1, got -42", and 1 timed a step of all 128 images
    from cnnspace import scale

    def measured(*args, **kwargs):
        raise AssertionError("measured before the arguments were checked")
    monkeypatch.setattr(scale, "measure_preset", measured)
    assert main(["scale", "squeezenet1_1", "--input", "3x32x32", "--preset", "measured",
                 "--alpha", "1e-6", "--beta", "1e-9", "--nproc", nproc, "--workers", "1,2"]) == 2
    err = capsys.readouterr().err
    assert f"--nproc must be an integer >= 2, got {nproc}" in err and err.count("\n") == 1
