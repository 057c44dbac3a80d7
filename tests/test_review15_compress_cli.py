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


def _remedies(monkeypatch, *argv, capsys, tmp_path):
    """The remedy each chance-level warning would give, whatever the accuracy reached."""
    from _training import small_trained

    from cnnspace.commands import compress as command
    monkeypatch.setattr(command, "_load_trained", lambda path, data: small_trained())
    given = []
    monkeypatch.setattr(command, "_warn_if_destroyed",
                        lambda top1, before, classes, what, remedy: given.append(remedy))
    code, _, err = run(capsys, "compress", *argv, tmp_path / "a.pt", "--out", tmp_path / "z",
                       "--no-progress", "--format", "json")
    assert code == 0, err
    return given


@pytest.mark.parametrize("bits,more_bits", [("conv=1,fc=1", True), ("conv=32,fc=32", False),
                                            ("conv=32,fc=2", True)])
def test_the_remedy_for_a_destroyed_model_names_bits_where_weights_were_shared(
        capsys, tmp_path, monkeypatch, bits, more_bits):
    # 1-bit sharing of a pruned layer leaves one value for all its weights: the warning said
    # "prune less (--sparsity) or retrain more (--retrain-epochs)", never to give more bits
    [remedy] = _remedies(monkeypatch, "--sparsity", "0.5", "--bits", bits, capsys=capsys,
                         tmp_path=tmp_path)
    assert remedy.startswith("prune less (--sparsity)")
    assert ("share with more bits (--bits)" in remedy) == more_bits


def test_each_row_of_the_table_gets_its_own_remedy(capsys, tmp_path, monkeypatch):
    remedies = _remedies(monkeypatch, "--table", "--sparsity", "0.5", capsys=capsys,
                         tmp_path=tmp_path)
    assert remedies == [
        "keep more of each factorised layer (--svd-keep) or retrain more (--retrain-epochs)",
        "prune less (--sparsity) or retrain more (--retrain-epochs)",
        "prune less (--sparsity), share with more bits (--bits) or retrain more "
        "(--retrain-epochs)",
        "PyTorch's post-training int8 quantization does not suit this model"]


@pytest.mark.parametrize("flag", ["--schedule", "--out", "--data"])
def test_an_empty_value_is_refused_not_read_as_no_flag(capsys, tmp_path, monkeypatch, flag):
    # --schedule "$PLAN" with PLAN unset compressed without pruning, --out "" wrote into a new
    # runs/ folder of the current one, --data "" evaluated on the checkpoint's dataset
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "compress", tmp_path / "best.pt", flag, "")
    assert code == 2 and err == f"cnnspace compress: error: {flag}: an empty value (an unset " \
        "shell variable?); give one, or leave the option out\n"
    assert list(tmp_path.iterdir()) == []


def test_an_empty_predict_model_is_refused(capsys):
    code, _, err = run(capsys, "compress", "--predict", " ")
    assert code == 2 and "--predict: an empty value" in err
