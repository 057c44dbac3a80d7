"""Review of `cnnspace compress` flags: one that would do nothing is refused, not ignored."""
import pytest

from _cli import run


@pytest.mark.parametrize("epochs", [[], ["--retrain-epochs", "0"]])
def test_a_retraining_rate_without_retraining_is_refused(capsys, tmp_path, epochs):
    # it was recorded in compression.json while no retraining ran at all
    code, _, err = run(capsys, "compress", tmp_path / "best.pt", "--sparsity", "0.5",
                       "--retrain-lr-factor", "0.5", *epochs, "--out", tmp_path / "z")
    assert code == 2 and err.count("\n") == 1
    assert "--retrain-lr-factor: sets the rate of retraining, and none runs without " \
           "--retrain-epochs N" in err
    assert not (tmp_path / "z").exists()


def test_huffman_with_the_table_is_refused(capsys, tmp_path):
    # the table's rows fix their own coding: the flag changed nothing and said nothing
    code, _, err = run(capsys, "compress", "--table", tmp_path / "best.pt", "--huffman",
                       "--out", tmp_path / "z")
    assert code == 2 and err.count("\n") == 1
    assert "--huffman: the table's Deep Compression row is Huffman-coded always" in err
    assert not (tmp_path / "z").exists()
