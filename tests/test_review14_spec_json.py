"""JSON specs as JSON reads them. YAML reads most JSON, but refuses tabs between tokens
(``json.dump(indent="\\t")``, many editors) and reads an escaped surrogate pair (how
``json.dump`` and ``dumps(spec, "json")`` write any character beyond U+FFFF) as two unpaired
halves: an emoji in a name came back refused, in a description garbled."""
import json

import pytest

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.spec import Layer, NetSpec, SpecError, dumps, load, loads, save, to_dict


def test_a_tab_indented_json_file_reads(tmp_path, capsys):
    spec = get_spec("squeezenet1_1")
    path = tmp_path / "net.json"
    path.write_text(json.dumps(to_dict(spec), indent="\t"))
    assert load(path) == spec
    assert main(["analyze", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["params"] == 1_235_496


@pytest.mark.parametrize("spec", [
    NetSpec("net", (3, 8, 8), [Layer("r", "relu")], description="emoji \U0001F600"),
    NetSpec("net\U0001F600", (3, 8, 8), [Layer("r", "relu")]),
    NetSpec("net", (3, 8, 8), [Layer("r\U00010000", "relu")], meta={"\U0001F600": "\U0001F600"}),
], ids=["description", "network name", "layer name and meta"])
def test_characters_beyond_the_basic_plane_survive_a_json_file(spec, tmp_path):
    path = tmp_path / "net.json"
    save(spec, path)
    assert "\\ud83d" in path.read_text() or "\\ud800" in path.read_text()  # as json writes them
    assert load(path) == spec
    assert loads(dumps(spec, "json")) == spec


def test_a_byte_order_mark_before_json_is_read_past():
    text = "\ufeff" + json.dumps(to_dict(get_spec("alexnet")), indent="\t")
    assert loads(text) == get_spec("alexnet")


def test_a_key_given_twice_in_json_is_still_refused():
    text = '{"name": "t",\n "input": [3, 8, 8],\n "name": "u", "layers": []}'
    with pytest.raises(SpecError, match="line 3: key 'name' is given twice"):
        loads(text, "twice.json")
    # YAML cannot read a tab-indented file to name the lines: the key, not the tabs, is wrong
    with pytest.raises(SpecError, match="twice.json: not valid YAML/JSON: key 'name' is given "
                                        "twice$"):
        loads(text.replace("\n ", "\n\t"), "twice.json")


def test_nan_in_json_reads_as_before_and_a_field_refuses_it():
    text = json.dumps({"name": "t", "input": [3, 8, 8],
                       "layers": [{"name": "b", "type": "batchnorm", "eps": float("nan")}]})
    with pytest.raises(SpecError, match="layer 'b': field 'eps': expected a finite number"):
        loads(text)


def test_yaml_written_in_braces_is_still_yaml():
    spec = loads("{name: t, input: [3, 8, 8], layers: [{name: c, type: conv2d, "
                 "out_channels: 4, kernel: 3, bias: false}]}")
    assert spec.layers[0].attrs == {"out_channels": 4, "kernel": 3, "bias": False}


def test_json_nested_too_deep_is_refused_as_yaml_refuses_it():
    text = ('{"name": "t", "input": [3, 8, 8], "meta": {"x": ' + "[" * 5000 + "]" * 5000
            + '}, "layers": [{"name": "r", "type": "relu"}]}')
    with pytest.raises(SpecError, match="nested"):
        loads(text)
