"""Review of `cnnspace compress` as a deployment engineer runs it: the output folder's files
(what a killed run left, an --out that is a file) and the names models get."""
from __future__ import annotations

import pytest

from cnnspace.compress import CompressOptions, compression_table, load_trained
from cnnspace.errors import CnnspaceError
from cnnspace.spec import loads
from cnnspace.train import claimed_folder, train
from _cli import run
from _nets import tiny_yaml
from _training import quick, small_trained

# What a compress killed while writing leaves: model.cnnz under its checking name, and the
# temporary files of atomic writes (of that file, of model.cnnz, of the report).
KILLED_RUN_LEFT = (".model.cnnz.unchecked", "..model.cnnz.unchecked.k1q2z9.tmp",
                   ".model.cnnz.a8b9c7.tmp", ".compression.json.zz0x1y.tmp")
# Hidden files of other names, which no compress writes: never touched.
OTHERS = (".keep", ".other.json.abc.tmp", "notes.txt")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, digits8):
    folder = tmp_path_factory.mktemp("trained") / "tinyrun"
    train(loads(tiny_yaml()), digits8, quick(epochs=1, out=str(folder)))
    return folder


def _leave(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"half a file")


def test_a_compress_into_a_killed_runs_folder_removes_what_that_run_left(tmp_path, run_folder,
                                                                         capsys):
    out = tmp_path / "z"
    _leave(out, KILLED_RUN_LEFT + OTHERS)
    code, _, err = run(capsys, "compress", run_folder / "checkpoint.pt", "--sparsity", "0.5",
                       "--no-progress", "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*OTHERS, "compression.json", "model.cnnz"])


def test_a_table_removes_what_a_killed_table_left_in_its_model_folder(tmp_path):
    out = tmp_path / "t"
    left = ("..baseline.cnnz.unchecked.q1w2e3.tmp", ".svd.cnnz.unchecked", ".int8.pt.r4t5y6.tmp",
            ".pruning.cnnz.u7i8o9.tmp", ".model.cnnz.unchecked")
    _leave(out / "small", left + OTHERS)
    compression_table([small_trained()], CompressOptions({"sparsity": 0.5}), out)
    assert sorted(p.name for p in (out / "small").iterdir()) == sorted(
        [*OTHERS, "baseline.cnnz", "int8.pt", "model.cnnz", "pruning.cnnz"])  # no SVD row


def test_a_table_never_writes_into_a_model_folder_another_command_is_writing(tmp_path):
    # The command claimed --out only: a `compress --out t/small` running meanwhile wrote the same
    # names in t/small, and its files in progress looked like a killed run's.
    out = tmp_path / "t"
    _leave(out / "small", (".model.cnnz.w1e2r3.tmp",))
    with claimed_folder(out / "small", "busy"):
        with pytest.raises(CnnspaceError, match=f"{out / 'small'} is being written by another "
                           "command"):
            compression_table([small_trained()], CompressOptions({"sparsity": 0.5}), out)
    assert sorted(p.name for p in (out / "small").iterdir()) == [".model.cnnz.w1e2r3.tmp"]


def test_an_out_that_is_a_file_is_one_line(tmp_path, run_folder, capsys):
    # claimed_folder's search for the file in the way looked at the folders above it only, and
    # its StopIteration came out as a traceback
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    for extra in ((), ("--table",)):
        code, _, err = run(capsys, "compress", *extra, run_folder / "checkpoint.pt",
                           "--no-progress", "--out", out)
        assert (code, err) == (2, f"cnnspace compress: error: --out {out} is a file: give a "
                                  "folder\n")
    assert out.read_text() == "mine"


def test_a_checkpoint_in_the_current_folder_is_named_after_that_folder(run_folder, monkeypatch):
    # `compress --table best.pt` named the model "" and wrote its files into --out itself
    monkeypatch.chdir(run_folder)
    assert load_trained("checkpoint.pt").name == "tinyrun"
    monkeypatch.chdir(run_folder / "..")
    assert load_trained("tinyrun/../tinyrun/best.pt").name == "tinyrun"
