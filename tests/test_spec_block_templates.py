"""A block met again under another name or after another layer is its first expansion renamed
(spec/_resolve.py's block templates): every block type must expand exactly as the renaming says."""
import pytest

from cnnspace.spec import BLOCK_TYPES, Layer, NetSpec, resolve
from cnnspace.spec import _resolve

# Fields for one block of each type, with and without batchnorm (which changes the layers).
SAMPLES = {
    "fire": {"squeeze": 2, "expand1x1": 4, "expand3x3": 4},
    "inception": {"conv1x1": 2, "conv3x3_reduce": 2, "conv3x3": 3, "conv5x5_reduce": 2,
                  "conv5x5": 3, "pool_proj": 2},
    "mlpconv": {"channels": [4, 4], "kernel": 3, "padding": 1},
}


def test_every_block_type_has_a_sample():
    assert set(SAMPLES) == set(BLOCK_TYPES)


def _cold():
    for cache in (_resolve._BLOCK_CACHE, _resolve._BLOCK_TEMPLATES):
        cache.clear()


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_a_renamed_block_equals_its_own_expansion(kind, batchnorm):
    attrs = {**SAMPLES[kind], "batchnorm": batchnorm}
    first, again = Layer("first", kind, (), attrs), Layer("again", kind, ("stem",), attrs)
    _cold()
    _resolve._expand_block(first, "input")
    renamed = _resolve._expand_block(again, "stem")[2]
    _cold()
    direct = _resolve._expand_block(again, "stem")[2]
    assert renamed == direct
    assert all(p[0] == "again" or p[0].startswith("again/") for p in direct)


def test_a_network_repeating_a_block_resolves_as_it_would_cold():
    attrs = SAMPLES["fire"]
    spec = NetSpec("repeats", (3, 16, 16), (
        Layer("a", "fire", (), attrs), Layer("stem", "conv2d", (), {"out_channels": 8, "kernel": 1}),
        Layer("b", "fire", (), attrs), Layer("c", "fire", ("a",), attrs),
        Layer("out", "concat", ("b", "c"), {})))
    warm = resolve(spec).nodes
    _cold()
    cold = resolve(NetSpec("repeats", spec.input, spec.layers, outputs=spec.outputs)).nodes
    assert warm == cold
