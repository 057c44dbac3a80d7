"""A network's outputs: each a layer of the network, each named once."""
import pytest

from cnnspace import spec as S


def test_an_output_listed_twice_is_refused():
    # Twice the same tensor: ONNX export names the first copy 'c.1', and training would weigh
    # the second as an auxiliary head's loss.
    with pytest.raises(S.SpecError) as e:
        S.from_dict({"name": "t", "input": [3, 8, 8], "outputs": ["c", "c"],
                     "layers": [{"name": "c", "type": "conv2d", "out_channels": 4, "kernel": 3}]})
    assert e.value.field == "outputs" and "'c'" in str(e.value) and "twice" in str(e.value)


@pytest.mark.parametrize("outputs", [0, False, {}])
def test_outputs_of_a_wrong_type_are_refused_not_ignored(outputs):
    # `outputs: 0` or `outputs: {}` was read as "no outputs given" without a word
    with pytest.raises(S.SpecError) as e:
        S.from_dict({"name": "t", "input": [3, 8, 8], "outputs": outputs,
                     "layers": [{"name": "c", "type": "relu"}]})
    assert e.value.field == "outputs" and "list of layer names" in str(e.value)


def test_outputs_left_empty_mean_none_given():
    for d in ({"outputs": None}, {"outputs": []}, {}):
        S.from_dict({"name": "t", "input": [3, 8, 8], "layers": [{"name": "c", "type": "relu"}],
                     **d})
