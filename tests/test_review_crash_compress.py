"""Review of crash safety: two `cnnspace compress` commands on one --out, and one killed while
writing and run again there."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import cnnspace.commands.compress as compress_command
import cnnspace.compress._pipeline as pipeline
from cnnspace.compress import CompressOptions, compress, compression_table
from cnnspace.errors import WriteError
from cnnspace.spec import loads
from cnnspace.train import train
from _cli import run
from _nets import tiny_yaml
from _training import quick, small_trained
from test_review_crash_train import disk_full_after

pytestmark = pytest.mark.slow

# `cnnspace compress` in a child that freezes once its model.cnnz is written under its checking
# name, before it is read back, renamed and reported.
CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import cnnspace.compress._pipeline as pipeline
    from cnnspace.cli import main

    def freeze(path):
        Path(sys.argv[1], "..frozen").touch()
        time.sleep(600)

    pipeline.decompress = freeze
    main(["compress", *sys.argv[2:]])
""")


def _trained_run(tmp_path, digits8):
    run_folder = tmp_path / "run"
    train(loads(tiny_yaml()), digits8, quick(epochs=1, out=str(run_folder)))
    return run_folder


def _full_disk(path, *written):
    raise WriteError(f"cannot write {path}: {os.strerror(errno.ENOSPC)}", errno.ENOSPC)


def _wait_for(path, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, f"no {path}"
        time.sleep(0.02)


def test_a_second_compress_on_the_same_out_is_refused_and_a_killed_one_can_be_rerun(
        tmp_path, digits8, capsys):
    run_folder = _trained_run(tmp_path, digits8)
    out = tmp_path / "z"
    argv = [str(run_folder / "checkpoint.pt"), "--sparsity", "0.5", "--bits", "conv=4",
            "--no-progress", "--out", str(out)]
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), *argv],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(tmp_path / "..frozen", child)
        # Both wrote model.cnnz and compression.json: one's report could describe the other's file.
        code, _, err = run(capsys, "compress", *argv)
        assert code == 2 and err.count("\n") == 1, err
        assert f"{out} is being written by another command" in err
        assert not (out / "compression.json").exists()
    finally:
        child.kill()
        child.communicate()
    # Killed half-way: nothing to refuse, and nothing of the killed run left beside the result.
    code, _, err = run(capsys, "compress", *argv)
    assert code == 0, err
    report = json.loads((out / "compression.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == ["compression.json", "model.cnnz"]
    assert report["file_bytes"] == (out / "model.cnnz").stat().st_size


def test_compress_over_an_earlier_result_never_leaves_that_result_s_report(tmp_path,
                                                                          monkeypatch):
    # compress() writes over an earlier result in its folder (the command refuses that folder);
    # a full disk or a kill between the new model.cnnz and its report left the old report,
    # which named another size and accuracy than the file beside it.
    out = tmp_path / "z"
    compress(small_trained(), CompressOptions({"sparsity": 0.0}, {"conv": 8}), out)

    monkeypatch.setattr(pipeline, "write_report", _full_disk)
    with pytest.raises(WriteError):
        compress(small_trained(), CompressOptions({"sparsity": 0.9}, {"conv": 2}), out)
    assert (out / "model.cnnz").exists()
    assert not (out / "compression.json").exists()


def test_a_table_that_cannot_be_written_is_shown_first(tmp_path, digits8, capsys, monkeypatch):
    # Every row was measured, then table.json failed on a full disk before anything was shown:
    # the whole comparison was lost for one line of error.
    run_folder = _trained_run(tmp_path, digits8)

    monkeypatch.setattr(compress_command, "write_text_atomic", _full_disk)
    code, shown, err = run(capsys, "compress", "--table", run_folder / "checkpoint.pt",
                           "--sparsity", "0.5", "--format", "json", "--no-progress",
                           "--out", tmp_path / "t")
    assert code == 2 and err == f"cnnspace compress: error: cannot write {tmp_path / 't'}/" \
        "table.json: No space left on device\n"
    rows = json.loads(shown)
    assert [r["approach"] for r in rows][:2] == ["baseline", "SVD"]
    assert rows[0]["bytes"] == (tmp_path / "t" / "run" / "baseline.cnnz").stat().st_size


def test_a_disk_that_fills_during_the_int8_row_names_its_file(tmp_path, monkeypatch):
    # torch.save's own "unexpected pos" RuntimeError (a traceback) is now the file and the cause
    disk_full_after(monkeypatch, 1000)
    with pytest.raises(WriteError, match=f"cannot write {tmp_path / 't' / 'small' / 'int8.pt'}: "
                       "No space left on device"):
        compression_table([small_trained()], CompressOptions({"sparsity": 0.5}), tmp_path / "t")


def test_a_report_that_cannot_be_written_is_shown(tmp_path, digits8, capsys, monkeypatch):
    # model.cnnz was written and measured, then compression.json met a full disk: the command
    # said only the error, and the sizes and accuracies it had measured were lost.
    run_folder = _trained_run(tmp_path, digits8)

    monkeypatch.setattr(pipeline, "write_report", _full_disk)
    out = tmp_path / "z"
    code, shown, err = run(capsys, "compress", run_folder / "checkpoint.pt", "--sparsity", "0.5",
                           "--format", "json", "--no-progress", "--out", out)
    assert code == 2 and err == f"cnnspace compress: error: cannot write {out}/" \
        "compression.json: No space left on device\n"
    assert json.loads(shown)["file_bytes"] == (out / "model.cnnz").stat().st_size
