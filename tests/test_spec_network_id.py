"""network_id: ids are stored in study databases (every trial's point_id), so the hashed text
must stay what its docstring states, however it is assembled."""
import hashlib
import json

import pytest

from cnnspace import get_spec
from cnnspace.spec import Layer, NetSpec, network_id, resolve, spelled_out
from cnnspace.zoo import list_models


def stated_id(spec: NetSpec) -> str:
    graph = resolve(spec)
    layers = [[n.name, n.type, n.inputs, spelled_out(n.attrs)] for n in graph.nodes]
    text = json.dumps({"input": graph.input_shape, "init": spec.init, "outputs": graph.outputs,
                       "layers": layers}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


@pytest.mark.parametrize("model", list_models())
def test_every_zoo_model_hashes_the_stated_text(model):
    for spec in (get_spec(model), get_spec(model).with_input((3, 96, 96))):
        assert network_id(spec) == stated_id(spec)


def test_ids_of_earlier_releases_are_kept():
    # as computed by the release that first stored them in studies
    assert network_id(get_spec("squeezenet1_0")) == "61a95a2125"
    assert network_id(get_spec("squeezenet1_1")) == "9913b5a4bc"
    assert network_id(get_spec("nin")) == "28e318dd5b"


def test_out_of_order_layers_several_outputs_and_other_alphabets_hash_the_stated_text():
    spec = NetSpec("odd", (3, 16, 16), (
        Layer("tête", "relu", ("conv",)),
        Layer("conv", "conv2d", ("input",), {"out_channels": 4, "kernel": 3}),
        Layer("pool", "maxpool", ("tête",), {"kernel": 2}),  # stride left out: the kernel's
        Layer("fire", "fire", ("conv",), {"squeeze": 2, "expand1x1": 3, "expand3x3": 3}),
    ), outputs=("pool", "fire"), init="xavier")
    assert network_id(spec) == stated_id(spec)
    written_out = NetSpec("odd", spec.input, tuple(
        Layer(l.name, l.type, l.inputs, {**l.attrs, "stride": 2}) if l.name == "pool" else l
        for l in spec.layers), spec.outputs, spec.init)
    assert network_id(written_out) == network_id(spec)
