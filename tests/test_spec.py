"""Specs: round trips, shape inference at any size, and errors that name the layer and field."""
import json

import numpy as np
import pytest
import yaml

from cnnspace import spec as S
from cnnspace.cli import main
from cnnspace.zoo import get_spec, list_models


def net(*layers, input=(3, 32, 32), **kw):
    return S.from_dict({"name": "t", "input": list(input), "layers": list(layers), **kw})


@pytest.mark.parametrize("model", list_models())
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_is_lossless(model, fmt):
    spec = get_spec(model)
    again = S.loads(S.dumps(spec, fmt))
    assert again == spec
    assert S.dumps(again, fmt) == S.dumps(spec, fmt)


@pytest.mark.parametrize("name", ["1e3", "1E3", "1e-3", "2e+10", "10e5", "yes", "010", "1:0"])
def test_names_that_read_as_numbers_round_trip_as_text(name):
    # A Caffe layer named "1e3" was written bare and read back as 1000.0: the file `import -o`
    # wrote could not be read ("expected a non-empty string, got 1000.0").
    spec = S.NetSpec("n", (3, 8, 8), (S.Layer(name, "relu"),))
    assert S.loads(S.dumps(spec)) == spec


def test_file_round_trip(tmp_path):
    spec = get_spec("squeezenet1_1", num_classes=10, input="1x32x32")
    for suffix in (".yaml", ".json"):
        path = tmp_path / f"s{suffix}"
        S.save(spec, path)
        assert S.load(path) == spec
    json.loads((tmp_path / "s.json").read_text())
    # a name load() would read as another format (Caffe) or not at all is refused, not written
    for name in ("s.prototxt", "s"):
        with pytest.raises(S.SpecError, match=f"{name}: a spec is written as .yaml, .yml or .json"):
            S.save(spec, tmp_path / name)
        assert not (tmp_path / name).exists()


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(S.SpecError, match="evil.yaml"):
        S.load(path)


def test_exponents_without_a_dot_are_numbers_as_in_json(tmp_path):
    # PyYAML (YAML 1.1) reads 1e-5 as the text '1e-5'; users write it so, as JSON does.
    path = tmp_path / "bn.yaml"
    path.write_text("name: bn\ninput: [3, 8, 8]\nlayers:\n"
                    "  - {name: c, type: conv2d, out_channels: 4, kernel: 3}\n"
                    "  - {name: n, type: batchnorm, eps: 1e-3, momentum: 5E-2}\n")
    attrs = S.load(path).resolve().node("n").attrs
    assert attrs["eps"] == 0.001 and attrs["momentum"] == 0.05
    path.write_text(path.read_text().replace("eps: 1e-3", "eps: '1e-3'"))  # quoted: text
    with pytest.raises(S.SpecError, match="field 'eps'"):
        S.load(path)


def _conv_file(tmp_path, conv: str, more: str = ""):
    """A spec file of one conv layer c with the fields ``conv``, then the layers ``more``."""
    path = tmp_path / "c.yaml"
    path.write_text("name: c\ninput: [3, 8, 8]\nlayers:\n"
                    f"  - {{name: c, type: conv2d, kernel: 1, {conv}}}\n{more}")
    return path


@pytest.mark.parametrize("written", ["010", "064", "1:0", "-07"])
def test_yaml_1_1_octal_and_base_60_integers_are_refused_not_converted(tmp_path, written):
    # PyYAML (YAML 1.1) read `out_channels: 010` as 8 and `1:0` as 60 without a word; YAML 1.2
    # and JSON have neither form. They stay text, which the field refuses by name.
    with pytest.raises(S.SpecError, match=f"field 'out_channels'.*got '{written}'"):
        S.load(_conv_file(tmp_path, f"out_channels: {written}"))
    path = _conv_file(tmp_path, "out_channels: 4",
                      "  - {name: n, type: batchnorm, eps: 1:0.5}\n")  # YAML 1.1: 60.5
    with pytest.raises(S.SpecError, match="field 'eps'.*got '1:0.5'"):
        S.load(path)


@pytest.mark.parametrize("written", ["yes", "No", "off", "ON", "y"])
def test_yaml_1_1_booleans_other_than_true_and_false_are_refused(tmp_path, written):
    # PyYAML (YAML 1.1) read `bias: off` as false and built a conv without a bias; YAML 1.2 and
    # JSON read only true and false as booleans.
    with pytest.raises(S.SpecError, match=f"layer 'c'.*field 'bias'.*got '{written}'"):
        S.load(_conv_file(tmp_path, f"out_channels: 4, bias: {written}"))
    path = _conv_file(tmp_path, "out_channels: 4, bias: False")
    assert S.load(path).resolve().node("c").attrs["bias"] is False


@pytest.mark.parametrize("written, value", [("16", 16), ("+16", 16), ("1_024", 1024),
                                            ("0x10", 16), ("0", 0), ("-3", -3),
                                            ("0.5", 0.5), ("010.5", 10.5), ("1e3", 1000.0)])
def test_plain_numbers_read_as_before(written, value):
    from cnnspace._yaml_file import safe_load
    assert safe_load(f"v: {written}") == {"v": value}


@pytest.mark.parametrize("written, shown", [("0", "got 0$"), ("-1", "got -1$"),
                                             ("[3]", r"got \[3\]$"), ("[3, 0]", r"got \[3, 0\]$")])
def test_a_bad_size_is_shown_as_written(written, shown):
    # `kernel: 0` was reported as "got (0, 0)", `[3]` as "got (3,)"
    with pytest.raises(S.SpecError, match=shown):
        S.from_dict({"name": "t", "input": [3, 8, 8], "layers": [
            {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": yaml.safe_load(written)}]})


def test_non_square_kernel_stride_padding_dilation_groups():
    g = net({"name": "c", "type": "conv2d", "out_channels": 8, "kernel": [3, 5], "stride": [1, 2],
             "padding": [1, 0], "dilation": [2, 1], "groups": 1},
            {"name": "g", "type": "conv2d", "out_channels": 16, "kernel": 1, "groups": 4},
            input=(3, 20, 31)).resolve()
    # H: (20 + 2 - 2*(3-1) - 1) / 1 + 1 = 18; W: (31 - 5) // 2 + 1 = 14
    assert g.node("c").out_shape == (8, 18, 14)
    assert g.node("g").out_shape == (16, 18, 14)


@pytest.mark.parametrize("ceil,size,expected", [(False, 112, 55), (True, 112, 56), (True, 111, 55),
                                                (False, 13, 6), (True, 13, 6), (True, 14, 7)])
def test_pool_rounding(ceil, size, expected):
    g = net({"name": "p", "type": "maxpool", "kernel": 3, "stride": 2, "ceil_mode": ceil},
            input=(4, size, size)).resolve()
    assert g.node("p").out_shape == (4, expected, expected)


def test_ceil_rounding_drops_a_window_that_starts_in_the_padding():
    # torch and Caffe: (5 + 2*1 - 2) / 2 ceil -> 4 windows, but the 4th would start at 6 >= 5 + 1.
    g = net({"name": "p", "type": "avgpool", "kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True},
            input=(1, 5, 5)).resolve()
    assert g.node("p").out_shape == (1, 3, 3)


@pytest.mark.parametrize("kernel,stride,size,expected", [(6, 5, 5, 1), (5, 3, 4, 1), (4, 4, 3, 1)])
def test_ceil_rounding_keeps_one_window_larger_than_the_input(kernel, stride, size, expected):
    # torch and Caffe: ceil((size - kernel) / stride) + 1 windows; ceil(-1/5) + 1 = 1, the window
    # starting at 0 and running past the input's end (torch.nn.MaxPool2d agrees).
    g = net({"name": "p", "type": "maxpool", "kernel": kernel, "stride": stride, "ceil_mode": True},
            input=(1, size, size)).resolve()
    assert g.node("p").out_shape == (1, expected, expected)


def test_output_sizes_are_exact_up_to_the_largest_input():
    g = net({"name": "p", "type": "maxpool", "kernel": [2, 1], "ceil_mode": True},
            input=(1, S.MAX_SIZE, 5)).resolve()
    assert g.node("p").out_shape == (1, (S.MAX_SIZE + 1) // 2, 5)


@pytest.mark.parametrize("layer", [
    {"name": "p", "type": "maxpool", "kernel": 6, "stride": 1, "ceil_mode": True},   # ceil(-1) + 1
    {"name": "p", "type": "maxpool", "kernel": 6, "stride": 5},                      # floor
    {"name": "p", "type": "conv2d", "out_channels": 1, "kernel": 6, "stride": 5}])
def test_a_window_that_leaves_no_output_is_refused(layer):
    with pytest.raises(S.SpecError, match="field .kernel.: window of 6.*output size would be <= 0"):
        net(layer, input=(1, 5, 5)).resolve()


def test_shape_inference_at_any_input_size():
    spec = get_spec("squeezenet1_1")
    for hw in (32, 97, 224, 513):
        g = spec.resolve((3, hw, hw))
        assert g.output_shapes() == [(1000,)]
    assert get_spec("squeezenet1_1", input=(3, 480, 640)).resolve().node("conv10").out_shape == (1000, 29, 39)


def test_blocks_expand_to_named_layers():
    g = net({"name": "f", "type": "fire", "squeeze": 4, "expand1x1": 8, "expand3x3": 6}).resolve()
    names = [n.name for n in g.nodes]
    assert names[-1] == "f" and g.node("f").type == "concat"
    assert "f/squeeze1x1" in names and all(n.block == "f" for n in g.nodes)
    assert g.node("f").out_shape == (14, 32, 32)


def test_explicit_inputs_and_outputs():
    g = net({"name": "a", "type": "conv2d", "out_channels": 4, "kernel": 1},
            {"name": "b", "type": "conv2d", "out_channels": 4, "kernel": 1, "inputs": ["input"]},
            {"name": "sum", "type": "add", "inputs": ["a", "b"]},
            outputs=["sum", "a"]).resolve()
    assert g.outputs == ("sum", "a")


BAD = [
    ({"name": "c", "type": "conv2d", "kernel": 3}, "c", "out_channels", "required"),
    ({"name": "c", "type": "conv2d", "out_channels": -1, "kernel": 3}, "c", "out_channels", "positive"),
    ({"name": "c", "type": "conv2d", "out_channels": 4, "kernel": "3"}, "c", "kernel", "positive integer"),
    ({"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 3, "wat": 1}, "c", "wat", "unknown field"),
    ({"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 3, "groups": 2}, "c", "groups", "divide"),
    ({"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 99}, "c", "kernel", "<= 0"),
    ({"name": "c", "type": "convolution"}, "c", "type", "unknown layer type"),
    ({"name": "c", "type": "relu", "inputs": ["nowhere"]}, "c", "inputs", "not a layer"),
    ({"name": "c", "type": "concat", "inputs": []}, "c", "inputs", "an empty list"),
    ({"name": "d", "type": "dropout", "p": 1.5}, "d", "p", "probability"),
    ({"name": "l", "type": "linear", "out_features": 3}, "l", "inputs", "flatten"),
    ({"name": "p", "type": "maxpool", "kernel": 2, "padding": 2}, "p", "padding", "half the kernel"),
]


@pytest.mark.parametrize("layer,where,field,text", BAD)
def test_bad_layers_name_layer_and_field(layer, where, field, text):
    with pytest.raises(S.SpecError) as e:
        net(layer).resolve()
    assert e.value.layer == where and e.value.field == field
    assert text in str(e.value) and repr(where) in str(e.value)


def test_channel_mismatch_at_concat_and_add():
    base = [{"name": "a", "type": "conv2d", "out_channels": 4, "kernel": 1},
            {"name": "b", "type": "conv2d", "out_channels": 6, "kernel": 3, "inputs": ["input"]}]
    with pytest.raises(S.SpecError, match="'s'.*equal shapes"):
        net(*base, {"name": "s", "type": "add", "inputs": ["a", "b"]}).resolve()
    with pytest.raises(S.SpecError, match="'c'.*all but the channel"):
        net(*base, {"name": "c", "type": "concat", "inputs": ["a", "b"]}).resolve()


def test_cycle_is_reported_with_its_path():
    with pytest.raises(S.SpecError, match="cycle: .*a.*b.*a|cycle: .*b.*a.*b"):
        net({"name": "a", "type": "relu", "inputs": ["b"]},
            {"name": "b", "type": "relu", "inputs": ["a"]}).resolve()


@pytest.mark.parametrize("doc,field", [
    ({"name": "t", "input": [3, 32], "layers": []}, "input"),
    ({"name": "t", "input": [3, 32, 32]}, "layers"),
    ({"name": "t", "input": [3, 32, 32], "layers": [], "extra": 1}, "extra"),
    ({"name": "t", "input": [3, 32, 32], "layers": [{"type": "relu"}]}, "name"),
    ({"name": "t", "input": [3, 32, 32], "layers": [{"name": "x", "type": "relu"}] * 2}, "name"),
    ({"name": "t", "input": [3, 32, 32], "layers": [{"name": "input", "type": "relu"}]}, "name"),
    ({"name": "t", "input": [3, 32, 32], "layers": [{"name": "a.b", "type": "relu"}]}, "name"),
])
def test_bad_documents(doc, field):
    with pytest.raises(S.SpecError) as e:
        S.from_dict(doc, source="net.yaml").resolve()
    assert e.value.field == field and "net.yaml" in str(e.value)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(S.SpecError, match="cannot read"):
        S.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(S.SpecError, match="bad.yaml.*not valid YAML/JSON: line 2, column 1: ") as e:
        S.load(bad)
    assert "\n" not in str(e.value)  # PyYAML's several lines and caret, as one line
    bad.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(S.SpecError, match="mapping"):
        S.load(bad)


@pytest.mark.parametrize("text, problem", [
    ("name: 2024-13-45\ninput: [3, 8, 8]\nlayers: []\n", "month must be in 1..12"),
    ("name: x\ninput: [3, 8, " + "9" * 5000 + "]\nlayers: []\n", "Exceeds the limit (4300 digits)"),
    ('{"name": "x", "input": [3, 8, ' + "9" * 5000 + '], "layers": []}', "4300 digits"),
])
def test_values_yaml_reads_but_python_cannot_hold_are_one_line(tmp_path, text, problem):
    # a date YAML recognises but the calendar lacks, an integer longer than Python converts
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    with pytest.raises(S.SpecError, match="odd.yaml: not valid YAML/JSON: ") as e:
        S.load(path)
    assert problem in str(e.value) and "set_int_max_str_digits" not in str(e.value)


# -- specs are values: immutable all the way down, hashable, picklable -----------------------

def _conv(kernel, **kw):
    return S.Layer("c", "conv2d", attrs={"out_channels": 8, "kernel": kernel, **kw})


def test_specs_pickle_copy_and_hash_as_values():
    import copy
    import pickle

    spec = get_spec("squeezenet1_1")
    S.resolve(spec)  # fills the spec's process-local cache
    for again in (pickle.loads(pickle.dumps(spec)), copy.deepcopy(spec), copy.copy(spec)):
        assert again == spec and hash(again) == hash(spec)
        assert "_prepared" not in again.__dict__ and "_graph" not in again.__dict__
        assert S.resolve(again).output_shapes() == [(1000,)]
    assert {spec: 1}[get_spec("squeezenet1_1")] == 1
    graph = S.resolve(spec)
    assert pickle.loads(pickle.dumps(graph)) == graph and hash(graph.nodes[0]) is not None


_PICKLE_ANALYSED = ("import pickle, sys; from cnnspace import analyze, get_spec; "
                    "spec = get_spec('squeezenet1_1'); analyze(spec); "
                    "sys.stdout.buffer.write(pickle.dumps(spec))")
_UNPICKLE_ELSEWHERE = ("import pickle, sys; from cnnspace import analyze, get_spec; "
                       "[analyze(get_spec(m, input=(3, 224, 224))) for m in "
                       "('alexnet', 'squeezenet1_0', 'firenet')]; "
                       "spec = pickle.loads(sys.stdin.buffer.read()); "
                       "print(analyze(spec).to_json() == analyze(get_spec('squeezenet1_1'))"
                       ".to_json())")


def test_a_spec_analysed_in_one_process_analyses_right_in_another():
    # Cached resolution tokens mean something in their process only: another process that
    # analysed other networks first gives the same tokens to other layers.
    import subprocess
    import sys

    pickled = subprocess.run([sys.executable, "-c", _PICKLE_ANALYSED], capture_output=True,
                             check=True).stdout
    out = subprocess.run([sys.executable, "-c", _UNPICKLE_ELSEWHERE], input=pickled,
                         capture_output=True, check=True).stdout
    assert out.decode().strip() == "True"


def test_nested_values_are_frozen_when_a_spec_is_built():
    kernel, meta = [3, 3], {"settings": {"widths": [1, 2]}}
    spec = S.NetSpec("t", [3, 16, 16], [_conv(kernel)], meta=meta)
    before = S.resolve(spec).node("c").out_shape
    kernel[1], meta["settings"]["widths"][0] = 5, 9
    assert spec.layers[0].attrs["kernel"] == (3, 3) and spec.meta["settings"]["widths"] == (1, 2)
    assert S.resolve(spec).node("c").out_shape == before == (8, 14, 14)
    assert spec != S.NetSpec("t", [3, 16, 16], [_conv([3, 5])], meta=meta)
    assert spec.input == (3, 16, 16)
    with pytest.raises(TypeError):
        spec.meta["settings"]["x"] = 1
    # Written out as plain lists and dicts, and read back equal.
    d = S.to_dict(spec)
    assert d["layers"][0]["kernel"] == [3, 3] and d["meta"] == {"settings": {"widths": [1, 2]}}
    assert type(d["meta"]["settings"]) is dict
    assert S.loads(S.dumps(spec, "json")) == spec == S.loads(S.dumps(spec))


def test_frozen_map_is_a_read_only_dict():
    import pickle

    m = S.FrozenMap({"a": [1, {"b": 2}]})
    assert m == {"a": (1, {"b": 2})} and repr(m) == "{'a': (1, {'b': 2})}"
    assert hash(m) == hash(S.FrozenMap({"a": (1, S.FrozenMap({"b": 2}))}))
    assert pickle.loads(pickle.dumps(m)) == m and S.thaw(m) == {"a": [1, {"b": 2}]}


def test_a_single_name_is_one_input_or_output():
    spec = S.NetSpec("t", (3, 8, 8), [_conv(1), S.Layer("r", "relu", inputs="c")], outputs="r")
    assert spec.layers[1].inputs == ("c",) and spec.outputs == ("r",)
    assert S.resolve(spec).outputs == ("r",)


def test_input_sizes_are_parsed_everywhere():
    from cnnspace import analyze

    spec = S.NetSpec("t", (1, 16, 16), [_conv(3)])
    assert spec.with_input("3x32x32").input == (3, 32, 32)
    assert spec.with_input("20x24").input == (1, 20, 24)  # keeps the spec's channels
    assert spec.with_input([2, 8, 8]).input == (2, 8, 8)
    assert S.NetSpec("t", "3x16x16", [_conv(3)]).input == (3, 16, 16)
    assert spec.with_input((20, 24)).input == (1, 20, 24)  # HxW as a list, as in a YAML file
    for bad in ((16,), (1, 16, 16, 16), "3x16x", "big", [3, 0, 16]):
        with pytest.raises(S.SpecError) as e:
            spec.with_input(bad)
        assert e.value.field == "input"
    assert analyze(spec, "3x64x64").input == (3, 64, 64)
    assert S.resolve(spec, "64x64").node("c").out_shape == (8, 62, 62)
    assert S.resolve(spec, (64, 64)).node("c").out_shape == (8, 62, 62)


def test_numpy_integers_are_integers():
    spec = S.NetSpec("t", (np.int64(3), 16, 16),
                     [_conv(np.int32(3), stride=[np.int64(1), 1]),
                      S.Layer("d", "dropout", attrs={"p": np.float32(0.25)})])
    graph = S.resolve(spec, [np.int64(3), np.int64(20), 20])
    assert graph.node("c").out_shape == (8, 18, 18) and graph.node("d").attrs["p"] == 0.25
    assert type(graph.node("c").attrs["kernel"][0]) is int and type(spec.input[0]) is int
    assert type(graph.input_shape[1]) is int
    assert S.loads(S.dumps(spec)) == spec


@pytest.mark.parametrize("kw, field", [({"name": 3}, "name"), ({"name": ""}, "name"),
                                       ({"init": "foo"}, "init")])
def test_name_and_init_are_checked(kw, field):
    with pytest.raises(S.SpecError) as e:
        S.NetSpec(**{"name": "t", "input": (3, 8, 8), "layers": [_conv(1)], **kw})
    assert e.value.field == field


def test_an_unknown_init_is_refused_on_loading():
    text = S.dumps(get_spec("squeezenet1_1")).replace("init: kaiming_uniform", "init: foo")
    with pytest.raises(S.SpecError, match="net.yaml: field 'init': unknown init scheme 'foo'"):
        S.loads(text, "net.yaml")


def test_init_schemes_are_the_ones_nn_builds():
    from cnnspace.nn import INIT_SCHEMES
    from cnnspace.spec._graph import INIT_SCHEMES as NAMES
    assert sorted(NAMES) == sorted(INIT_SCHEMES)


def test_unknown_output_format():
    with pytest.raises(S.SpecError, match="'format'.*toml"):
        S.dumps(get_spec("squeezenet1_1"), "toml")


def test_layers_must_be_layer_objects():
    with pytest.raises(S.SpecError, match="Layer objects, got a dict") as e:
        S.NetSpec("t", (3, 8, 8), [{"name": "r", "type": "relu"}])
    assert e.value.field == "layers"


def test_loading_a_checkpoint_as_a_spec_says_where_its_network_is(tmp_path):
    path = tmp_path / "best.pt"
    path.write_bytes(b"PK\x03\x04\xff\xfe binary")
    with pytest.raises(S.SpecError, match="not a text file: a training checkpoint\\? "
                       "cnnspace.train.load_checkpoint"):
        S.load(path)


def test_suffixes_are_read_in_any_case(tmp_path, capsys):
    # files named on Windows or by cameras' conventions: NET.PROTOTXT, SQ.YAML, SQ.JSON
    from cnnspace.cli import main
    spec = get_spec("squeezenet1_1", input="3x32x32")
    for name in ("SQ.YAML", "SQ.JSON"):
        S.save(spec, tmp_path / name)
        assert S.load(tmp_path / name) == spec
    assert (tmp_path / "SQ.JSON").read_text().startswith("{")
    caffe = tmp_path / "NET.PROTOTXT"
    caffe.write_text('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
                     'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n')
    assert S.load(caffe).layers[0].type == "relu"
    assert main(["import", str(caffe)]) == 0 and "name: NET" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["layer", "network"])
def test_names_with_terminal_escape_codes_are_refused(capsys, tmp_path, where):
    # A layer named "\x1b]0;pwned\x07\x1b[31m" analysed, and analyze's table sent the codes to
    # the terminal: its title changed and its text turned red.
    code = "x\x1b]0;pwned\x07\x1b[31m"
    layers = [{"name": code if where == "layer" else "fc", "type": "linear",
               "out_features": 2}, {"name": "flat", "type": "flatten"}]
    spec = {"name": code if where == "network" else "n", "input": [1, 2, 2],
            "layers": [layers[1], layers[0]]}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    assert main(["analyze", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "printable" in err and "\x1b" not in out + err and "\\x1b" in err


def test_a_spec_keeps_its_last_graph_and_resolves_other_inputs_afresh():
    spec = get_spec("squeezenet1_1")
    graph = S.resolve(spec)
    assert S.resolve(spec) is graph and S.resolve(spec, "3x224x224") is graph
    small = S.resolve(spec, "3x64x64")
    assert small.input_shape == (3, 64, 64) and small.output_shapes() == [(1000,)]
    assert S.resolve(spec, "3x64x64") is small and S.resolve(spec) is not small
    assert S.resolve(spec) == graph
