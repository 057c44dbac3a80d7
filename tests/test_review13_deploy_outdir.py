"""Review 13 (deployment): an existing --out folder that cannot be written is refused before
compress spends its evaluation and retraining, not when model.cnnz is finally written."""
from __future__ import annotations

import pytest

from cnnspace.compress import CompressError, CompressOptions, compress
from cnnspace.spec import loads
from cnnspace.train import train
from _cli import run
from _nets import tiny_yaml
from _training import quick, small_trained


def _no_work(*args, **kwargs):
    raise AssertionError("compress evaluated the model before checking its output folder")


def test_the_api_refuses_a_read_only_out_before_any_work(read_only, monkeypatch):
    monkeypatch.setattr("cnnspace.compress._pipeline.evaluate", _no_work)
    with pytest.raises(CompressError, match="no permission to write in .*ro"):
        compress(small_trained(), CompressOptions({"sparsity": 0.5}), read_only)


def test_the_command_refuses_a_read_only_out_in_one_line(read_only, tmp_path, digits8, capsys,
                                                         monkeypatch):
    run_folder = tmp_path / "tiny"
    train(loads(tiny_yaml()), digits8, quick(epochs=1, out=str(run_folder)))
    monkeypatch.setattr("cnnspace.compress._pipeline.evaluate", _no_work)
    code, out, err = run(capsys, "compress", run_folder / "checkpoint.pt", "--sparsity", "0.5",
                         "--out", read_only, "--no-progress")
    assert code != 0 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and str(read_only) in lines[0] and "no permission" in lines[0]
    assert not any(read_only.iterdir())
