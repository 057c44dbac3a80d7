"""A layer that reaches no output of the network is refused: ``nn.build`` would run it for
nothing, ONNX export drops it, and analyze would count parameters and MACs that no deployed
file holds."""
import pytest

from cnnspace import spec as S


def _net(outputs=None):
    layers = [{"name": "conv", "type": "conv2d", "out_channels": 4, "kernel": 3},
              {"name": "gap", "type": "global_avgpool"},
              {"name": "flat", "type": "flatten"},
              {"name": "fc", "type": "linear", "out_features": 5},
              {"name": "head", "type": "conv2d", "out_channels": 2, "kernel": 1,
               "inputs": ["conv"]}]
    return S.from_dict({"name": "t", "input": [3, 8, 8], "layers": layers,
                        **({"outputs": outputs} if outputs else {})})


def test_a_branch_that_reaches_no_output_is_refused_naming_its_end():
    with pytest.raises(S.SpecError) as e:
        _net().resolve()  # outputs default to the last layer, 'head': fc's branch is dead
    assert e.value.layer == "fc" and e.value.field == "outputs"
    assert "'head'" in str(e.value)


def test_every_branch_named_as_an_output_resolves():
    assert _net(["fc", "head"]).resolve().outputs == ("fc", "head")
