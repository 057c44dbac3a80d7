"""Review 13 (deployment): compress never writes silently over a model.cnnz already in --out
(the user's deliverable, or a result whose compression.json was lost); only an --out that
held compression.json was refused, and a lone model.cnnz was replaced without a word."""
from __future__ import annotations

from cnnspace.spec import loads
from cnnspace.train import train
from _cli import run
from _nets import tiny_yaml
from _training import quick


def test_a_model_cnnz_already_in_out_is_refused_and_kept(tmp_path, digits8, capsys):
    folder = tmp_path / "tiny"
    train(loads(tiny_yaml()), digits8, quick(epochs=1, out=str(folder)))
    out = tmp_path / "z"
    out.mkdir()
    mine = out / "model.cnnz"
    mine.write_bytes(b"someone's compressed model")
    code, _, err = run(capsys, "compress", folder / "checkpoint.pt", "--out", out,
                       "--no-progress")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1 and "model.cnnz" in lines[0] and "--out" in lines[0]
    assert mine.read_bytes() == b"someone's compressed model"
    assert sorted(p.name for p in out.iterdir()) == ["model.cnnz"]
