"""Analysis is memoised per layer configuration and per resolved run of layers (a block, or one
layer), shared between specs: whatever was analysed before, a spec must get the numbers it would
get on a cold start."""
import pytest

from cnnspace import analyze, get_spec
from cnnspace.metrics import _analyze
from cnnspace.spec import _fields, _resolve, loads

OUT_OF_ORDER = """
name: out_of_order
input: [3, 16, 16]
layers:
  - {name: head, type: conv2d, out_channels: 5, kernel: 1, inputs: [body]}
  - {name: body, type: fire, squeeze: 2, expand1x1: 4, expand3x3: 4, inputs: [input]}
outputs: [head]
"""


def _cases():
    firenets = [get_spec("firenet", sr=sr, pct3x3=p, input=(3, 64, 64))
                for sr in (0.125, 0.25) for p in (0.25, 0.5)]
    same_names_other_fields = get_spec("firenet", base_e=64, input=(3, 64, 64))
    return [(s, None) for s in [*firenets, same_names_other_fields, loads(OUT_OF_ORDER)]] + [
        (get_spec("squeezenet1_1"), (3, hw, hw)) for hw in (32, 64, 224)]


def _cold() -> None:
    for cache in (_fields._NORMALISED, _resolve._BLOCK_CACHE, _resolve._BLOCK_TEMPLATES,
                  _resolve._LAYER_CACHE, _resolve._SEGMENT_TOKENS, _resolve._SHAPES,
                  _resolve._RESOLVED,
                  _analyze._COUNTED, _analyze._SEGMENTS):
        cache.clear()


@pytest.mark.parametrize("order", [1, -1])
def test_memoised_analysis_equals_a_cold_one(order):
    cases = _cases()[::order]
    warm = [analyze(spec, shape).to_json() for spec, shape in cases]
    for (spec, shape), expected in zip(_cases()[::order], warm):
        _cold()
        assert analyze(spec, shape).to_json() == expected, spec.name


def test_out_of_order_layers_resolve_in_dependency_order():
    graph = loads(OUT_OF_ORDER).resolve()
    names = [n.name for n in graph.nodes]
    assert names.index("body") < names.index("head")
    assert [n for segment in graph.segments for n in segment] == list(graph.nodes)
