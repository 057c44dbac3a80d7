"""from_torch of the modules cnnspace builds: a built spec imports back as the same network
(block layers' module keys hold a '/', which spec names may not)."""
import pytest
import torch
from torch import nn

import cnnspace
from cnnspace import analyze, get_spec
from cnnspace.nn import build


@pytest.mark.parametrize("name, size", [("squeezenet1_1", 64), ("googlenet", 64),
                                        ("squeezenet1_0_complex_bypass", 64),
                                        ("alexnet_caffe", 227)])
def test_a_built_zoo_model_imports_back_with_the_same_counts(name, size):
    spec = get_spec(name, input=(3, size, size))
    back = cnnspace.from_torch(build(spec).eval(), spec.input)
    assert analyze(back).totals == analyze(spec).totals
    # it said: layer names must be ... without '.' or '/', got 'layers_fire2/squeeze1x1'
    assert all("/" not in layer.name for layer in back.layers)


def test_module_keys_with_a_slash_become_underscores():
    user = nn.Sequential()
    user.add_module("stem/conv", nn.Conv2d(3, 4, 3))
    user.add_module("stem/act", nn.ReLU())
    names = [layer.name for layer in cnnspace.from_torch(user, (3, 8, 8)).layers]
    assert names == ["stem_conv", "stem_act"]
    with torch.no_grad():
        assert user(torch.zeros(1, 3, 8, 8)).shape == (1, 4, 6, 6)
