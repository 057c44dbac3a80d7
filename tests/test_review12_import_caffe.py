"""Caffe deploy files of published networks, written as their authors laid them out: the import
gives the published parameter and multiply-accumulate counts, which torch's own counter agrees
with on the network built from the spec; dataset and loss layers are refused with a pointer to
the deploy file."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnspace import analyze
from cnnspace.cli import main
from cnnspace.nn import build
from cnnspace.spec import SpecError, from_prototxt, resolve


def _torch_counts(spec):
    """Parameters of the built network, and the multiply-accumulates of its convolutions and
    matrix products as torch counts them (on the meta device: shapes only, no memory)."""
    with torch.device("meta"):
        module = build(spec)
        x = torch.zeros(1, *spec.input)
    with FlopCounterMode(display=False) as counter:
        module(x)
    counts = counter.get_flop_counts()["Global"]
    macs = sum(v for op, v in counts.items()
               if str(op).split(".")[1] in ("convolution", "addmm", "mm")) // 2
    return sum(p.numel() for p in module.parameters()), macs


def _layer(name, kind, bottom, top, params=""):
    return (f'layer {{\n  name: "{name}"\n  type: "{kind}"\n  bottom: "{bottom}"\n'
            f'  top: "{top}"\n{params}}}\n')


def _mobilenet_v1():
    """shicai/MobileNet-Caffe's deploy layout: each convolution without bias, then BatchNorm,
    Scale and ReLU in place; depthwise convolutions as group = channels with engine: CAFFE; the
    classifier a 1x1 convolution after global average pooling."""
    text = ['name: "MobileNet-v1"\ninput: "data"\n'
            'input_dim: 1\ninput_dim: 3\ninput_dim: 224\ninput_dim: 224\n']

    def unit(name, bottom, out, kernel, stride, group=1):
        depthwise = f"group: {group} engine: CAFFE " if group > 1 else ""
        text.append(_layer(name, "Convolution", bottom, name,
                           "  param { lr_mult: 1 decay_mult: 1 }\n"
                           f"  convolution_param {{ num_output: {out} bias_term: false "
                           f"pad: {(kernel - 1) // 2} kernel_size: {kernel} {depthwise}"
                           f'stride: {stride} weight_filler {{ type: "msra" }} }}\n'))
        text.append(_layer(f"{name}/bn", "BatchNorm", name, name,
                           "  param { lr_mult: 0 decay_mult: 0 }\n" * 3))
        text.append(_layer(f"{name}/scale", "Scale", name, name,
                           "  scale_param { filler { value: 1 } bias_term: true "
                           "bias_filler { value: 0 } }\n"))
        text.append(_layer(f"relu{name[4:]}", "ReLU", name, name))
        return name

    top, channels = unit("conv1", "data", 32, 3, 2), 32
    for n, out, stride in [("2_1", 64, 1), ("2_2", 128, 2), ("3_1", 128, 1), ("3_2", 256, 2),
                           ("4_1", 256, 1), ("4_2", 512, 2), ("5_1", 512, 1), ("5_2", 512, 1),
                           ("5_3", 512, 1), ("5_4", 512, 1), ("5_5", 512, 1), ("5_6", 1024, 2),
                           ("6", 1024, 1)]:
        top = unit(f"conv{n}/sep", unit(f"conv{n}/dw", top, channels, 3, stride, channels),
                   out, 1, 1)
        channels = out
    text.append(_layer("pool6", "Pooling", top, "pool6",
                       "  pooling_param { pool: AVE global_pooling: true }\n"))
    text.append(_layer("fc7", "Convolution", "pool6", "fc7",
                       "  convolution_param { num_output: 1000 kernel_size: 1 "
                       'weight_filler { type: "msra" } '
                       'bias_filler { type: "constant" value: 0 } }\n'))
    text.append(_layer("prob", "Softmax", "fc7", "prob"))
    return "".join(text)


def _resnet50():
    """KaimingHe/deep-residual-networks' ResNet-50 deploy layout: input_dim, conv1 with a bias
    and every other convolution without, BatchNorm + Scale in place, the stride on branch2a (not
    on the 3x3 as torchvision), a ceil-rounded 3x3/2 max pool without padding, Eltwise sums
    written with their fields in another order, a 7x7 average pool, fc1000 on a feature map."""
    text = ['name: "ResNet-50"\ninput: "data"\n'
            'input_dim: 1\ninput_dim: 3\ninput_dim: 224\ninput_dim: 224\n']

    def conv(name, bottom, out, kernel, stride=1, pad=0, bias=False, relu=True):
        suffix = name[3:] if name.startswith("res") else f"_{name}"  # bn2a_branch1, bn_conv1
        text.append(_layer(name, "Convolution", bottom, name,
                           f"  convolution_param {{ num_output: {out} kernel_size: {kernel} "
                           f"pad: {pad} stride: {stride}"
                           f"{'' if bias else ' bias_term: false'} }}\n"))
        text.append(_layer(f"bn{suffix}", "BatchNorm", name, name,
                           "  batch_norm_param { use_global_stats: true }\n"))
        text.append(_layer(f"scale{suffix}", "Scale", name, name,
                           "  scale_param { bias_term: true }\n"))
        if relu:
            text.append(_layer(f"{name}_relu", "ReLU", name, name))
        return name

    top = conv("conv1", "data", 64, 7, 2, 3, bias=True)
    text.append(_layer("pool1", "Pooling", top, "pool1",
                       "  pooling_param { kernel_size: 3 stride: 2 pool: MAX }\n"))
    top = "pool1"
    for stage, blocks, planes in [(2, 3, 64), (3, 4, 128), (4, 6, 256), (5, 3, 512)]:
        for i in range(blocks):
            b, stride = f"{stage}{'abcdef'[i]}", 2 if i == 0 and stage > 2 else 1
            short = (conv(f"res{b}_branch1", top, planes * 4, 1, stride, relu=False) if i == 0
                     else top)
            x = conv(f"res{b}_branch2a", top, planes, 1, stride)
            x = conv(f"res{b}_branch2b", x, planes, 3, 1, 1)
            x = conv(f"res{b}_branch2c", x, planes * 4, 1, relu=False)
            text.append(f'layer {{ bottom: "{short}" bottom: "{x}" top: "res{b}" '
                        f'name: "res{b}" type: "Eltwise" }}\n')
            text.append(_layer(f"res{b}_relu", "ReLU", f"res{b}", f"res{b}"))
            top = f"res{b}"
    text.append(_layer("pool5", "Pooling", top, "pool5",
                       "  pooling_param { kernel_size: 7 stride: 1 pool: AVE }\n"))
    text.append(_layer("fc1000", "InnerProduct", "pool5", "fc1000",
                       "  inner_product_param { num_output: 1000 }\n"))
    text.append(_layer("prob", "Softmax", "fc1000", "prob"))
    return "".join(text)


# BVLC's reference CaffeNet deploy file as Caffe shipped it in 2014, in the V1 format: pooling
# before LRN (AlexNet has them the other way round), two-group convolutions.
CAFFENET_V1 = """name: "CaffeNet"
input: "data"
input_dim: 10
input_dim: 3
input_dim: 227
input_dim: 227
layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1"
  convolution_param { num_output: 96 kernel_size: 11 stride: 4 } }
layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" }
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layers { name: "norm1" type: LRN bottom: "pool1" top: "norm1"
  lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }
layers { name: "conv2" type: CONVOLUTION bottom: "norm1" top: "conv2"
  convolution_param { num_output: 256 pad: 2 kernel_size: 5 group: 2 } }
layers { name: "relu2" type: RELU bottom: "conv2" top: "conv2" }
layers { name: "pool2" type: POOLING bottom: "conv2" top: "pool2"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layers { name: "norm2" type: LRN bottom: "pool2" top: "norm2"
  lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }
layers { name: "conv3" type: CONVOLUTION bottom: "norm2" top: "conv3"
  convolution_param { num_output: 384 pad: 1 kernel_size: 3 } }
layers { name: "relu3" type: RELU bottom: "conv3" top: "conv3" }
layers { name: "conv4" type: CONVOLUTION bottom: "conv3" top: "conv4"
  convolution_param { num_output: 384 pad: 1 kernel_size: 3 group: 2 } }
layers { name: "relu4" type: RELU bottom: "conv4" top: "conv4" }
layers { name: "conv5" type: CONVOLUTION bottom: "conv4" top: "conv5"
  convolution_param { num_output: 256 pad: 1 kernel_size: 3 group: 2 } }
layers { name: "relu5" type: RELU bottom: "conv5" top: "conv5" }
layers { name: "pool5" type: POOLING bottom: "conv5" top: "pool5"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layers { name: "fc6" type: INNER_PRODUCT bottom: "pool5" top: "fc6"
  inner_product_param { num_output: 4096 } }
layers { name: "relu6" type: RELU bottom: "fc6" top: "fc6" }
layers { name: "drop6" type: DROPOUT bottom: "fc6" top: "fc6"
  dropout_param { dropout_ratio: 0.5 } }
layers { name: "fc7" type: INNER_PRODUCT bottom: "fc6" top: "fc7"
  inner_product_param { num_output: 4096 } }
layers { name: "relu7" type: RELU bottom: "fc7" top: "fc7" }
layers { name: "drop7" type: DROPOUT bottom: "fc7" top: "fc7"
  dropout_param { dropout_ratio: 0.5 } }
layers { name: "fc8" type: INNER_PRODUCT bottom: "fc7" top: "fc8"
  inner_product_param { num_output: 1000 } }
layers { name: "prob" type: SOFTMAX bottom: "fc8" top: "prob" }
"""


@pytest.mark.parametrize("text, params, macs", [
    # MobileNet v1 paper, Table 8: 4.2 million parameters, 569 million mult-adds
    (_mobilenet_v1(), 4_231_976, 568_740_352),
    # ResNet paper, Table 1: 3.8 x 10^9 "FLOPs" (multiply-adds) for the 50-layer net;
    # torchvision's 25,557,032 parameters plus the bias of Caffe's conv1
    (_resnet50(), 25_557_032 + 64, 3_857_973_248),
    # AlexNet's 60,965,224 (published-numbers.md); 724 million MACs
    (CAFFENET_V1, 60_965_224, 724_406_816),
])
def test_published_caffe_networks_give_their_counts(text, params, macs):
    spec = from_prototxt(text, "deploy.prototxt")
    totals = analyze(spec).totals
    assert (totals.params, totals.macs) == (params, macs)
    assert _torch_counts(spec) == (params, macs)


def test_caffe_layouts_keep_caffe_shapes_and_fields():
    resnet = resolve(from_prototxt(_resnet50()))
    assert resnet.node("pool1").out_shape == (64, 56, 56)  # ceil: 112 -> 56 without padding
    assert resnet.node("res5c").out_shape == (2048, 7, 7)
    assert resnet.node("res3a_branch2a").attrs["stride"] == (2, 2)
    assert resnet.node("bn_conv1").attrs["affine"] is True  # BatchNorm + Scale
    assert resnet.node("res2a").type == "add"
    assert resnet.node("fc1000_flatten").out_shape == (2048,)
    mobilenet = resolve(from_prototxt(_mobilenet_v1()))
    dw = mobilenet.node("conv5_6_dw")
    assert dw.attrs["groups"] == 512 and dw.out_shape == (512, 7, 7)
    caffenet = resolve(from_prototxt(CAFFENET_V1))
    assert caffenet.node("norm1").in_shapes[0] == (96, 27, 27)  # pooled first, then LRN
    assert caffenet.node("conv2").attrs["groups"] == 2
    assert caffenet.node("prob").out_shape == (1000,)


@pytest.mark.parametrize("layer, kind", [
    ('layer { name: "loss" type: "SigmoidCrossEntropyLoss" bottom: "c" bottom: "data" '
     'top: "loss" }', "SigmoidCrossEntropyLoss"),
    ('layers { name: "d" type: HDF5_DATA top: "x" }', "HDF5_DATA"),
    ('layers { name: "loss" type: INFOGAIN_LOSS bottom: "c" bottom: "data" top: "loss" }',
     "INFOGAIN_LOSS"),
])
def test_every_loss_and_data_layer_points_at_the_deploy_file(layer, kind):
    # were "unsupported Caffe layer type" with the list of supported ones
    conv = ("layers" if "layers" in layer else "layer") + (
        ' { name: "c" type: ' + ("CONVOLUTION" if "layers" in layer else '"Convolution"')
        + ' bottom: "data" top: "c" convolution_param { num_output: 2 kernel_size: 1 } }\n')
    text = 'input: "data"\ninput_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4\n' + conv + layer
    with pytest.raises(SpecError, match=rf"train\.prototxt:4: layer '\w+': a {kind} layer reads a "
                                        "dataset or computes a loss; import the deploy"):
        from_prototxt(text, "train.prototxt")


def test_cli_import_of_a_v1_file_and_of_a_training_file(tmp_path, capsys):
    source = tmp_path / "caffenet.prototxt"
    source.write_text(CAFFENET_V1)
    assert main(["import", str(source), "-o", str(tmp_path / "caffenet.yaml")]) == 0
    assert "60,965,224 parameters, 724 MMACs" in capsys.readouterr().err
    train = tmp_path / "train_val.prototxt"
    train.write_text('layer { name: "data" type: "HDF5Data" top: "data" }\n')
    assert main(["import", str(train)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train_val.prototxt:1:" in err and "deploy" in err


# DeepLab-LargeFOV's head (Chen et al. 2015, its deploy file's layout): max pools of kernel 3 and
# stride 1 with pad 1 (ceil-rounded: they keep the size), an atrous fc6 of dilation 12, 1x1 fc7
# and fc8 as convolutions; a non-square kernel with its own pad_h / pad_w in front.
DEEPLAB_HEAD = """name: "deeplab_largefov_head"
input: "data"
input_shape { dim: 1 dim: 3 dim: 41 dim: 41 }
layer { name: "conv5_3" type: "Convolution" bottom: "data" top: "conv5_3"
  convolution_param { num_output: 16 kernel_h: 1 kernel_w: 3 pad_h: 0 pad_w: 1 } }
layer { name: "relu5_3" type: "ReLU" bottom: "conv5_3" top: "conv5_3" }
layer { name: "pool5" type: "Pooling" bottom: "conv5_3" top: "pool5"
  pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 } }
layer { name: "pool5a" type: "Pooling" bottom: "pool5" top: "pool5a"
  pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 } }
layer { name: "fc6" type: "Convolution" bottom: "pool5a" top: "fc6"
  convolution_param { num_output: 32 pad: 12 kernel_size: 3 dilation: 12 } }
layer { name: "relu6" type: "ReLU" bottom: "fc6" top: "fc6" }
layer { name: "drop6" type: "Dropout" bottom: "fc6" top: "fc6"
  dropout_param { dropout_ratio: 0.5 } }
layer { name: "fc7" type: "Convolution" bottom: "fc6" top: "fc7"
  convolution_param { num_output: 32 kernel_size: 1 } }
layer { name: "relu7" type: "ReLU" bottom: "fc7" top: "fc7" }
layer { name: "fc8_voc12" type: "Convolution" bottom: "fc7" top: "fc8_voc12"
  convolution_param { num_output: 21 kernel_size: 1 bias_term: false } }
"""


def test_atrous_and_non_square_caffe_layers_compute_the_shapes_they_declare():
    spec = from_prototxt(DEEPLAB_HEAD, "deeplab.prototxt")
    graph = resolve(spec)
    fc6 = graph.node("fc6")
    assert fc6.attrs["dilation"] == (12, 12) and fc6.out_shape == (32, 41, 41)
    assert graph.node("conv5_3").attrs["kernel"] == (1, 3)
    assert graph.node("pool5").attrs["ceil_mode"] is True
    params = 16 * 3 * 3 + 16 + 32 * 16 * 9 + 32 + 32 * 32 + 32 + 21 * 32
    macs = 41 * 41 * (16 * 3 * 3 + 32 * 16 * 9 + 32 * 32 + 21 * 32)
    assert (analyze(spec).totals.params, analyze(spec).totals.macs) == (params, macs)
    assert _torch_counts(spec) == (params, macs)
    with torch.no_grad():  # torch, run, gives the shape the spec declares
        assert build(spec).eval()(torch.zeros(1, 3, 41, 41)).shape == (1, 21, 41, 41)
