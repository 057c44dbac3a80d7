"""`cnnspace diff` as a user runs it: the A --set ... B --set ... syntax, files, errors."""
from __future__ import annotations

import json

import pytest

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.spec import save
from _cli import run



def test_each_set_belongs_to_the_model_before_it(capsys):
    code, out, _ = run(capsys, "diff", "firenet", "--set", "sr=0.125", "firenet", "--set",
                       "sr=0.25", "--format", "json")
    assert code == 0
    j = json.loads(out)
    assert j["a"]["params"] == 1_248_424 and j["b"]["params"] > j["a"]["params"]
    fields = {o["layer"]: o["fields"] for o in j["origins"]}
    assert fields["fire2/squeeze1x1"] == {"out_channels": {"a": 16, "b": 32}}
    assert {c["kind"] for c in j["changes"]} == {"local"}
    assert j["totals"]["delta_comm_bytes"] == 4 * j["totals"]["delta_params"] > 0


def test_settings_of_b_only_and_input_for_both(capsys):
    code, out, _ = run(capsys, "diff", "squeezenet1_0", "firenet", "--set", "conv1_stride=1",
                       "--input", "3x64x64", "--format", "json")
    j = json.loads(out)
    assert code == 0 and j["a"]["input"] == j["b"]["input"] == [3, 64, 64]
    assert [(o["layer"], o["kind"]) for o in j["origins"]] == [("conv1", "global")]
    assert j["totals"]["delta_params"] == 0 and j["totals"]["delta_activations"] > 0


def test_table_names_the_changes_and_the_cost(capsys):
    code, out, _ = run(capsys, "diff", "squeezenet1_0", "--set", "input=3x480x640",
                       "squeezenet1_0", "--set", "input=3x1440x1920")
    assert code == 0
    assert "where the changes originate" in out and "global" in out and "local" not in out
    assert "communication per data-parallel step" in out and "(+0, x1)" in out
    code, out, _ = run(capsys, "diff", "squeezenet1_1", "squeezenet1_1")
    assert code == 0 and "no difference" in out


def test_spec_files(capsys, tmp_path):
    a = get_spec("squeezenet1_1", input=(3, 32, 32))
    save(a, tmp_path / "a.yaml")
    save(get_spec("squeezenet1_1", input=(3, 32, 32), num_classes=10), tmp_path / "b.json")
    code, out, _ = run(capsys, "diff", str(tmp_path / "a.yaml"), str(tmp_path / "b.json"),
                       "--format", "json", "--bits", "8")
    j = json.loads(out)
    assert code == 0 and j["bits"] == 8
    assert j["totals"]["delta_comm_bytes"] == j["totals"]["delta_params"] < 0


@pytest.mark.parametrize("argv, words", [
    (["diff", "nonet", "firenet"], "error: A (nonet): 'nonet' is neither a registered model"),
    (["diff", "firenet", "firenet", "--set", "sr=7"],
     "error: B (firenet --set sr=7): field 'sr': expected a squeeze ratio"),
    (["diff", "firenet", "--set", "sr=7", "firenet"], "error: A (firenet --set sr=7): "),
    (["diff", "firenet", "firenet", "--set", "wings=2"], "no setting 'wings'"),
    (["diff", "firenet", "firenet", "--input", "3x10x10"], "error: A (firenet): layer 'pool"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and words in err and len(err.strip().splitlines()) == 1


def test_set_before_any_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["diff", "--set", "sr=0.5", "firenet", "firenet"])
    assert e.value.code == 2 and "name a model first" in capsys.readouterr().err
