"""Caffe .prototxt import: the published deploy layouts give the zoo's counts, Caffe semantics are
kept, and a bad file names its line."""
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from cnnspace import analyze, get_spec, load
from cnnspace.cli import main
from cnnspace.spec import Layer, SpecError, from_prototxt, loads, resolve

FIXTURES = Path(__file__).parent / "fixtures" / "caffe"


def _plus_softmax(spec):
    """The deploy files end in a Softmax ("prob") layer; the zoo specs stop at the scores."""
    return replace(spec, layers=spec.layers + (Layer("prob", "softmax"),), outputs=())


@pytest.mark.parametrize("fixture, zoo", [
    # SqueezeNet (Iandola et al. 2016, github.com/DeepScale/SqueezeNet): v1.0's deploy file pads
    # conv10 by 1 (published-numbers.md), v1.1's does not.
    ("squeezenet_v1.0_deploy", get_spec("squeezenet1_0", conv10_pad=1)),
    ("squeezenet_v1.1_deploy", get_spec("squeezenet1_1")),
    ("alexnet_deploy", get_spec("alexnet_caffe")),      # BVLC AlexNet: LRN, 2-group convs
    ("googlenet_deploy", get_spec("googlenet")),        # BVLC GoogLeNet, main classifier
])
def test_published_deploy_files_import_to_the_zoo_counts(fixture, zoo):
    imported = load(FIXTURES / f"{fixture}.prototxt")
    assert imported.input == zoo.input
    assert asdict(analyze(imported).totals) == asdict(analyze(_plus_softmax(zoo)).totals)
    def convs(spec):
        return [(n.out_shape, n.attrs["groups"]) for n in resolve(spec).nodes if n.type == "conv2d"]
    assert convs(imported) == convs(zoo)


def test_squeezenet_v1_0_published_parameter_count():
    # SqueezeNet paper, Table 1: 1,248,424 parameters; 4.8 "MB" = MiB at 32 bits.
    totals = analyze(load(FIXTURES / "squeezenet_v1.0_deploy.prototxt")).totals
    assert totals.params == 1_248_424 and round(totals.size_mib, 1) == 4.8


def test_names_and_caffe_pooling_rounding():
    spec = load(FIXTURES / "squeezenet_v1.0_deploy.prototxt")
    graph = resolve(spec)
    names = [n.name for n in graph.nodes]
    assert "fire2_squeeze1x1" in names and "fire2_concat" in names  # '/' is reserved in specs
    assert spec.meta["renamed"]["fire2_squeeze1x1"] == "fire2/squeeze1x1"
    assert "conv1" not in spec.meta["renamed"]  # only the names that changed
    assert graph.node("conv10").attrs["padding"] == (1, 1)
    assert spec.init == "xavier" and spec.meta["imported_from"] == "caffe prototxt"
    # Caffe rounds pooling up: GoogLeNet's 112x112 conv1 output pools to 56 (floor: 55), then
    # 56 to 28 (floor: 27), as the BVLC model's published blob shapes.
    google = resolve(load(FIXTURES / "googlenet_deploy.prototxt"))
    assert google.node("pool1_3x3_s2").out_shape == (64, 56, 56)
    assert google.node("pool2_3x3_s2").out_shape == (192, 28, 28)


SMALL = """
name: "small"
input: "data"
input_dim: 1  input_dim: 3  input_dim: 17  input_dim: 17
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 8 kernel_h: 3 kernel_w: 5 pad_h: 1 pad_w: 2 stride: 2
                      bias_term: false } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1"
  batch_norm_param { eps: 0.001 moving_average_fraction: 0.9 } }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" relu_param { negative_slope: 0.1 } }
layer { name: "branch" type: "Convolution" bottom: "conv1" top: "branch"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 group: 4 } }
layer { name: "bn2" type: "BatchNorm" bottom: "branch" top: "branch" }
layer { name: "sum" type: "Eltwise" bottom: "conv1" bottom: "branch" top: "sum" }
layer { name: "pool" type: "Pooling" bottom: "sum" top: "pool"
  pooling_param { pool: AVE kernel_size: 2 stride: 2 round_mode: FLOOR } }
layer { name: "drop" type: "Dropout" bottom: "pool" top: "pool"
  include { phase: TRAIN } }
layer { name: "gmax" type: "Pooling" bottom: "pool" top: "gmax"
  pooling_param { pool: MAX global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "gmax" top: "fc"
  inner_product_param { num_output: 10 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def test_layer_semantics_of_a_small_network():
    spec = from_prototxt(SMALL)
    graph = resolve(spec)
    conv = graph.node("conv1")
    assert conv.attrs["kernel"] == (3, 5) and conv.attrs["padding"] == (1, 2)
    assert conv.attrs["bias"] is False and conv.out_shape == (8, 9, 9)
    bn1, bn2 = graph.node("bn1"), graph.node("bn2")
    assert bn1.attrs["affine"] is True and bn1.attrs["eps"] == 0.001   # BatchNorm + Scale
    assert bn1.attrs["momentum"] == pytest.approx(0.1)                 # 1 - 0.9
    assert bn2.attrs["affine"] is False                                # BatchNorm alone
    assert graph.node("relu1").type == "leaky_relu"
    assert graph.node("branch").attrs["groups"] == 4
    assert graph.node("sum").type == "add" and graph.node("sum").inputs == ("relu1", "bn2")
    assert graph.node("pool").out_shape == (8, 4, 4)                   # FLOOR: 9 -> 4, not 5
    assert "drop" not in [n.name for n in graph.nodes]                 # TRAIN-only layer
    assert graph.node("gmax").type == "global_maxpool"
    assert graph.node("fc_flatten").type == "flatten"                  # InnerProduct flattens
    assert graph.node("prob").out_shape == (10,)
    totals = analyze(spec).totals
    # conv1 8*3*3*5 (no bias) + bn1 2*8 + branch 8*2*3*3 + 8 + fc 8*10 + 10
    assert totals.params == 360 + 16 + 144 + 8 + 80 + 10


def test_v1_layers_format_and_input_layer():
    text = """
    layers { name: "data" type: "Input" top: "data"
             input_param { shape { dim: 2 dim: 1 dim: 8 dim: 8 } } }
    layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" blobs_lr: 1
             convolution_param { num_output: 4 kernel_size: 3 } }
    layers { name: "relu" type: RELU bottom: "conv" top: "conv" }
    layers { name: "ip" type: INNER_PRODUCT bottom: "conv" top: "ip"
             inner_product_param { num_output: 3 } }
    """
    spec = from_prototxt(text, source="old.prototxt")
    assert spec.name == "old" and spec.input == (1, 8, 8)
    assert [layer.type for layer in spec.layers] == ["conv2d", "relu", "flatten", "linear"]


@pytest.mark.parametrize("text, line, words", [
    ('name: "x"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n'
     'layer {\n  name: "c"\n  type: "Convolution"\n  bottom: "data"\n  top: "c"\n'
     '  convolution_param { num_output: 4 kernel_size: 3 }\n', 7, "never closed"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer {\n name: "c"\n'
     ' type: "Convolution"\n bottom: "data" top: "c"\n convolution_param { num_output: 4\n'
     '   kernel_size: 3\n   kernle_size: 2 }\n}\n', 9, "kernle_size"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "s" '
     'type: "Slice"\n bottom: "data" top: "s" }\n', 3, "unsupported Caffe layer type 'Slice'"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n\nlayer { name: "c" '
     'type: "Convolution" bottom: "nothing" top: "c"\n convolution_param { num_output: 4 '
     'kernel_size: 3 } }\n', 4, "bottom 'nothing'"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "c" '
     'type: "Convolution" bottom: "data" top: "c"\n convolution_param { num_output: 4 '
     'kernel_size: 3 group: 2 } }\n', 3, "groups=2"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "c" '
     'type: "Convolution" bottom: "data" top: "c"\n convolution_param { num_output: 4 '
     'kernel_size: 3 } $ }\n', 4, "unexpected character"),
    ('layer { name: "d" type: "Data" top: "data" }\n', 1, "deploy prototxt"),
    ('name: "empty"\n', 1, "no input shape"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayr { name: "c" }\n', 3,
     "unknown top-level field 'layr'"),
    ('input: "data"\ninput_dim: 1\n\ninput_dim: 3\n', 1, "4 positive dims"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "s" '
     'type: "Scale" bottom: "data" top: "s" }\n', 3, "right after a BatchNorm"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "n" '
     'type: "LRN" bottom: "data" top: "n"\n lrn_param { local_size: 4 } }\n', 4,
     "odd local_size, got 4"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "p" '
     'type: "Pooling" bottom: "data" top: "p"\n pooling_param { kernel_size: 2 stride: 2\n'
     '  stride: 1 } }\n', 4, "'pooling_param.stride': may be given only once here"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "d" '
     'type: "Dropout" bottom: "data" top: "data"\n dropout_param { dropout_ratio: 0.4\n'
     '  scale_train: false } }\n', 5, "multiply by 0.6 (1 - dropout_ratio) at test time"),
    ('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "c" '
     'type: "Convolution" bottom: "data" top: "c"\n num_output: 4 kernel_size: 3 }\n', 4,
     "'num_output' does not apply to a Convolution layer (its settings go in "
     "convolution_param { ... })"),
    ('layer { name: "data" type: "Input" top: "data" include { stage: "deploy" }\n'
     '  input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\nlayer { name: "c" '
     'type: "Convolution" bottom: "data" top: "c"\n convolution_param { num_output: 4 '
     'kernel_size: 3 } }\n', 3, "bottom 'data' is written only by Input layer 'data' (line 1), "
     "which its include/exclude rules leave out"),
])
def test_errors_name_file_and_line(text, line, words):
    with pytest.raises(SpecError) as e:
        from_prototxt(text, source="bad.prototxt")
    assert f"bad.prototxt:{line}:" in str(e.value) and words in str(e.value)


def test_yaml_round_trip_and_cli_import(tmp_path, capsys):
    out = tmp_path / "sq.yaml"
    source = FIXTURES / "squeezenet_v1.1_deploy.prototxt"
    assert main(["import", str(source), "-o", str(out)]) == 0
    assert "1,235,496 parameters" in capsys.readouterr().err
    assert analyze(load(out)).totals == analyze(load(source)).totals
    assert main(["import", str(source)]) == 0
    assert analyze(loads(capsys.readouterr().out)).totals == analyze(load(source)).totals


def test_commands_read_prototxt_directly(tmp_path, capsys):
    source = FIXTURES / "alexnet_deploy.prototxt"
    assert main(["analyze", str(source), "--format", "json"]) == 0
    assert '"params": 60965224' in capsys.readouterr().out
    bad = tmp_path / "bad.prototxt"
    bad.write_text('input: "data"\ninput_dim: 1\n')
    assert main(["analyze", str(bad)]) == 2
    assert "bad.prototxt:1:" in capsys.readouterr().err
    assert main(["import", str(FIXTURES)]) == 2
    weights = tmp_path / "squeezenet_v1.1.caffemodel"
    weights.write_bytes(b"\x0a\x0dSqueezeNet")
    assert main(["import", str(weights)]) == 2
    assert "trained weights, which cnnspace does not read" in capsys.readouterr().err


@pytest.mark.parametrize("rules, kept", [
    ("include { phase: TRAIN }", False),
    ("include { phase: TEST }", True),
    ("include { phase: TEST } include { phase: TRAIN }", True),   # any include rule that holds
    ("include { phase: TRAIN } include { phase: TEST }", True),
    ("exclude { phase: TEST }", False),
    ("exclude { phase: TRAIN }", True),
    ("exclude { }", False),                                       # no phase: holds in every phase
    # Caffe's NetStateRule, for a deploy net's state (phase TEST, level 0, no stages):
    ('include { stage: "train" }', False),                        # a stage the net is not in
    ('exclude { stage: "train" }', True),
    ('exclude { not_stage: "train" }', False),                    # holds: the net lacks the stage
    ("include { min_level: 1 }", False), ("include { max_level: -1 }", False),
    ("include { phase: TEST max_level: 0 }", True),
])
def test_include_and_exclude_rules_as_caffe_filters_layers(rules, kept):
    text = ('input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n'
            'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"\n'
            '  convolution_param { num_output: 4 kernel_size: 3 } }\n'
            f'layer {{ name: "relu" type: "ReLU" bottom: "conv" top: "conv" {rules} }}\n')
    names = [n.name for n in resolve(from_prototxt(text)).nodes]
    assert ("relu" in names) == kept


@pytest.mark.parametrize("state, rules, kept", [
    ('state { stage: "deploy" }', 'include { stage: "deploy" }', True),
    ('state { stage: "deploy" }', 'exclude { stage: "deploy" }', False),
    ('state { stage: "deploy" }', 'include { not_stage: "deploy" }', False),
    ('state { level: 2 }', "include { min_level: 1 }", True),
    ('state { level: 2 }', "include { max_level: 1 }", False),
])
def test_rules_are_judged_in_the_state_the_file_declares(state, rules, kept):
    text = ('input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n' + state + '\n'
            'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"\n'
            '  convolution_param { num_output: 4 kernel_size: 3 } }\n'
            f'layer {{ name: "relu" type: "ReLU" bottom: "conv" top: "conv" {rules} }}\n')
    assert ("relu" in [n.name for n in resolve(from_prototxt(text)).nodes]) == kept


def test_import_of_one_layer_says_layer(tmp_path, capsys):
    source = tmp_path / "one.prototxt"
    source.write_text('name: "one"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
                      'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n')
    assert main(["import", str(source), "-o", str(tmp_path / "one.yaml")]) == 0
    assert "imported one.prototxt: 1 layer, input 3x8x8" in capsys.readouterr().err


def test_import_says_which_names_changed(tmp_path, capsys):
    source = tmp_path / "twice.prototxt"
    source.write_text('name: "twice"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
                      'layer { name: "a.b" type: "ReLU" bottom: "data" top: "x" }\n'
                      'layer { name: "a_b" type: "ReLU" bottom: "x" top: "y" }\n')
    assert main(["import", str(source), "-o", str(tmp_path / "twice.yaml")]) == 0
    err = capsys.readouterr().err
    assert "imported twice.prototxt: 2 layers, input 3x8x8" in err
    assert "2 layer names changed (a.b -> a_b, a_b -> a_b_2; all in the spec's meta.renamed)" \
        in err
    assert load(tmp_path / "twice.yaml").meta["renamed"] == {"a_b": "a.b", "a_b_2": "a_b"}


def _pooled(size, pool_param):
    return (f'input: "data"\ninput_shape {{ dim: 1 dim: 1 dim: {size} dim: {size} }}\n'
            f'layer {{ name: "p" type: "Pooling" bottom: "data" top: "p"\n'
            f'  pooling_param {{ {pool_param} }} }}\n')


def test_an_empty_last_window_caffe_keeps_is_refused_not_dropped_silently():
    # Caffe's PoolingLayer drops a ceil-rounded last window that starts past the input only when
    # it pads; a 1x1 window with stride 2 over 32 rows gives Caffe 17 windows, the last empty
    # (torch and cnnspace: 16). Another output size would change every later count.
    with pytest.raises(SpecError, match=r"bad.prototxt:3: layer 'p': field 'pooling_param.stride': "
                                        r"Caffe .* 17 windows .* 16"):
        from_prototxt(_pooled(32, "pool: MAX kernel_size: 1 stride: 2"), source="bad.prototxt")
    for fine in ("pool: MAX kernel_size: 1 stride: 2 round_mode: FLOOR",  # floor: no empty window
                 "pool: MAX kernel_size: 3 stride: 2"):                  # stride <= kernel
        from_prototxt(_pooled(32, fine))
    assert resolve(from_prototxt(_pooled(31, "pool: MAX kernel_size: 1 stride: 2"))
                   ).node("p").out_shape == (1, 16, 16)                 # Caffe agrees: 16


def test_nesting_too_deep_to_be_a_network_is_refused_in_one_line():
    text = "a " + "{ a " * 5000 + "}" * 5000
    with pytest.raises(SpecError, match=r"deep.prototxt:1: messages nested more than 100 levels"):
        from_prototxt(text, source="deep.prototxt")


def test_a_number_too_long_to_hold_names_its_line():
    text = 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: ' + "9" * 5000 + " }\n"
    with pytest.raises(SpecError, match=r"long.prototxt:2: the number 9999.* is too long"):
        from_prototxt(text, source="long.prototxt")


def test_a_file_saved_with_a_byte_order_mark_and_crlf_reads_as_any_other():
    text = ('\ufeffinput: "data"\r\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\r\n'
            'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\r\n')
    assert [layer.type for layer in from_prototxt(text).layers] == ["relu"]


@pytest.mark.parametrize("encoding", ["gbk", "latin-1"])
def test_comments_in_another_encoding_are_skipped_as_caffe_skips_them(tmp_path, encoding):
    # Refused as "not a text file": prototxts of Chinese repositories carry GBK comments.
    comment = "# 卷积层" if encoding == "gbk" else "# réseau"
    text = ('input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8  ' + comment
            + '\nlayer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n')
    path = tmp_path / "net.prototxt"
    path.write_bytes(text.encode(encoding))
    assert [layer.name for layer in load(path).layers] == ["r"]
    # outside a comment such bytes cannot be read as any name: refused by line
    path.write_bytes(text.replace('"r" type', '"卷积" type' if encoding == "gbk" else '"réseau" type')
                     .encode(encoding))
    with pytest.raises(SpecError, match=r"net.prototxt:2: bytes that are not UTF-8 text outside "
                                        "a comment"):
        load(path)


def _relu_after_conv(relu):
    return ('input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n'
            'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"\n'
            '  convolution_param { num_output: 4 kernel_size: 3 } }\n'
            f'layer {{ {relu} }}\n')


def test_a_phase_written_as_its_number_is_judged_and_any_other_refused():
    # caffe.proto: TRAIN = 0, TEST = 1; text format may give an enum by number. A TEST layer
    # once read as "not TEST" and was left out without a word.
    kept = _relu_after_conv('name: "relu" type: "ReLU" bottom: "conv" top: "conv" '
                            'include { phase: 1 }')
    assert "relu" in [n.name for n in resolve(from_prototxt(kept)).nodes]
    left_out = kept.replace("phase: 1", "phase: 0")
    assert "relu" not in [n.name for n in resolve(from_prototxt(left_out)).nodes]
    with pytest.raises(SpecError, match=r"bad.prototxt:4: layer 'relu': field 'include.phase': "
                                        r"expected TRAIN or TEST, got 2"):
        from_prototxt(kept.replace("phase: 1", "phase: 2"), source="bad.prototxt")


def test_a_top_written_by_two_layers_is_refused_as_caffe_does():
    # Not in place (bottom != top): Caffe stops with "produced by multiple sources"; imported,
    # the first writer became a second network output.
    text = _relu_after_conv('name: "conv2" type: "Convolution" bottom: "data" top: "conv"\n'
                            '  convolution_param { num_output: 4 kernel_size: 3 }')
    with pytest.raises(SpecError, match=r"bad.prototxt:4: layer 'conv2': field 'top': top "
                                        r"'conv' is already produced by an earlier layer"):
        from_prototxt(text, source="bad.prototxt")
    in_place = _relu_after_conv('name: "relu" type: "ReLU" bottom: "conv" top: "conv"')
    assert from_prototxt(in_place).outputs == ()


def test_an_unnamed_or_empty_named_layer_imports_with_a_generated_name():
    # An empty name once failed without a line number, from the spec's own name check.
    spec = from_prototxt(_relu_after_conv('name: "" type: "ReLU" bottom: "conv" top: "conv"'))
    assert [layer.name for layer in spec.layers] == ["conv", "layer1"]


@pytest.mark.parametrize("param, field", [("stride: 2", "stride"), ("pad: 1", "pad"),
                                          ("stride_h: 2 stride_w: 2", "stride_h")])
def test_global_pooling_with_a_stride_or_padding_is_refused_as_caffe_does(param, field):
    text = _pooled(8, f"pool: MAX global_pooling: true {param}")
    with pytest.raises(SpecError, match=rf"bad.prototxt:4: layer 'p': field "
                                        rf"'pooling_param.{field}': a global pooling layer"):
        from_prototxt(text, source="bad.prototxt")
    fine = _pooled(8, "pool: AVE global_pooling: true stride: 1 pad: 0")
    assert resolve(from_prototxt(fine)).node("p").out_shape == (1, 1, 1)


def test_a_batchnorm_output_read_apart_from_its_scale_is_refused():
    # BatchNorm + Scale become one affine batchnorm: a layer reading the unscaled blob got the
    # scaled values without a word.
    text = ('input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n'
            'layer { name: "bn" type: "BatchNorm" bottom: "data" top: "bn" }\n'
            'layer { name: "sc" type: "Scale" bottom: "bn" top: "sc" '
            'scale_param { bias_term: true } }\n'
            'layer { name: "raw" type: "ReLU" bottom: "bn" top: "raw" }\n')
    with pytest.raises(SpecError, match=r"bad.prototxt:4: layer 'raw': field 'bottom': bottom "
                                        r"'bn' is a BatchNorm output before Scale layer 'sc'"):
        from_prototxt(text, source="bad.prototxt")
    scaled = text.replace('bottom: "bn" top: "raw"', 'bottom: "sc" top: "raw"')
    assert resolve(from_prototxt(scaled)).node("raw").inputs == ("bn",)


@pytest.mark.parametrize("layer, words", [
    # a missing type read "got name '', type None"
    ('layer { name: "c" bottom: "data" top: "c" }', "bad.prototxt:3: layer 'c': field 'type': "
                                                    "a layer needs a type"),
    ('layer { name: "c" type: 7 bottom: "data" top: "c" }', "field 'type': a layer needs a type, "
                                                            "got 7"),
    ('layer { name: 7 type: "ReLU" bottom: "data" top: "c" }', "bad.prototxt:3: field 'name': "
                                                               "expected a quoted layer name"),
    ('layers { layer { name: "conv1" type: "conv" num_output: 96 } bottom: "data" top: "c" }',
     "bad.prototxt:3: this is Caffe's V0 format"),
])
def test_a_layer_without_a_type_or_in_the_v0_format_is_named(layer, words):
    text = 'input: "data"\ninput_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n' + layer + "\n"
    with pytest.raises(SpecError) as e:
        from_prototxt(text, source="bad.prototxt")
    assert words in str(e.value)


@pytest.mark.parametrize("state, rules, words", [
    # 'stag' held no condition: the layer was kept for every stage
    ("", 'include { stag: "train" }', "bad.prototxt:5: layer 'relu': unknown field 'stag' in "
                                      "an include rule"),
    ('state { levle: 2 }', "include { min_level: 1 }", "bad.prototxt:2: unknown field 'levle' "
                                                       "in the state"),
])
def test_a_misspelt_rule_or_state_field_is_refused(state, rules, words):
    text = ('input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n' + state + '\n'
            'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"\n'
            '  convolution_param { num_output: 4 kernel_size: 3 } }\n'
            f'layer {{ name: "relu" type: "ReLU" bottom: "conv" top: "conv" {rules} }}\n')
    with pytest.raises(SpecError) as e:
        from_prototxt(text, source="bad.prototxt")
    assert words in str(e.value)



@pytest.mark.parametrize("layer, kind, param", [
    ("layer", '"Convolution"', 'param { name: "w" lr_mult: 1 }'),
    ("layers", "CONVOLUTION", 'param: "w"'),                      # V1 names the param itself
])
def test_weights_shared_through_a_param_name_are_refused_not_counted_twice(layer, kind, param):
    text = 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n' + "".join(
        f'{layer} {{ name: "{name}" type: {kind} bottom: "{bottom}" top: "{name}" {param}\n'
        '  convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }\n'
        for name, bottom in (("c1", "data"), ("c2", "c1")))
    with pytest.raises(SpecError, match=r"siamese.prototxt:5: layer 'c2': field 'param': param "
                                        r"'w' is shared with layer 'c1'"):
        from_prototxt(text, source="siamese.prototxt")


def test_sigmoid_and_tanh_import_in_both_formats_and_keep_a_vector_flat():
    text = """
    input: "data" input_dim: 1 input_dim: 1 input_dim: 12 input_dim: 12
    layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv"
             convolution_param { num_output: 4 kernel_size: 5 } }
    layers { name: "tanh" type: TANH bottom: "conv" top: "conv" }
    layers { name: "ip1" type: INNER_PRODUCT bottom: "conv" top: "ip1"
             inner_product_param { num_output: 8 } }
    layers { name: "sigmoid" type: SIGMOID bottom: "ip1" top: "ip1" }
    layers { name: "ip2" type: INNER_PRODUCT bottom: "ip1" top: "ip2"
             inner_product_param { num_output: 2 } }
    """
    spec = from_prototxt(text)  # both were refused as unsupported layer types
    assert [layer.type for layer in spec.layers] == ["conv2d", "tanh", "flatten", "linear",
                                                     "sigmoid", "linear"]
    assert analyze(spec).totals.params == 4 * 25 + 4 + 4 * 8 * 8 * 8 + 8 + 8 * 2 + 2
    current = 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\nlayer { name: "s" '
    assert from_prototxt(current + 'type: "TanH" bottom: "data" top: "s"\n'
                         '  tanh_param { engine: CAFFE } }\n').layers[0].type == "tanh"


def test_many_layers_of_one_name_import_in_linear_time(monkeypatch):
    # free_name searched name_2, name_3, ... from the start for every layer: 20,000 ReLUs named
    # x/y (1.2 MB of prototxt) took 30 s. The names stay as they were.
    from cnnspace.spec import _caffe
    looked_up = 0
    real = _caffe.free_name

    class Counting:
        def __init__(self, names):
            self.names = names

        def __contains__(self, name):
            nonlocal looked_up
            looked_up += 1
            return name in self.names

    monkeypatch.setattr(_caffe, "free_name",
                        lambda name, taken, *rest: real(name, Counting(taken), *rest))
    n = 2000
    text = ('name: "n" input: "data" input_dim: 1 input_dim: 1 input_dim: 4 input_dim: 4\n'
            + "".join('layer { name: "x/y" type: "ReLU" bottom: "data" top: "data" }\n'
                      for _ in range(n)))
    names = [layer.name for layer in from_prototxt(text).layers]
    assert names[:3] == ["x_y", "x_y_2", "x_y_3"] and names[-1] == f"x_y_{n}"
    assert looked_up <= 2 * n  # a few per layer, not n^2 / 2 (2,000,000 here)
