"""cnnspace.scale from Python: misuse is a CnnspaceError saying what belongs where; results
print short."""
import pytest

from cnnspace import CnnspaceError, get_spec
from cnnspace.spec import from_dict
from cnnspace.scale import (Device, Interconnect, NetworkCosts, Recipe, compare_published,
                            get_preset, parallelism_comm, predict)

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


def test_values_of_the_wrong_kind_are_named_not_type_errors():
    with pytest.raises(CnnspaceError, match="FLOP/s must be a finite number > 0, got '1e12'"):
        Device("gpu", "1e12", 0.5)
    with pytest.raises(CnnspaceError, match="efficiency must be in \\(0, 1\\], got '0.5'"):
        Device("gpu", 1e12, "0.5")
    with pytest.raises(CnnspaceError, match="at least one strategy"):
        predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, [1, 32], [])
    with pytest.raises(CnnspaceError, match="dataset_size 100 is smaller than one batch of 128"):
        Recipe(128, 1, 100)


def test_a_network_without_parameters_is_refused_not_divided_by():
    with pytest.raises(CnnspaceError, match="net: the network has no parameters"):
        NetworkCosts("net", 0, 1000)
    with pytest.raises(CnnspaceError, match="training FLOPs per image must be > 0"):
        NetworkCosts("net", 1000, 0)
    pool = from_dict({"name": "pool", "input": [3, 8, 8],
                      "layers": [{"name": "p", "type": "maxpool", "kernel": 2, "stride": 2}]})
    with pytest.raises(CnnspaceError, match="pool: the network has no parameters"):
        parallelism_comm(pool, 32)  # its ratios would divide by 0 bytes of gradients


def test_a_worker_count_or_strategy_given_twice_is_predicted_once():
    result = predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, [32, 8, 32],
                     ["ring", "ring"])
    assert [(r.workers, r.strategy) for r in result.rows] == [(32, "ring"), (8, "ring")]


def test_the_plot_draws_worker_counts_in_order_whatever_order_they_came_in():
    import matplotlib.pyplot as plt
    from cnnspace.scale._plot import scaling_figure
    result = predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, [128, 1, 32])
    fig = scaling_figure(result)
    try:
        speed = fig.axes[1]
        for line in speed.get_lines():  # a zigzag 128 -> 1 -> 32 otherwise
            assert list(line.get_xdata()) == [1, 32, 128]
    finally:
        plt.close(fig)


def test_every_bar_ends_below_the_top_of_the_plot_where_the_legend_is():
    import matplotlib.pyplot as plt
    from cnnspace.scale._plot import scaling_figure
    result = predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, [1, 8, 128])
    fig = scaling_figure(result)
    try:
        bars = fig.axes[0]
        tallest = max(r.time_per_iter_s for r in result.rows)
        assert bars.get_ylim()[1] >= 2 * tallest  # a log axis: room of a factor above it
    finally:
        plt.close(fig)


def test_published_speedups_need_titans_conditions_not_its_name():
    spec = get_spec("googlenet_aux")

    def titan(link=TITAN.link, bits=32):
        return predict(NetworkCosts.of(spec, bits), TITAN.device, link, TITAN.recipe,
                       TITAN.baseline, [32, 128], preset="titan-k20x")
    assert [c.published.workers for c in compare_published(spec, titan())] == [32, 128]
    # a faster link or fp16 gradients under the same name are not what FireCaffe measured
    assert compare_published(spec, titan(link=Interconnect(1e-6, 1e-11))) == []
    assert compare_published(spec, titan(bits=16)) == []
