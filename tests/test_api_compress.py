"""cnnspace.compress from Python: schedules are checked however they are made, misuse is a
CompressError, and a prediction prints short."""
from pathlib import Path

import pytest
from _training import small_trained

from cnnspace import get_spec
from cnnspace.compress import (Coding, CompressError, Schedule, parse_bits, predict,
                               read_cnnz, squeezenet_table1_schedule)

SPEC = get_spec("squeezenet1_0")


@pytest.mark.parametrize("make, message", [
    (lambda: Schedule(sparsity=2), "sparsity must be a number from 0 to 1"),
    (lambda: Schedule(0.5, steps=0), "'steps' must be a positive integer"),
    (lambda: Schedule(0.5, layers={"conv1": 1.5}), "layer 'conv1'"),
    (lambda: Schedule(0.5, bits={"conv": 40}), "a bit width must be"),
])
def test_a_schedule_made_in_python_is_checked_as_a_file_is(make, message):
    with pytest.raises(CompressError, match=message):
        make()


def test_predict_takes_a_schedule_as_plain_data_and_refuses_none():
    assert predict(SPEC, {"sparsity": 0.5}).bytes == predict(SPEC, Schedule(0.5)).bytes
    with pytest.raises(CompressError, match="expected a Schedule"):
        predict(SPEC, None)


def test_parse_bits_of_a_number_says_what_it_takes():
    with pytest.raises(CompressError, match="expects text such as 'conv=8,fc=5', got 6"):
        parse_bits(6)


def test_read_cnnz_of_a_spec_is_a_compress_error():
    with pytest.raises(CompressError, match="expected the path of a .cnnz file"):
        read_cnnz(SPEC)


def test_prediction_repr_is_short():
    p = predict(SPEC, squeezenet_table1_schedule(), {"conv": 6})
    assert repr(p) == (f"Prediction(model='squeezenet1_0', index_bits=4, layers=<26 "
                       f"LayerPrediction>, bytes={p.bytes}, dense_bytes=4993696)")


def test_trained_repr_names_its_parts_without_printing_the_module():
    from types import SimpleNamespace

    from cnnspace.compress import Trained
    from cnnspace.nn import build
    spec = get_spec("squeezenet1_1", input="1x32x32", num_classes=10)
    trained = Trained("sq", spec, build(spec), SimpleNamespace(name="digits"), None)
    assert repr(trained) == (f"Trained(name='sq', spec={spec!r}, model=<SpecModule>, "
                             "data='digits')")


def test_compress_leaves_the_trained_model_as_it_was(tmp_path):
    from cnnspace.compress import CompressOptions, compress
    trained = small_trained()
    before = {k: v.clone() for k, v in trained.model.state_dict().items()}
    report = compress(trained, CompressOptions({"sparsity": 0.5}, {"conv": 4, "fc": 4}),
                      tmp_path / "z")
    assert report["params_kept"] < report["params"]
    after = trained.model.state_dict()
    assert set(after) == set(before) and all((after[k] == before[k]).all() for k in before)


def test_retraining_takes_the_recipe_not_the_runs_source_or_device(tmp_path):
    from dataclasses import replace

    from cnnspace.compress import CompressOptions, compress
    trained = small_trained()
    # a fine-tune on a GPU machine: its source is elsewhere, its device is not here
    finetuned = replace(trained, config=trained.config.with_options(
        init_from=str(tmp_path / "source.pt"), device="cuda"))
    report = compress(finetuned, CompressOptions({"sparsity": 0.5}, retrain_epochs=1),
                      tmp_path / "z")
    assert report["settings"]["retrain_epochs"] == 1 and (tmp_path / "z" / "model.cnnz").exists()


def test_compress_of_a_path_or_wrong_options_says_what_it_takes(tmp_path):
    from cnnspace.compress import CompressOptions, compress
    with pytest.raises(CompressError, match=r"got str: cnnspace.compress.load_trained\('x.pt'\)"):
        compress("x.pt", CompressOptions(), tmp_path / "z")
    with pytest.raises(CompressError, match="expected CompressOptions, got dict"):
        compress(small_trained(), {"bits": {"conv": 6}}, tmp_path / "z")
    with pytest.raises(CompressError, match="schedule: expected a Schedule"):
        CompressOptions(schedule=0.5)
    assert not (tmp_path / "z").exists()


def _options(**kwargs):
    from cnnspace.compress import CompressOptions
    return CompressOptions(**kwargs)


@pytest.mark.parametrize("make,message", [
    (lambda: _options(retrain_lr_factor="0.1"),
     "--retrain-lr-factor must lie in \\(0, 1\\], got '0.1'"),
    (lambda: _options(retrain_lr_factor=None),
     "got None"),
    (lambda: _options(retrain_lr_factor=True),
     "got True"),
    (lambda: Coding(huffman=None), "huffman \\(--huffman\\) must be True or False, got None"),
    (lambda: Coding(huffman="no"), "got 'no'"),
])
def test_options_of_a_wrong_type_are_named(make, message):
    with pytest.raises(CompressError, match=message):
        make()


def test_an_output_folder_that_is_a_file_is_refused_before_any_work(tmp_path):
    from cnnspace.compress import CompressOptions, compress, compression_table
    (tmp_path / "f").write_text("")
    for out in (tmp_path / "f", tmp_path / "f" / "z"):
        with pytest.raises(CompressError, match=f"{out}: cannot be the output folder: .*f is a "
                                                "file"):
            compress(small_trained(), CompressOptions(), out)
        with pytest.raises(CompressError, match="cannot be the output folder"):
            compression_table([small_trained()], CompressOptions(), out)


def test_compression_table_leaves_the_models_mode_as_it_was(tmp_path):
    from cnnspace.compress import CompressOptions, compression_table
    trained = small_trained()
    trained.model.train()
    rows = compression_table([trained], CompressOptions(Schedule(0.5), {"conv": 4, "fc": 4}),
                             tmp_path / "t")
    assert len(rows) == 5 and trained.model.training


@pytest.mark.parametrize("kwargs,message", [
    ({"baseline": 1}, r"baseline must index one of the 1 models \(0..0\), got 1"),
    ({"baseline": -1}, "got -1"),
    ({"svd_keep": 1.5}, "--svd-keep must lie strictly between 0 and 1"),
    ({"svd_layers": ["fc9"]}, "--svd-layers 'fc9' matches no top-level"),
])
def test_compression_table_checks_its_arguments_before_writing(tmp_path, kwargs, message):
    from cnnspace.compress import CompressOptions, compression_table
    with pytest.raises(CompressError, match=message):
        compression_table([small_trained()], CompressOptions(), tmp_path / "t", **kwargs)
    assert not (tmp_path / "t").exists()


def test_factorise_takes_one_glob_as_one_pattern():
    from cnnspace import Layer, NetSpec
    from cnnspace.compress import factorise
    from cnnspace.nn import build
    spec = NetSpec("mlp", (3, 8, 8), [
        Layer("flat", "flatten"), Layer("fc1", "linear", attrs={"out_features": 96}),
        Layer("relu", "relu"), Layer("fc2", "linear", attrs={"out_features": 10})])
    state = build(spec).state_dict()
    one = factorise(spec, state, 0.2, "fc1")[2]
    assert [f.name for f in one] == [f.name for f in factorise(spec, state, 0.2, ["fc1"])[2]]
    assert [f.name for f in one] == ["fc1"]


def test_compression_table_gives_every_model_its_own_folder(tmp_path):
    # runs/sq/best.pt, runs/sq/checkpoint.pt and runs/sq-2/best.pt (train names a second run
    # of the same second sq-2): the second checkpoint was labelled sq-2 too, and the third
    # model's files replaced its files while its rows still named them.
    from dataclasses import replace

    from cnnspace.compress import CompressOptions, compression_table
    first = small_trained()
    models = [replace(first, name="sq"), replace(first, name="sq"),
              replace(small_trained(), name="sq-2")]
    rows = compression_table(models, CompressOptions(), tmp_path / "t")
    labels = [r.model for r in rows if r.approach == "baseline"]
    assert len(set(labels)) == 3 and labels[2] == "sq-2"
    files = [Path(r.file) for r in rows if r.file]
    assert len(set(files)) == len(files) and all(f.exists() for f in files)


def test_compression_table_of_a_path_says_to_load_it(tmp_path):
    # a str is a sequence: its first letter was taken for a model ("load_trained('r') reads a
    # checkpoint")
    from cnnspace.compress import CompressOptions, compression_table
    with pytest.raises(CompressError, match=r"expected a list of Trained models, got str: "
                                            r"cnnspace.compress.load_trained\('runs/a/best.pt'\)"):
        compression_table("runs/a/best.pt", CompressOptions(), tmp_path / "t")


def test_write_cnnz_of_no_tensors_mapping_is_a_compress_error(tmp_path):
    from cnnspace.compress import write_cnnz
    with pytest.raises(CompressError, match="tensors: expected a mapping of state-dict keys"):
        write_cnnz(tmp_path / "m.cnnz", get_spec("squeezenet1_1"), None, Coding())
