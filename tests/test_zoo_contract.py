"""Contract over the whole registry: one spec gives the module and the metrics, and they agree."""
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnspace import analyze, get_spec, list_models
from cnnspace.metrics import COUNTERS
from cnnspace.nn import BUILDERS, build
from cnnspace.spec import LAYER_TYPES, SpecError
from cnnspace.zoo import model_entry


def test_every_layer_type_has_a_counter_and_a_builder():
    assert set(COUNTERS) == set(LAYER_TYPES) == set(BUILDERS)


def test_wildcard_listing():
    assert list_models("squeezenet1_0*") == ["squeezenet1_0", "squeezenet1_0_complex_bypass",
                                              "squeezenet1_0_simple_bypass"]
    assert {"alexnet", "alexnet_caffe", "vgg11", "vgg16", "vgg19", "nin", "googlenet", "googlenet_aux",
            "squeezenet1_1", "firenet"} <= set(list_models())
    # Without wildcards, a part of the name.
    assert list_models("squeezedet") == ["squeezedet", "squeezedet_plus"]
    assert list_models("vgg1?") == ["vgg11", "vgg16", "vgg19"]
    assert list_models("nothing-like-this") == []
    # as people write the names: VGG, AlexNet, SqueezeNet*
    assert list_models("VGG1?") == list_models("vgg1?") and list_models("AlexNet") == [
        "alexnet", "alexnet_caffe"]
    assert list_models("SqueezeNet1_0*") == list_models("squeezenet1_0*")


@pytest.mark.parametrize("model", list_models())
def test_built_module_agrees_with_the_analysis(model):
    spec = get_spec(model)
    analysis = analyze(spec)
    torch.manual_seed(0)
    module = build(spec).eval()
    assert sum(p.numel() for p in module.parameters()) == analysis.totals.params
    shares_input = {}  # the layers whose output is their input's memory, as torch runs them
    for name, layer in module.layers.items():
        layer.register_forward_hook(lambda m, args, out, name=name: shares_input.__setitem__(
            name, out.data_ptr() == args[0].data_ptr()))
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = module(torch.randn(1, *spec.input))
    # what the analysis counts as no new activation memory is what torch allocates none for
    assert {m.name for m in analysis.layers if m.activations == 0} == \
        {name for name, shared in shares_input.items() if shared}
    outs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape) for o in outs] == [(1, *s) for s in spec.resolve().output_shapes()]
    # FlopCounterMode counts 2 FLOPs per multiply-accumulate of conv and matmul.
    assert counter.get_total_flops() == 2 * analysis.totals.macs
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize("model", list_models())
def test_every_entry_takes_classes_and_input(model):
    entry = model_entry(model)
    c, h, w = entry.defaults["input"]
    spec = get_spec(model, num_classes=7, input=(c, h + 32, w + 32))
    assert spec.input == (c, h + 32, w + 32)
    outputs = spec.resolve().output_shapes()
    if entry.task == "classification":
        assert all(s[0] == 7 for s in outputs)
    else:
        assert outputs != get_spec(model, num_classes=11, input=(c, h + 32, w + 32)).resolve().output_shapes()


def test_small_input_runs_and_batch_is_free():
    spec = get_spec("squeezenet1_1", num_classes=10, input="1x32x32")
    module = build(spec).eval()
    with torch.no_grad():
        assert module(torch.randn(5, 1, 32, 32)).shape == (5, 10)


def test_too_small_input_is_a_spec_error_not_a_torch_error():
    with pytest.raises(SpecError, match="pool5.*does not fit"):
        get_spec("alexnet", input="3x32x32").resolve()


def test_unknown_model_and_setting():
    with pytest.raises(SpecError, match="unknown model 'resnet50'"):
        get_spec("resnet50")
    with pytest.raises(SpecError, match="no setting 'width'.*accepts"):
        get_spec("squeezenet1_1", width=2)
    with pytest.raises(SpecError) as e:
        get_spec("firenet", sr=0)
    assert e.value.field == "sr"


def test_squeezenet_init_as_torchvision():
    torch.manual_seed(0)
    module = build(get_spec("squeezenet1_0"))
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    final, conv1 = convs[-1], convs[0]
    assert final.weight.std().item() == pytest.approx(0.01, rel=0.05)
    bound = math.sqrt(6 / (3 * 49))  # kaiming-uniform, gain sqrt(2), fan_in 3*7*7
    assert conv1.weight.abs().max().item() <= bound
    assert conv1.weight.abs().max().item() > 0.95 * bound
    assert all((m.bias == 0).all() for m in convs)


def test_init_can_be_overridden_and_unknown_init_is_clear():
    torch.manual_seed(0)
    spec = get_spec("squeezenet1_1", num_classes=10, input="3x32x32")
    caffe = build(spec, init="xavier")
    conv1 = next(m for m in caffe.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv1.weight.abs().max().item() <= math.sqrt(3 / 27)
    with pytest.raises(SpecError, match="unknown init scheme 'he'"):
        build(spec, init="he")


def test_building_does_not_share_or_mutate_the_spec():
    spec = get_spec("squeezenet1_1")
    before = spec.layers
    build(spec)
    assert spec.layers == before


@pytest.fixture
def scratch_registry(monkeypatch):
    """Models registered by a test stay out of the other tests' registry."""
    from cnnspace.zoo import _registry
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))


def test_registering_refuses_name_clashes_loose_settings_and_non_specs(scratch_registry):
    from cnnspace.zoo import register_model

    def alexnet(num_classes=1000, input=(3, 224, 224)):
        return get_spec("vgg11", num_classes=num_classes, input=input)

    with pytest.raises(ValueError, match="'alexnet' is already registered .* replace_existing"):
        register_model("a clash")(alexnet)
    assert get_spec("alexnet").name == "alexnet"  # the built-in is kept

    def extras(num_classes=10, input=(1, 8, 8), **more):
        raise AssertionError("never built")

    with pytest.raises(TypeError, match="more must be keyword parameters with defaults"):
        register_model("loose", name="test_loose")(extras)

    def not_a_spec(num_classes=10, input=(1, 8, 8)):
        return 42

    register_model("returns an int", name="test_not_a_spec")(not_a_spec)
    with pytest.raises(SpecError, match="its builder returned int, not a NetSpec"):
        get_spec("test_not_a_spec")
    with pytest.raises(TypeError):
        model_entry("alexnet").defaults["num_classes"] = 3  # the registry is read-only


def test_hxw_input_keeps_the_models_channels(scratch_registry):
    from cnnspace.zoo import register_model

    @register_model("a 1-channel test model", name="test_gray")
    def gray(num_classes=10, input=(1, 16, 16)):
        return get_spec("squeezenet1_1", num_classes=num_classes, input=input)

    assert get_spec("test_gray", input="32x32").input == (1, 32, 32)
