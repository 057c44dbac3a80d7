"""Review of schedules and bit widths: a key that could mean two things is refused by name."""
import pytest

from cnnspace.compress import CompressError, layer_bits, parse_schedule
from cnnspace.compress._schedule import plan_bits
from cnnspace.spec import Layer, NetSpec

# The classifier is called "fc", as in torchvision's ResNets and many hand-written specs, and
# there is another linear layer: "fc" names the layer and the kind of both.
SPEC = NetSpec("two_fc", (1, 8, 8), [
    Layer("conv", "conv2d", attrs={"out_channels": 4, "kernel": 3, "padding": 1}),
    Layer("conv2", "conv2d", attrs={"out_channels": 4, "kernel": 3, "padding": 1}),
    Layer("flat", "flatten"),
    Layer("fc1", "linear", attrs={"out_features": 16}),
    Layer("fc", "linear", attrs={"out_features": 10})])


@pytest.mark.parametrize("kind,others", [("fc", "fc1, fc"), ("conv", "conv, conv2")])
def test_a_kind_that_is_also_a_layers_name_is_refused_in_a_schedule(kind, others):
    # {fc: 0.9} meant for the layer named fc pruned fc1 by 90% too, silently
    schedule = parse_schedule({"layers": {kind: 0.9}}, "plan.yaml")
    with pytest.raises(CompressError, match=(
            f"plan.yaml: layer override '{kind}' is ambiguous: the kind {kind} \\({others}\\) "
            f"and a layer's name; write '\\[{kind[0]}\\]{kind[1:]}' for the layer alone")):
        schedule.targets(SPEC)


def test_a_kind_that_is_also_a_layers_name_is_refused_in_bits():
    with pytest.raises(CompressError, match="--bits: bit width for 'fc' is ambiguous"):
        layer_bits(SPEC, {"fc": 3})
    with pytest.raises(CompressError, match="plan.yaml: bit width for 'fc' is ambiguous"):
        plan_bits(SPEC, parse_schedule({"bits": {"fc": 3}}, "plan.yaml"), {})


def test_the_layer_alone_and_unambiguous_kinds_still_work():
    targets = parse_schedule({"layers": {"[f]c": 0.9}}).targets(SPEC)
    assert targets == {"conv": 0.0, "conv2": 0.0, "fc1": 0.0, "fc": 0.9}
    only_one_linear = NetSpec("one_fc", (1, 8, 8), [
        Layer("conv", "conv2d", attrs={"out_channels": 4, "kernel": 3}),
        Layer("flat", "flatten"), Layer("fc", "linear", attrs={"out_features": 10})])
    # the kind and the layer are the same one layer: nothing to mistake
    assert layer_bits(only_one_linear, {"fc": 3, "conv": 4}) == {"conv": 4, "fc": 3}


CONV_AND_FC = NetSpec("conv_and_fc", (1, 8, 8), [
    Layer("conv1", "conv2d", attrs={"out_channels": 4, "kernel": 3, "padding": 1}),
    Layer("conv2", "conv2d", attrs={"out_channels": 4, "kernel": 3, "padding": 1}),
    Layer("flat", "flatten"),
    Layer("fc1", "linear", attrs={"out_features": 10})])


@pytest.mark.parametrize("layers,kind,takers", [
    ({"*": 0.5, "conv": 0.2}, "conv", "'\\*'"),
    ({"conv1": 0.1, "conv": 0.2, "conv?": 0.3}, "conv", "'conv1', 'conv\\?'"),
])
def test_a_kind_every_layer_of_which_a_glob_takes_is_refused(layers, kind, takers):
    # a name or glob beats a kind wherever written: conv's 0.2 was silently never used
    with pytest.raises(CompressError, match=f"plan.yaml: layer override '{kind}' never applies: "
                                            f"every {kind} layer is taken by a name or glob "
                                            f"\\({takers}\\)"):
        parse_schedule({"layers": layers}, "plan.yaml").targets(CONV_AND_FC)


def test_a_kind_shadowed_in_bits_is_refused_and_one_that_applies_is_not():
    with pytest.raises(CompressError, match="--bits: bit width for 'fc' never applies"):
        layer_bits(CONV_AND_FC, {"fc*": 4, "fc": 3})
    assert layer_bits(CONV_AND_FC, {"conv1": 4, "conv": 6, "fc": 3}) == {
        "conv1": 4, "conv2": 6, "fc1": 3}


def test_a_bits_kind_that_the_schedules_globs_take_is_refused():
    # --bits fc=3 under a schedule's bits {"*": 6}: the schedule's glob beats the kind (any name
    # beats a kind), so fc1 stayed at 6 bits and the flag did nothing
    schedule = parse_schedule({"bits": {"*": 6}}, "plan.yaml")
    with pytest.raises(CompressError, match="--bits: bit width for 'fc' never applies: every fc "
                                            "layer is taken by a name or glob \\('\\*' of "
                                            "plan.yaml\\)"):
        plan_bits(CONV_AND_FC, schedule, {"fc": 3})
    # a --bits kind that some layer still takes applies there
    assert plan_bits(CONV_AND_FC, parse_schedule({"bits": {"conv1": 6}}, "plan.yaml"),
                     {"conv": 4}) == {"conv1": 6, "conv2": 4, "fc1": 5}
