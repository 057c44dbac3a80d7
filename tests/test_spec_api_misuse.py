"""Specs made in Python or written by hand with the wrong kinds of values: each is a SpecError
naming the field, never a TypeError or AttributeError from inside."""
import json
import re

import pytest

from cnnspace.spec import Layer, NetSpec, SpecError, dumps, from_dict, loads, resolve


def _net(**kw):
    return NetSpec("x", (3, 8, 8), kw.pop("layers", [Layer("c", "relu")]), **kw)


@pytest.mark.parametrize("make, field", [
    (lambda: _net(layers=[Layer("c", "conv2d", attrs={"kernel": 3, "out_channels": 4, 5: 1,
                                                      "a": 2})]), "5"),
    (lambda: _net(layers=None), "layers"),
    (lambda: _net(layers=[Layer("c", "relu", attrs=[1])]), "attrs"),
    (lambda: _net(meta=[1]), "meta"),
])
def test_wrong_kinds_of_values_in_python_are_spec_errors(make, field):
    with pytest.raises(SpecError, match=f"field '{field}'"):
        resolve(make())


def test_none_is_the_default_for_inputs_and_outputs():
    spec = _net(layers=[Layer("c", "relu", inputs=None)], outputs=None)
    assert spec.layers[0].inputs == () and spec.outputs == ()
    assert resolve(spec).outputs == ("c",)


def test_a_single_output_name_reads_from_a_file_as_inputs_do():
    spec = from_dict({"name": "x", "input": [3, 8, 8], "outputs": "c",
                      "layers": [{"name": "c", "type": "relu", "inputs": "input"}]})
    assert spec.outputs == ("c",)


@pytest.mark.parametrize("meta, where", [
    ("{when: 2024-01-01}", "meta.when"), ("{s: !!set {a, b}}", "meta.s"),
    ("{deep: [1, {b: !!binary aGVsbG8=}]}", "meta.deep[1].b"), ("{1: x}", "meta"),
    ("{x: .nan}", "meta.x")])
def test_meta_holds_plain_data_that_yaml_and_json_both_write(meta, where):
    # anything else would write as YAML but not as JSON (`spec -o net.json`), or not read back
    text = f"name: x\ninput: [3, 8, 8]\nmeta: {meta}\nlayers:\n  - {{name: c, type: relu}}\n"
    with pytest.raises(SpecError, match=re.escape(f"m.yaml: field {where!r}: ")):
        loads(text, "m.yaml")


def test_plain_meta_round_trips_through_json():
    text = ("name: x\ninput: [3, 8, 8]\nmeta: {a: [1, 2.5, null, true, {b: c}]}\n"
            "layers:\n  - {name: c, type: relu}\n")
    spec = loads(text)
    assert loads(dumps(spec, "json")) == spec
    assert json.loads(dumps(spec, "json"))["meta"] == {"a": [1, 2.5, None, True, {"b": "c"}]}


def test_numpy_booleans_and_arrays_are_plain_values():
    import numpy as np
    spec = _net(layers=[Layer("c", "conv2d", attrs={"kernel": np.array([3, 1]), "out_channels": 4,
                                                    "bias": np.bool_(False)})])
    attrs = resolve(spec).nodes[0].attrs
    assert attrs["kernel"] == (3, 1) and attrs["bias"] is False
    assert loads(dumps(spec)) == spec  # and YAML writes them


def test_numpy_integers_are_a_batch_and_a_width():
    import numpy as np
    from cnnspace import analyze
    a = analyze(_net(), batch=np.int64(4), bits=np.int32(8))
    assert (a.batch, a.bits) == (4, 8) and type(a.batch) is int
    assert a.totals == analyze(_net(), batch=4, bits=8).totals
