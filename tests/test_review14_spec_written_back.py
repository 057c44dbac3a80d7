"""A spec made in Python is written only as it reads back: a description that is no string or
metadata a file cannot hold (NaN, an object) is refused by name, not written to a file or a
checkpoint that then does not load (or raised a RepresenterError from inside PyYAML); and a
layer type that is no string is a SpecError, not a TypeError."""
import math

import pytest

from cnnspace import analyze
from cnnspace.spec import Layer, NetSpec, SpecError, dumps, load, loads, save, to_dict


def _net(**kw):
    return NetSpec("n", (3, 8, 8), kw.pop("layers", [Layer("r", "relu")]), **kw)


@pytest.mark.parametrize("description", [5, ["a"], b"bytes"])
def test_a_description_that_is_no_string_is_refused_where_it_is_made(description):
    with pytest.raises(SpecError, match="field 'description': expected a string"):
        _net(description=description)


def test_no_description_is_an_empty_one():
    spec = _net(description=None)
    assert spec.description == "" and loads(dumps(spec)) == spec


@pytest.mark.parametrize("meta, where", [
    ({"x": math.nan}, "meta.x"), ({"x": math.inf}, "meta.x"), ({"x": object()}, "meta.x"),
    ({"a": {"b": [1, math.nan]}}, r"meta.a.b\[1\]"), ({3: "x"}, "meta"),
    ({"x": {1, 2}}, "meta.x")])
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_metadata_a_file_cannot_hold_is_refused_by_its_key(meta, where, fmt, tmp_path):
    spec = _net(meta=meta)
    analyze(spec)  # the network itself is sound
    with pytest.raises(SpecError, match=f"field '{where}': "):
        dumps(spec, fmt)
    with pytest.raises(SpecError, match=f"field '{where}': "):
        save(spec, tmp_path / f"net.{fmt}")
    assert not (tmp_path / f"net.{fmt}").exists()
    with pytest.raises(SpecError, match=f"field '{where}': "):
        to_dict(spec)  # what a checkpoint stores


def test_metadata_of_plain_data_is_written_and_read_back(tmp_path):
    spec = _net(meta={"a": (1, 2.5, None, True), "b": {"c": "1e3"}, "big": 10**30})
    for suffix in ("yaml", "json"):
        save(spec, tmp_path / f"net.{suffix}")
        assert load(tmp_path / f"net.{suffix}") == spec


def test_a_layer_field_yaml_cannot_write_is_refused_by_layer_and_field():
    spec = _net(layers=[Layer("c", "conv2d", attrs={"out_channels": 4, "kernel": object()})])
    with pytest.raises(SpecError, match="layer 'c': field 'kernel': expected plain data"):
        dumps(spec)


def test_an_invalid_but_writable_field_is_written_for_the_user_to_fix():
    spec = _net(layers=[Layer("b", "batchnorm", attrs={"eps": math.nan})])
    assert "eps: .nan" in dumps(spec)
    with pytest.raises(SpecError, match="layer 'b': field 'eps': expected a finite number"):
        loads(dumps(spec))


def test_to_dict_of_what_is_no_spec_says_so():
    with pytest.raises(SpecError, match="expected a NetSpec, got str: a model name"):
        to_dict("squeezenet1_1")


@pytest.mark.parametrize("kind", [["relu"], 5, None, {"t": "relu"}])
def test_a_layer_type_that_is_no_string_is_a_spec_error(kind):
    with pytest.raises(SpecError, match="layer 'r': field 'type': expected a layer type's name"):
        analyze(_net(layers=[Layer("r", kind)]))


@pytest.mark.parametrize("key", ["description", "meta"])
def test_a_description_or_meta_left_empty_in_a_file_is_none(key):
    spec = loads(f"name: t\ninput: [3, 8, 8]\n{key}:\nlayers:\n  - {{name: r, type: relu}}\n")
    assert spec.description == "" and spec.meta == {}


def test_an_init_left_empty_lists_the_schemes():
    with pytest.raises(SpecError, match="field 'init': unknown init scheme None; choose one of "
                                        "kaiming_uniform"):
        loads("name: t\ninput: [3, 8, 8]\ninit:\nlayers:\n  - {name: r, type: relu}\n")


@pytest.mark.parametrize("written, hint", [
    ("name: 1e3", True), ("name: true", True), ("name: 12", True), ("name:", False),
    ("type: relu", False)])
def test_a_layer_name_yaml_read_as_a_value_gets_the_advice_to_quote_it(written, hint):
    text = f"name: t\ninput: [3, 8, 8]\nlayers:\n  - {{{written}, type: relu}}\n".replace(
        "type: relu, type: relu", "type: relu")
    with pytest.raises(SpecError, match="needs a non-empty string 'name'") as e:
        loads(text)
    assert ("put such a name in quotes" in str(e.value)) is hint
