"""`cnnspace zoo`, `spec` and `analyze` as a user runs them."""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnnspace import analyze, get_spec
from cnnspace.spec import SpecError
from cnnspace.cli import main
from _cli import run



def test_analyze_json_schema(capsys):
    code, out, _ = run(capsys, "analyze", "squeezenet1_0", "--format", "json", "--batch", "8")
    assert code == 0
    data = json.loads(out)
    assert data["model"] == "squeezenet1_0" and data["input"] == [3, 227, 227] and data["batch"] == 8
    totals = data["totals"]
    for key in ("params", "size_bytes", "macs", "flops", "activations", "comm_bytes_data_parallel",
                "comm_bytes_model_parallel"):
        assert isinstance(totals[key], int), key
    assert totals["params"] == 1_248_424
    assert totals["comm_bytes_model_parallel"] == 8 * totals["activation_bytes"]
    for layer in data["layers"]:
        assert set(layer) >= {"name", "type", "out_shape", "params", "macs", "activations"}
    assert sum(layer["macs"] for layer in data["layers"]) == totals["macs"]


def test_analyze_family_settings_input_and_bits(capsys):
    code, out, _ = run(capsys, "analyze", "firenet", "--set", "sr=0.75", "--set", "bypass=simple",
                       "--input", "3x64x64", "--bits", "8", "--format", "json")
    data = json.loads(out)
    expected = analyze(get_spec("firenet", sr=0.75, bypass="simple", input=(3, 64, 64)), bits=8)
    assert data["totals"]["size_bytes"] == expected.totals.size_bytes == expected.totals.params
    assert data["input"] == [3, 64, 64]


def test_analyze_table_and_csv(capsys):
    code, out, _ = run(capsys, "analyze", "squeezenet1_1", "--input", "3x32x32")
    assert code == 0 and "1,235,496" in out and "MiB" in out
    code, out, _ = run(capsys, "analyze", "squeezenet1_1", "--format", "csv")
    lines = out.strip().splitlines()
    assert lines[0].startswith("name,type,block,out_shape,params,macs")
    assert len(lines) == 1 + len(analyze(get_spec("squeezenet1_1")).layers)


def test_spec_file_round_trip_through_the_cli(capsys, tmp_path):
    path = tmp_path / "fn.yaml"
    assert run(capsys, "spec", "firenet", "--set", "pct3x3=0.25", "-o", str(path))[0] == 0
    code, out, _ = run(capsys, "analyze", str(path), "--format", "json")
    assert json.loads(out)["totals"]["params"] == analyze(get_spec("firenet", pct3x3=0.25)).totals.params


def test_zoo_lists_models(capsys):
    code, out, _ = run(capsys, "zoo", "--format", "json")
    entries = {e["name"]: e for e in json.loads(out)}
    assert entries["firenet"]["family"] and not entries["alexnet"]["family"]
    assert entries["firenet"]["settings"]["sr"] == 0.125
    code, out, _ = run(capsys, "zoo", "squeeze", "--format", "json")  # a part of the name
    assert code == 0 and "squeezenet1_1" in {e["name"] for e in json.loads(out)}
    code, out, err = run(capsys, "zoo", "resnet")
    assert code == 1 and "no registered model matches 'resnet'" in err


@pytest.mark.parametrize("argv,message", [
    (["analyze", "resnet9000"], "neither a registered model"),
    (["analyze", "firenet", "--set", "sr=2"], "field 'sr'"),
    (["analyze", "firenet", "--set", "colour=red"], "no setting 'colour'"),
    (["analyze", "alexnet", "--input", "3x16x16"], "does not fit"),
    (["analyze", "alexnet", "--input", "big"], "CxHxW"),
    (["analyze", "alexnet", "--input", "axbxc"], "got 'axbxc'"),
    (["analyze", "squeezenet1_1", "--set", "oops"], "KEY=VALUE"),
])
def test_errors_are_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_bad_spec_file_names_file_layer_and_field(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ninput: [3, 8, 8]\nlayers:\n  - {name: c1, type: conv2d, kernel: 3}\n")
    code, _, err = run(capsys, "analyze", str(path))
    assert code == 2 and "bad.yaml" in err and "'c1'" in err and "'out_channels'" in err


def test_console_script_exit_code():
    proc = subprocess.run([sys.executable, "-m", "cnnspace.cli", "analyze", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "error" in proc.stderr


def test_analytic_path_never_imports_torch():
    code = ("import sys, cnnspace; from cnnspace.commands import analyze; "
            "a = cnnspace.analyze(cnnspace.get_spec('googlenet_aux')); "
            "assert 'torch' not in sys.modules, 'torch imported'; print(a.totals.params)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "13378280"


def test_cli_starts_without_heavy_imports():
    # A command pays only for what it needs: analytic ones never load torch or matplotlib.
    space = Path(__file__).parent.parent / "examples" / "spaces" / "squeeze_ratio.yaml"
    code = ("import sys; from cnnspace.cli import main; main(['analyze', 'squeezenet1_1', '--format', "
            "'json']); main(['zoo']); main(['diff', 'squeezenet1_0', 'squeezenet1_1']); "
            f"main(['space', 'analyze', {str(space)!r}, '--format', 'csv']); "
            "heavy = [m for m in ('torch', 'matplotlib', 'optuna', 'onnxruntime', 'sklearn') "
            "if m in sys.modules]; print('heavy:', ','.join(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "heavy:"


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    for command in ("analyze", "spec", "zoo", "import"):
        assert command in out


def test_layer_activations_add_up_to_the_total(capsys):
    assert main(["analyze", "alexnet", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sum(layer["activations"] for layer in data["layers"]) == data["totals"]["activations"]
    relu = next(layer for layer in data["layers"] if layer["type"] == "relu")
    assert relu["activations"] == 0 and relu["out_shape"] == [64, 55, 55]


@pytest.mark.parametrize("argv", [["analyze", "squeezenet1_0"],
                                  ["diff", "squeezenet1_0", "squeezenet1_1"],
                                  ["space", "analyze", "examples/spaces/squeeze_ratio.yaml"],
                                  ["scale", "googlenet_aux", "--workers", "128"]])
def test_tables_in_a_file_or_pipe_keep_every_number_whole(capsys, monkeypatch, argv):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    monkeypatch.setenv("COLUMNS", "80")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    if argv[0] == "diff":  # words stay whole too: rich would fold them at 80 columns
        for word in ("filter_size", "7x7→3x3", "227x227→224x224", "out_channels"):
            assert word in out
    if argv[0] == "analyze":
        assert "173,873,952" in out and "fire9/expand3x3_relu" in out


def test_set_reads_a_comma_list_and_the_input_is_given_once(capsys):
    assert main(["analyze", "firenet", "--set", "pool_after=conv1,fire4", "--format",
                 "json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert [m["name"] for m in layers if m["type"] == "maxpool"] == ["pool1", "pool4"]
    assert main(["analyze", "firenet", "--set", "input=3x64x64", "--input", "3x32x32"]) == 2
    assert "give the input size once" in capsys.readouterr().err
    # A setting given twice: the last one silently won (a sweep script that appended its
    # value to a base command line analysed the base's).
    assert main(["analyze", "firenet", "--set", "sr=0.5", "--set", "sr=0.25"]) == 2
    assert capsys.readouterr().err == ("cnnspace analyze: error: --set sr: given twice; give "
                                       "each setting once\n")


def test_an_input_size_written_as_a_list_of_two_is_height_and_width(capsys):
    # "224x224" was taken and [224, 224] refused, with the tuple (224, 224) echoed
    spec = get_spec("firenet", input=[64, 64])
    assert spec.input == (3, 64, 64)
    with pytest.raises(SpecError, match=r"got \[0, 64, 64\]$"):
        get_spec("firenet", input=(0, 64, 64))


def test_an_analysis_repr_is_short():
    text = repr(analyze(get_spec("googlenet_aux")))
    assert "layers=<" in text and "LayerMetrics>" in text and "params=" in text
    assert len(text) < 1000


@pytest.mark.parametrize("command", ["analyze", "spec", "scale", "bench", "export"])
def test_a_spec_file_too_small_for_the_input_given_is_named_and_never_written(capsys, tmp_path,
                                                                               command):
    path = tmp_path / "k5.yaml"
    path.write_text("name: k5\ninput: [3, 8, 8]\nlayers:\n"
                    "  - {name: c1, type: conv2d, out_channels: 2, kernel: 5}\n")
    out_file = tmp_path / "out.yaml"
    extra = {"spec": ["-o", str(out_file)], "export": ["--onnx", str(out_file)]}.get(command, [])
    code, _, err = run(capsys, command, str(path), "--input", "3x3x3", *extra)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "k5.yaml: layer 'c1': field 'kernel': window of 5" in err
    assert not out_file.exists()  # `spec` writes only what every command reads back


@pytest.mark.parametrize("command", ["analyze", "diff", "scale", "bench"])
def test_a_zoo_model_at_an_input_too_small_is_named(capsys, command):
    models = ["squeezenet1_1", "squeezenet1_1"] if command == "diff" else ["squeezenet1_1"]
    code, _, err = run(capsys, command, *models, "--input", "3x10x10")
    assert code == 2
    named = "A (squeezenet1_1)" if command == "diff" else "squeezenet1_1"
    assert err.startswith(f"cnnspace {command}: error: {named}: layer 'pool5'")


@pytest.mark.parametrize("argv, words", [
    (["analyze", "squeezenet1_0", "--batch", "x"], "cnnspace analyze: error: argument --batch: "
                                                   "invalid int value: 'x'"),
    (["analyse", "squeezenet1_0"], "cnnspace: error: argument COMMAND: invalid choice: 'analyse'"),
    (["spec"], "cnnspace spec: error: the following arguments are required"),
    # the subcommand's help, which lists its options (`cnnspace --help` lists only commands)
    (["analyze", "squeezenet1_0", "--threds", "1"],
     "cnnspace analyze: error: unrecognized arguments: --threds 1 (see `cnnspace analyze --help`)"),
    (["space", "show", "x.yaml", "--bogus"],
     "cnnspace space show: error: unrecognized arguments: --bogus (see `cnnspace space show "
     "--help`)"),
])
def test_a_usage_error_is_one_line_naming_the_help(capsys, argv, words):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(words) and len(err.strip().splitlines()) == 1, err
    assert err.strip().endswith("--help`)")


def test_the_largest_batch_reads_with_thousands_separators_and_prefixes(capsys):
    # it read "model-parallel 66751488330.15 MB" and "training 1.08e+07 TFLOPs"
    code, out, _ = run(capsys, "analyze", "squeezenet1_0", "--batch", "2147483647")
    out = " ".join(out.split())
    assert code == 0
    assert "per step of batch 2,147,483,647: training 10.8 EFLOPs" in out
    assert "model-parallel 66,751,488,330.15 MB (activations)" in out


def test_csv_output_writes_formula_like_names_as_text(capsys, tmp_path):
    # A layer of a stranger's spec named "=cmd|..." was a live formula in the CSV that analyze
    # printed for a spreadsheet; numbers stay numbers.
    spec = tmp_path / "s.yaml"
    spec.write_text("name: n\ninput: [1, 2, 2]\nlayers:\n- {name: flat, type: flatten}\n"
                    "- {name: '=cmd|calc!A0', type: linear, out_features: 2}\n")
    code, out, _ = run(capsys, "analyze", spec, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[1]["name"] == "'=cmd|calc!A0" and rows[1]["params"] == "10"


@pytest.mark.parametrize("command, shows_layers", [
    (["analyze"], True), (["scale", "--workers", "1,2"], False), (["diff", "B"], True),
    (["bench", "--batch", "1", "--min-time", "0.01", "--train-batch", "0"], True)])
def test_names_that_look_like_markup_are_printed_as_written(capsys, tmp_path, command,
                                                            shows_layers):
    # rich read them as markup: "[/x]" raised MarkupError in scale and bench, "[bold]" vanished
    path = tmp_path / "m.yaml"
    path.write_text('name: "n[/x]"\ninput: [3, 16, 16]\nlayers:\n'
                    '  - {name: "c[b]", type: conv2d, out_channels: 4, kernel: 3}\n'
                    '  - {name: "[bold]p", type: global_avgpool}\n')
    other = tmp_path / "other.yaml"
    other.write_text(path.read_text().replace("out_channels: 4", "out_channels: 8"))
    args = [command[0], str(path), *[str(other) if a == "B" else a for a in command[1:]]]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "n[/x]" in out
    assert not shows_layers or ("c[b]" in out and "[bold]p" in out)
