"""cnnspace.scale from Python: misuse is a CnnspaceError saying what belongs where; results
print short."""
import pytest

from cnnspace import CnnspaceError, get_spec
from cnnspace.scale import NetworkCosts, get_preset, predict

TITAN = get_preset("titan-k20x")
COSTS = NetworkCosts.of(get_spec("squeezenet1_1"))


def test_predict_with_arguments_swapped_names_the_argument():
    with pytest.raises(CnnspaceError, match="device must be a Device, got Interconnect"):
        predict(COSTS, TITAN.link, TITAN.device, TITAN.recipe, TITAN.baseline, [1, 32])


def test_predict_takes_one_worker_count_or_a_list_but_not_a_string():
    one = predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, 32)
    assert one.rows == predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline,
                               [32]).rows
    with pytest.raises(CnnspaceError, match="a list of worker counts, got '1,32'"):
        predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, "1,32")


def test_scaling_result_repr_is_short():
    result = predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, [1, 32, 128])
    assert repr(result) == ("ScalingResult(model='squeezenet1_1', preset='custom', "
                            "workers=[1, 32, 128], rows=<9 ScalingRow>)")


def test_strategies_are_checked_even_for_one_worker_and_one_name_is_one_strategy():
    one = predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, [1, 32], "ring")
    assert [r.strategy for r in one.rows] == ["ring", "ring"]  # not 'r', 'i', 'n', 'g'
    with pytest.raises(CnnspaceError, match="unknown strategy 'tree'"):
        predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, [1], ["tree"])
