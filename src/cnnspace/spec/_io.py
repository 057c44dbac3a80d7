"""Specs to and from plain data, YAML and JSON (safe loading only); round trips are lossless."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import yaml

from .._atomic import write_text_atomic
from .._yaml_file import MAX_DEPTH, Refused, safe_dump, safe_load, yaml_problem
from ._caffe import from_prototxt
from ._errors import SpecError
from ._frozen import thaw
from ._graph import Layer, NetSpec, _check_input_shape, not_a_spec
from ._onnx import from_onnx
from ._resolve import resolve

_TOP_KEYS = ("name", "input", "layers", "outputs", "init", "description", "meta")


def to_dict(spec: NetSpec) -> dict[str, Any]:
    """``spec`` as plain data (lists, dicts) that ``from_dict`` reads back, as YAML/JSON hold it.
    Metadata that ``from_dict`` would refuse (NaN, objects of other types) is refused here, by
    its key, rather than written to a file (or a checkpoint) that does not read back; so are
    layer fields that YAML and JSON cannot write at all."""
    if not isinstance(spec, NetSpec):
        raise not_a_spec(spec)
    d: dict[str, Any] = {"name": spec.name, "input": thaw(spec.input)}
    if spec.description:
        d["description"] = spec.description
    d["init"] = spec.init
    if spec.meta:
        d["meta"] = thaw(spec.meta)
        _check_plain(d["meta"], "meta", mapping=True)
    layers = []
    for layer in spec.layers:
        entry: dict[str, Any] = {"name": _text(layer.name), "type": _text(layer.type)}
        if layer.inputs:
            entry["inputs"] = [_text(i) for i in layer.inputs]
        for key, value in layer.attrs.items():
            value = entry[key] = thaw(value)
            try:
                _check_plain(value, key, finite=False)
            except SpecError as e:
                raise e.located(layer=layer.name) from None
        layers.append(entry)
    d["layers"] = layers
    if spec.outputs:
        d["outputs"] = list(spec.outputs)
    return d


def _text(value: Any) -> Any:
    """A str of a subclass (an enum's member) as the plain str YAML and JSON write."""
    return str.__str__(value) if isinstance(value, str) and type(value) is not str else value


def from_dict(d: Any, source: str | None = None) -> NetSpec:
    """Builds a NetSpec from plain data and validates it completely (fields, graph, shapes at its
    own input size); any problem raises SpecError naming ``source``, the layer and the field."""
    try:
        spec = _from_dict(d)
    except SpecError as e:
        raise e.located(source=source) from None
    return validated(spec, source)


def other_file_kind(d: dict, expected: str) -> str:
    """Advice for a file read as ``expected`` ('spec' or 'space') that holds another kind of
    description ('' when it looks like none)."""
    # Read from the command line and from Python alike: the advice names both ways.
    if "objectives" in d or "space" in d:
        return ("; a study file? `cnnspace explore FILE` runs it "
                "(cnnspace.explore.load_study_file in Python)")
    if expected != "space" and "axes" in d:
        return ("; a design-space file? `cnnspace space analyze FILE` reads it "
                "(cnnspace.space.DesignSpace.load in Python)")
    if expected != "spec" and "layers" in d:
        return "; a spec file? `cnnspace analyze FILE` reads it (cnnspace.load in Python)"
    return ""


def validated(spec: NetSpec, source: str | None = None) -> NetSpec:
    """``spec`` once it resolves at its own input size; any problem raises SpecError naming
    ``source`` (a file, or a model at another input size, is only checked when resolved)."""
    try:
        resolve(spec)
    except SpecError as e:
        raise e.located(source=source) from None
    return spec


def _from_dict(d: Any) -> NetSpec:
    if not isinstance(d, dict):
        raise SpecError(f"a network description must be a mapping, got {type(d).__name__}")
    _check_depth(d)
    unknown = sorted(set(map(str, d)) - set(_TOP_KEYS))
    if unknown:
        raise SpecError(f"unknown top-level key (allowed: {', '.join(_TOP_KEYS)})"
                        f"{other_file_kind(d, 'spec')}", field=unknown[0])
    for key in ("name", "input", "layers"):
        if key not in d:
            raise SpecError("is required but missing", field=key)
    if not isinstance(d["name"], str) or not d["name"]:
        raise SpecError(f"expected a non-empty string, got {d['name']!r}{_quote(d['name'])}",
                        field="name")
    if not isinstance(d["layers"], list):
        raise SpecError(f"expected a list of layers, got {type(d['layers']).__name__}",
                        field="layers")
    # `description:` or `meta:` left empty: none, as `outputs:` (an init left empty is refused
    # by NetSpec, which lists the schemes)
    description = "" if d.get("description") is None else d["description"]
    meta = {} if d.get("meta") is None else d["meta"]
    if not isinstance(description, str):
        raise SpecError(f"expected a string, got {description!r}", field="description")
    _check_plain(meta, "meta", mapping=True)
    outputs = d.get("outputs")
    if outputs is None:  # `outputs:` left empty; 0, false or {} are refused below
        outputs = []
    if isinstance(outputs, str):  # one name, as `inputs` may be
        outputs = [outputs]
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise SpecError(f"expected a list of layer names, got {outputs!r}{_quote(outputs)}",
                        field="outputs")
    shape = _check_input_shape(d["input"])
    layers = []
    for i, entry in enumerate(d["layers"]):
        if not isinstance(entry, dict):
            raise SpecError(f"layer #{i} must be a mapping with name and type, got {entry!r}",
                            field="layers")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise SpecError(f"layer #{i} needs a non-empty string 'name', got {name!r}"
                            f"{_quote(name)}", field="name")
        if not isinstance(entry.get("type"), str):
            raise SpecError(f"needs a string 'type', got {entry.get('type')!r}", layer=name,
                            field="type")
        inputs = entry.get("inputs", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(x, str) for x in inputs):
            raise SpecError(f"expected a list of layer names, got {inputs!r}{_quote(inputs)}",
                            layer=name, field="inputs")
        if "inputs" in entry and not inputs:
            raise SpecError("an empty list; name the input layers, or leave the field out to "
                            "take the previous layer", layer=name, field="inputs")
        attrs = {k: v for k, v in entry.items() if k not in ("name", "type", "inputs")}
        if not all(isinstance(k, str) for k in attrs):
            raise SpecError("field names must be strings", layer=name)
        layers.append(Layer(name, entry["type"], tuple(inputs), attrs))
    return NetSpec(d["name"], shape, tuple(layers), tuple(outputs), d.get("init", "kaiming_uniform"),
                   description, meta)


def _quote(value: Any) -> str:
    """Advice for a name that YAML read as a number or a boolean (``name: 1e3``, ``name: true``,
    ``inputs: [1]``): in quotes it is text."""
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, (bool, int, float)) for v in values):
        return " (YAML reads 1, 1e3 and true as values, not names: put such a name in quotes)"
    return ""


def _check_depth(d: dict) -> None:
    """Refuses data nested deeper than a YAML file may be: JSON (a .cnnz header) and pickles (a
    checkpoint) nest deeper, and freezing the spec recursed per level (500 levels of meta raised
    RecursionError out of read_cnnz)."""
    stack = [(d, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SpecError(f"nested more than {MAX_DEPTH} levels deep")
        children = value.values() if isinstance(value, dict) else \
            value if isinstance(value, (list, tuple)) else ()
        stack.extend((child, depth + 1) for child in children)


def _check_plain(value: Any, where: str, mapping: bool = False, finite: bool = True) -> None:
    """Metadata is free-form, but only data that YAML and JSON both write and read back as it
    was: strings, finite numbers, booleans, null, lists and mappings with string keys.
    ``finite=False`` lets NaN and infinities by (a layer field, which resolving refuses by its
    name)."""
    if mapping and not isinstance(value, dict):
        raise SpecError(f"expected a mapping, got {value!r}", field=where)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise SpecError(f"keys must be strings, got {key!r}", field=where)
            _check_plain(item, f"{where}.{key}", finite=finite)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]", finite=finite)
    elif not (value is None or type(value) in (str, bool, int)
              or (type(value) is float and (math.isfinite(value) or not finite))):
        raise SpecError(f"expected plain data (strings, finite numbers, booleans, null, lists, "
                        f"mappings), got {value!r}", field=where)


def dumps(spec: NetSpec, fmt: str = "yaml") -> str:
    """``spec`` as YAML or JSON text (``fmt``), which ``loads`` reads back."""
    if fmt not in ("yaml", "json"):
        raise SpecError(f"expected yaml or json, got {fmt!r}", field="format")
    d = to_dict(spec)
    if fmt == "json":
        return json.dumps(d, indent=2) + "\n"
    return safe_dump(d, sort_keys=False, default_flow_style=None, width=100)


class _NotPlainJson(ValueError):
    """JSON that the YAML reader is left to read (and to report on)."""


class _RepeatedKey(_NotPlainJson):
    """A key given twice in one JSON object: the YAML reader names it with its lines, where it
    can read the text."""


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return d


def _json_constant(name: str) -> Any:
    raise _NotPlainJson  # NaN, Infinity: not JSON's own; YAML reads them as text, as before


def _json(text: str) -> tuple[Any, str | None]:
    """The data of ``text`` where it is a JSON object, else None; and the key given twice in
    it, if one is. JSON is almost a subset of YAML, but not quite: JSON allows tabs between
    tokens (``json.dump(indent="\\t")``, many editors), which YAML refuses, and writes a
    character beyond U+FFFF as an escaped surrogate pair (``json.dump``'s default, and
    ``dumps(spec, "json")``'s), which YAML reads as two unpaired halves: an emoji in a name came
    back refused or garbled."""
    body = text.lstrip("\ufeff \t\r\n")
    if not body.startswith("{"):
        return None, None
    try:
        return json.loads(body, object_pairs_hook=_json_pairs,
                          parse_constant=_json_constant), None
    except _RepeatedKey as e:
        return None, e.args[0]
    except (ValueError, RecursionError):  # not JSON, or JSON YAML reports on in its own words
        return None, None


def loads(text: str, source: str | None = None) -> NetSpec:
    """The spec in YAML or JSON ``text``, checked as ``from_dict`` does (``source`` names it in
    errors)."""
    data, repeated = _json(text) if isinstance(text, str) else (None, None)
    if data is not None:
        return from_dict(data, source)
    try:
        data = safe_load(text)  # JSON is a subset of YAML (but for what _json reads)
    except yaml.YAMLError as e:
        # JSON that YAML cannot read (tabs) with a key given twice: that key, not the tabs
        problem = (f"key {repeated!r} is given twice" if repeated and not isinstance(e, Refused)
                   else yaml_problem(e))
        raise SpecError(f"not valid YAML/JSON: {problem}", source=source) from None
    except ValueError as e:  # a value YAML reads but Python cannot hold: 2024-13-45, 5000 digits
        problem = str(e).split("; use sys.set_int_max_str_digits")[0]
        raise SpecError(f"not valid YAML/JSON: {problem}", source=source) from None
    if data is None:  # an empty file, or comments only: "must be a mapping, got NoneType"
        raise SpecError("empty: no network description in it", source=source)
    return from_dict(data, source)


def _path(value: Any, what: str) -> Path:
    """``value`` as a Path; anything else is a SpecError saying what was expected."""
    if not isinstance(value, (str, os.PathLike)):
        raise SpecError(f"expected the path of {what} (a str or pathlib.Path), got "
                        f"{type(value).__name__}", field="path")
    return Path(value)


# What a binary file given for a spec is, by its suffix, and what to give instead.
_BINARY_HINTS = {
    ".pt": ": a training checkpoint? cnnspace.train.load_checkpoint(path).spec is its network",
    ".cnnz": ": a compressed model? cnnspace.compress.read_cnnz(path).spec is its network",
    ".caffemodel": ": trained Caffe weights, which cnnspace does not read; give the .prototxt "
                   "of the network"}


def load(path: str | os.PathLike) -> NetSpec:
    """The spec in a file: YAML or JSON (``save``'s output), a Caffe ``.prototxt`` or an
    ``.onnx`` model."""
    path = _path(path, "a spec file")
    if path.suffix.lower() == ".onnx":
        return from_onnx(path)
    try:
        text = _read_text(path)
    except OSError as e:
        hint = ("; a registered model? cnnspace.get_spec(name) gives its spec"
                if isinstance(e, FileNotFoundError) and not path.suffix else "")
        raise SpecError(f"cannot read the file: {e.strerror}{hint}", source=str(path)) from None
    except UnicodeDecodeError:
        hint = _BINARY_HINTS.get(path.suffix.lower().replace(".pth", ".pt"), "")
        raise SpecError(f"not a text file{hint}", source=str(path)) from None
    if path.suffix.lower() == ".prototxt":  # suffixes in any case: NET.PROTOTXT
        return from_prototxt(text, source=str(path))
    return loads(text, str(path))


def _read_text(path: Path) -> str:
    """The file's text. A prototxt may hold other encodings' bytes in its comments (GBK, Latin-1),
    which Caffe skips unread: they are kept as surrogates, which the parser refuses anywhere but
    in a comment."""
    if path.suffix.lower() != ".prototxt":
        return path.read_text()
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if b"\0" in data:  # no text file holds NUL bytes: a binary file (a .caffemodel) renamed
            raise
        return data.decode("utf-8", "surrogateescape")


def save(spec: NetSpec, path: str | os.PathLike) -> None:
    """Writes ``spec`` to ``path`` as YAML, or JSON for ``.json``, atomically: a reader never
    sees half a file."""
    if isinstance(path, NetSpec) and not isinstance(spec, NetSpec):
        raise SpecError("save(spec, path) takes the spec first, then the path")
    if not isinstance(spec, NetSpec):
        raise not_a_spec(spec)
    path = _path(path, "the file to write")
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json") and (path.is_file() or not path.exists()):
        # load() reads a file by its suffix: anything else would not read back as written
        given = repr(path.suffix) if path.suffix else "a name without a suffix"
        raise SpecError(f"a spec is written as .yaml, .yml or .json, not {given}",
                        source=str(path))
    write_text_atomic(path, dumps(spec, "json" if suffix == ".json" else "yaml"))
