"""Totals held against published figures (shared/reference/published-numbers.md names each source)."""
import pytest

from cnnspace import analyze, get_spec
from cnnspace.zoo import fire_widths


@pytest.mark.parametrize("model,params,source", [
    ("squeezenet1_0", 1_248_424, "SqueezeNet paper (arXiv 1602.07360) Table 1"),
    ("firenet", 1_248_424, "SqueezeNet paper Table 1: firenet defaults are SqueezeNet v1.0"),
    ("squeezenet1_0_simple_bypass", 1_248_424, "SqueezeNet paper Table 3: simple bypass adds no parameters"),
    ("alexnet", 61_100_840, "torchvision AlexNet weight metadata"),
    ("vgg16", 138_357_544, "torchvision VGG-16 weight metadata"),
])
def test_parameter_counts(model, params, source):
    assert analyze(get_spec(model)).totals.params == params, source


def test_complex_bypass_adds_a_1x1_projection_where_channels_change():
    # SqueezeNet paper Figure 2: the 1x1 bypass convolutions sit where a Fire module changes the
    # channel count (fire2, 4, 6, 8). Its Table 3 says 7.7 MB, which this layout does not reach
    # (README: the paper does not say what else its network holds).
    outs = [e1 + e3 for _, e1, e3 in fire_widths(128, 128, 2, 0.5, 0.125)]
    ins = [96, *outs[:-1]]
    projections = sum(i * o for i, o in zip(ins, outs) if i != o)
    t = analyze(get_spec("squeezenet1_0_complex_bypass")).totals
    assert t.params == 1_248_424 + projections == 1_588_392
    assert round(t.size_mib, 2) == 6.06


def test_squeezenet_size_is_4_8_mib():
    # Seed slide 30/34 and the SqueezeNet paper: "4.8MB" = params x 4 bytes / 2^20 (MiB convention).
    t = analyze(get_spec("squeezenet1_0")).totals
    assert t.size_bytes == 1_248_424 * 4
    assert round(t.size_mib, 1) == 4.8
    assert round(t.size_mb, 2) == 4.99  # the decimal convention gives another figure: both are reported


@pytest.mark.parametrize("model,input,gmacs,source", [
    ("alexnet", (3, 224, 224), 0.714, "torchvision AlexNet metadata (GFLOPS field counts MACs)"),
    ("vgg16", (3, 224, 224), 15.47, "torchvision VGG-16 metadata"),
    ("squeezenet1_0", (3, 224, 224), 0.819, "torchvision SqueezeNet 1.0 metadata at 224"),
])
def test_macs(model, input, gmacs, source):
    assert round(analyze(get_spec(model, input=input)).totals.macs / 1e9, 3) == pytest.approx(gmacs), source


def test_squeezenet1_1_macs_against_fvcore():
    # machine-notes.md: fvcore counts 349,320,936 for v1.1 at 224. fvcore also counts the final adaptive
    # average pool as one op per input element (1000 x 13 x 13); our `macs` counts convolutions only.
    t = analyze(get_spec("squeezenet1_1")).totals
    assert t.macs + 1000 * 13 * 13 == 349_320_936


def test_googlenet_with_aux_classifiers_is_53_mb():
    # FireCaffe / seed slide 18: "53MB for GoogLeNet" (the Caffe model with its two auxiliary classifiers),
    # FireCaffe's MB being decimal.
    t = analyze(get_spec("googlenet_aux")).totals
    assert int(t.size_mb) == 53  # 53,513,120 bytes; the BVLC caffemodel file is 53,533,754
    def aux_head(channels):  # 1x1 conv to 128, fc 2048 -> 1024, fc 1024 -> 1000, with biases
        return channels * 128 + 128 + 128 * 4 * 4 * 1024 + 1024 + 1024 * 1000 + 1000
    extra = t.params - analyze(get_spec("googlenet")).totals.params
    assert extra == aux_head(512) + aux_head(528)  # heads on inception 4a and 4d


def test_squeezenet_v1_0_layout_is_the_caffe_file():
    # published-numbers.md: 227 input; conv1 96 7x7/2; ceil-rounded 3x3/2 pools after conv1, fire4, fire8.
    a = analyze(get_spec("squeezenet1_0"))
    shapes = {m.name: m.out_shape for m in a.layers}
    assert shapes["conv1"] == (96, 111, 111)
    assert shapes["pool1"] == (96, 55, 55)
    assert shapes["pool4"] == (256, 27, 27)
    assert shapes["pool8"] == (512, 13, 13)
    assert shapes["conv10"] == (1000, 13, 13)


def test_caffe_conv10_padding_artefact_is_a_choice():
    plain = analyze(get_spec("squeezenet1_0"))
    caffe = analyze(get_spec("squeezenet1_0", conv10_pad=1))
    assert plain.totals.params == caffe.totals.params
    assert {m.name: m.out_shape for m in caffe.layers}["conv10"] == (1000, 15, 15)
    assert caffe.totals.macs - plain.totals.macs == 512 * 1000 * (15 * 15 - 13 * 13)


def test_fire_widths_formula_gives_squeezenet():
    # SqueezeNet paper Section 4 metaparameters; Table 1 widths.
    assert fire_widths(128, 128, 2, 0.5, 0.125) == [
        (16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
        (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]


@pytest.mark.parametrize("sr", [0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0])
def test_squeeze_ratio_sweep_follows_the_formula(sr):
    widths = fire_widths(128, 128, 2, 0.5, sr)
    cin, params = 96, 96 * 3 * 49 + 96
    for s, e1, e3 in widths:
        params += s * cin + s + e1 * s + e1 + e3 * s * 9 + e3
        cin = e1 + e3
    params += 1000 * cin + 1000
    assert analyze(get_spec("firenet", sr=sr)).totals.params == params


def test_alexnet_is_240_mb_and_squeezenet_50x_smaller():
    # Seed slide 34 (published-numbers.md): AlexNet 240MB (decimal MB, the BVLC Caffe model) and
    # SqueezeNet 4.8MB, "50x" smaller: 243.9 MB to two significant figures, 48.8x to one.
    alexnet = analyze(get_spec("alexnet_caffe")).totals
    squeezenet = analyze(get_spec("squeezenet1_0")).totals
    assert alexnet.params == 60_965_224 and round(alexnet.size_mb, -1) == 240
    assert round(alexnet.params / squeezenet.params, -1) == 50


def test_googlenet_aux_pools_round_up_as_the_caffe_file():
    # BVLC GoogLeNet train_val.prototxt: loss1/ave_pool and loss2/ave_pool, AVE 5x5 stride 3
    # after inception_4a (512 channels) and 4d (528); Caffe rounds every pooling up: the same
    # 4x4 as rounding down at 224, but 2x2 (not 1x1) at 96x96
    for size, side in ((224, 4), (96, 2)):
        layers = {m.name: m for m in analyze(get_spec("googlenet_aux", input=(3, size, size))).layers}
        assert layers["aux1_pool"].out_shape == (512, side, side)
        assert layers["aux2_pool"].out_shape == (528, side, side)
