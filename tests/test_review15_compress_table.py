"""Review 15 of the slide-34 table: an error about one of several models names it."""
from dataclasses import replace

import pytest

from cnnspace import Layer, NetSpec
from cnnspace.compress import CompressError, CompressOptions, compression_table
from _training import small_trained


def _two_models():
    small = small_trained()
    spec = NetSpec("wide", small.spec.input, [
        Layer("conv", "conv2d", attrs={"out_channels": 8, "kernel": 3, "padding": 1}),
        Layer("relu", "relu"), Layer("pool", "global_avgpool"), Layer("flat", "flatten"),
        Layer("fc1", "linear", attrs={"out_features": 16}),
        Layer("fc", "linear", attrs={"out_features": small.data.num_classes})])
    from cnnspace.nn import build
    return [replace(small, name="wide", spec=spec, model=build(spec)), small]


@pytest.mark.parametrize("options,keyword,problem", [
    (CompressOptions({"layers": {"fc1": 0.5}}), {}, "layer override 'fc1' matches no"),
    (CompressOptions(bits={"fc1": 4}), {}, "--bits: bit width for 'fc1' matches no"),
    (CompressOptions(), {"svd_layers": ["fc1"]}, "--svd-layers 'fc1' matches no"),
])
def test_a_plan_one_of_several_models_cannot_take_names_that_model(tmp_path, options, keyword,
                                                                   problem):
    # "matches no conv2d or linear layer (layers: conv, fc)" said nothing of which of the
    # table's checkpoints lacked fc1
    with pytest.raises(CompressError, match=f"^model small \\(checkpoint 2 of 2; one plan "
                                            f"applies to all\\): .*{problem}"):
        compression_table(_two_models(), options, tmp_path / "t", **keyword)
    assert not (tmp_path / "t").exists()


def test_the_only_model_needs_no_naming(tmp_path):
    with pytest.raises(CompressError, match="^--bits: bit width for 'fc1' matches no"):
        compression_table([small_trained()], CompressOptions(bits={"fc1": 4}), tmp_path / "t")


def _stopping_at_int8_of(monkeypatch, victim: str, stop: BaseException):
    from cnnspace.compress import _table
    int8 = _table._int8

    def int8_or_stop(trained, folder):
        if trained.name == victim:
            raise stop
        return int8(trained, folder)

    monkeypatch.setattr(_table, "_int8", int8_or_stop)


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), CompressError("the disk is gone")])
def test_a_table_stopped_in_its_last_model_keeps_the_rows_measured(tmp_path, monkeypatch, stop):
    # A Ctrl-C (or an error) in the last model lost every row of the table, though each row's
    # file was written: their sizes and accuracies were nowhere.
    _stopping_at_int8_of(monkeypatch, "small", stop)
    with pytest.raises(type(stop)) as raised:
        compression_table(_two_models(), CompressOptions({"sparsity": 0.5}), tmp_path / "t")
    rows = raised.value.measured_rows
    assert [(r.model, r.approach) for r in rows] == [
        *(("wide", a) for a in ("baseline", "SVD", "pruning", "pruning + sharing + Huffman",
                                "int8 (PyTorch)")),
        *(("small", a) for a in ("baseline", "SVD", "pruning", "pruning + sharing + Huffman"))]
    assert rows[0].ratio == 1.0 and rows[5].ratio == rows[0].bytes / rows[5].bytes
    assert all((tmp_path / "t" / r.file).is_file() if r.file else True for r in rows)


def test_the_command_shows_and_saves_the_rows_of_an_interrupted_table(capsys, tmp_path,
                                                                      monkeypatch):
    import json

    from cnnspace.commands import compress as command
    from _cli import run
    models = iter(_two_models())
    monkeypatch.setattr(command, "_load_trained", lambda path, data: next(models))
    _stopping_at_int8_of(monkeypatch, "small", KeyboardInterrupt())
    code, out, err = run(capsys, "compress", "--table", tmp_path / "a.pt", tmp_path / "b.pt",
                         "--sparsity", "0.5", "--out", tmp_path / "t", "--no-progress",
                         "--format", "json")
    assert code == 130
    assert f"the table stopped after 9 of 10 rows; those measured follow and go to " \
           f"{tmp_path / 't' / 'table.json'}" in err
    assert json.loads(out) == json.loads((tmp_path / "t" / "table.json").read_text())
    assert len(json.loads(out)) == 9


@pytest.mark.parametrize("files", [("model.cnnz", "compression.json"), ("compression.json",),
                                   ("model.cnnz",)])
def test_a_model_folder_holding_a_compress_result_is_refused(tmp_path, files):
    # --out runs, where runs/small held `compress runs/small/best.pt --out runs/small`: the
    # table's model.cnnz replaced that result's, whose compression.json then gave another size
    folder = tmp_path / "t" / "small"
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_text("earlier\n")
    with pytest.raises(CompressError, match=f"{folder} holds a compression result "
                                            f"\\({files[-1]}\\), and the table would write its "
                                            "own model.cnnz there: choose another --out"):
        compression_table([small_trained()], CompressOptions(), tmp_path / "t")
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    assert all((folder / name).read_text() == "earlier\n" for name in files)


def test_a_tables_own_earlier_files_are_rewritten(tmp_path):
    folder = tmp_path / "t" / "small"
    folder.mkdir(parents=True)
    for name in ("baseline.cnnz", "model.cnnz"):
        (folder / name).write_text("earlier\n")
    rows = compression_table([small_trained()], CompressOptions(), tmp_path / "t")
    assert (folder / "model.cnnz").stat().st_size == rows[3].bytes
