"""Review 15 of `cnnspace compress`: a plan that would do nothing it says is refused."""
import pytest

from _cli import run


@pytest.mark.parametrize("table", [[], ["--table"]])
@pytest.mark.parametrize("epochs", [[], ["--retrain-epochs", "0"]])
def test_pruning_rounds_without_retraining_are_refused(capsys, tmp_path, table, epochs):
    # Unretrained rounds keep the very weights one round keeps: steps: 1000000 ran on without
    # end, and compression.json recorded rounds of iterative pruning that did not happen.
    plan = tmp_path / "plan.yaml"
    plan.write_text("{sparsity: 0.5, steps: 3}\n")
    code, _, err = run(capsys, "compress", *table, tmp_path / "best.pt", "--schedule", plan,
                       *epochs, "--out", tmp_path / "z")
    assert code == 2 and err.count("\n") == 1
    assert f"{plan}: steps: 3 prunes in rounds with retraining between them, and none runs " \
           "without --retrain-epochs N" in err
    assert not (tmp_path / "z").exists()


def test_pruning_rounds_with_retraining_go_on_to_the_checkpoint(capsys, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("{sparsity: 0.5, steps: 3}\n")
    code, _, err = run(capsys, "compress", tmp_path / "best.pt", "--schedule", plan,
                       "--retrain-epochs", "1", "--out", tmp_path / "z")
    assert code == 2 and "no such checkpoint file" in err
