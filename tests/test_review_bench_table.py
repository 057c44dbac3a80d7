"""Review of `cnnspace bench`'s table: every time it prints says which statistic it is."""
from cnnspace.cli import main


def test_the_table_names_the_statistic_of_every_time(capsys):
    # The layer table's "ms" and the training step's "21.6 ms" were medians without saying so,
    # and the peak is a GEMM's fastest run, where the network's figures are medians.
    assert main(["bench", "squeezenet1_1", "--input", "3x32x32", "--backend", "torch",
                 "--batch", "1,2", "--train-batch", "2", "--min-time", "0.02",
                 "--peak-size", "64", "--threads", "1", "--top", "3"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # as wrapped to any console width
    assert "frames/s = batch / median time" in out
    assert "64^3 GEMM, fastest run)" in out
    assert "┃ median ms ┃ % time ┃" in out
    assert "training step at batch 2 (torch): median " in out
