"""Random and mutated specs: every failure is a SpecError with a message, never another exception;
every spec that passes also builds and runs in torch."""
import copy

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnspace import analyze, get_spec
from cnnspace.nn import build
from cnnspace.spec import BLOCK_TYPES, LAYER_TYPES, SpecError, from_dict, to_dict

SEEDS = [to_dict(get_spec("squeezenet1_1", num_classes=10, input="3x16x16")),
         to_dict(get_spec("nin", num_classes=5, input="3x64x64")),
         {"name": "tiny", "input": [2, 9, 7], "layers": [
             {"name": "c", "type": "conv2d", "out_channels": 4, "kernel": [3, 2], "groups": 2},
             {"name": "b", "type": "batchnorm"},
             {"name": "p", "type": "avgpool", "kernel": 2, "ceil_mode": True},
             {"name": "i", "type": "inception", "conv1x1": 2, "conv3x3_reduce": 2, "conv3x3": 2,
              "conv5x5_reduce": 1, "conv5x5": 1, "pool_proj": 1},
             {"name": "f", "type": "flatten"},
             {"name": "l", "type": "linear", "out_features": 3},
             {"name": "s", "type": "softmax"}]}]

junk = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**7), st.floats(allow_nan=True),
                 st.text(max_size=5), st.lists(st.integers(-2, 40), max_size=4),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
field_names = st.sampled_from(sorted({f for t in [*LAYER_TYPES.values(), *BLOCK_TYPES.values()]
                                      for f in t.fields} | {"name", "type", "inputs", "bogus"}))
type_names = st.sampled_from(sorted(LAYER_TYPES) + sorted(BLOCK_TYPES) + ["nope", 3])


@st.composite
def mutated(draw):
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        layers = doc.get("layers")
        what = draw(st.sampled_from(["field", "drop_field", "type", "inputs", "drop_layer",
                                     "top", "swap", "input"]))
        if what == "top":
            doc[draw(st.sampled_from(["name", "input", "layers", "outputs", "init", "extra"]))] = draw(junk)
        elif what == "input":
            doc["input"] = draw(st.lists(st.integers(-1, 10**6), min_size=2, max_size=4))
        elif isinstance(layers, list) and layers and all(isinstance(x, dict) for x in layers):
            i = draw(st.integers(0, len(layers) - 1))
            layer = layers[i]
            if what == "field":
                layer[draw(field_names)] = draw(junk)
            elif what == "drop_field" and layer:
                layer.pop(draw(st.sampled_from(sorted(layer, key=str))))
            elif what == "type":
                layer["type"] = draw(type_names)
            elif what == "inputs":
                names = [x.get("name") for x in layers] + ["input", "ghost"]
                layer["inputs"] = draw(st.lists(st.sampled_from(names), max_size=3))
            elif what == "drop_layer":
                layers.pop(i)
            elif what == "swap" and len(layers) > 1:
                j = draw(st.integers(0, len(layers) - 1))
                layers[i], layers[j] = layers[j], layers[i]
    return doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_fail_only_with_spec_errors(doc):
    try:
        spec = from_dict(doc, source="fuzz.yaml")
        a = analyze(spec)
    except SpecError as e:
        assert str(e) and "fuzz.yaml" in str(e)
        return
    if a.totals.params < 2_000_000 and a.totals.macs < 50_000_000 and a.totals.activations < 10**6:
        module = build(spec, init="torch_default").eval()
        with torch.no_grad():
            out = module(torch.zeros(2, *spec.input))
        outs = out if isinstance(out, tuple) else (out,)
        assert [tuple(o.shape[1:]) for o in outs] == spec.resolve().output_shapes()


@settings(max_examples=200, deadline=None)
@given(st.recursive(junk, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                    max_leaves=12))
def test_arbitrary_data_fails_only_with_spec_errors(data):
    try:
        from_dict(data)
    except SpecError as e:
        assert str(e)
