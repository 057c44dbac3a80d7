"""Which layers share their input's memory: decided once in the spec, obeyed by the builder and
counted by the analysis (an activation computed in place adds no memory; one that cannot be,
because another layer still reads its input, does)."""
import pytest
import torch
import torch.nn.functional as F

from cnnspace import analyze
from cnnspace.nn import build
from cnnspace.spec import loads

# bn is read by the relu and by the add: the relu cannot overwrite it.
TWO_READERS = loads("""
name: two_readers
input: [3, 8, 8]
layers:
  - {name: c, type: conv2d, out_channels: 4, kernel: 3, padding: 1, bias: false}
  - {name: bn, type: batchnorm}
  - {name: r, type: relu}
  - {name: s, type: add, inputs: [r, bn]}
""")

# The relu's own input (a flatten) has one reader, but the flatten is a view of c, which the
# global pool reads after the relu has run: in place, the pool would see rectified values.
THROUGH_A_VIEW = loads("""
name: through_a_view
input: [2, 4, 4]
outputs: [r, pool]
layers:
  - {name: c, type: conv2d, out_channels: 3, kernel: 3, padding: 1}
  - {name: f, type: flatten}
  - {name: r, type: relu}
  - {name: pool, type: global_avgpool, inputs: [c]}
""")


def _activations(spec) -> dict[str, int]:
    return {m.name: m.activations for m in analyze(spec).layers}


def test_an_activation_whose_input_is_read_elsewhere_is_counted_and_not_run_in_place():
    graph = TWO_READERS.resolve()
    assert not graph.node("r").aliases and _activations(TWO_READERS)["r"] == 4 * 8 * 8
    module = build(TWO_READERS).eval()
    assert module.layers["r"].inplace is False
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        bn = module.layers["bn"](module.layers["c"](x))
        assert torch.equal(module(x), torch.relu(bn) + bn)  # bn not rectified under the add


def test_in_place_is_refused_through_a_view_of_a_tensor_read_later():
    assert not THROUGH_A_VIEW.resolve().node("r").aliases
    assert _activations(THROUGH_A_VIEW)["f"] == 0  # a view still shares memory
    module = build(THROUGH_A_VIEW).eval()
    x = torch.randn(1, 2, 4, 4)
    with torch.no_grad():
        _, pooled = module(x)
        conv = module.layers["c"]
        expected = F.conv2d(x, conv.weight, conv.bias, padding=1).mean((2, 3))
    assert torch.allclose(pooled.flatten(1), expected)


def test_an_activation_alone_on_its_input_runs_in_place_and_adds_no_memory():
    spec = loads("""
name: chain
input: [3, 8, 8]
layers:
  - {name: c, type: conv2d, out_channels: 4, kernel: 3}
  - {name: r1, type: relu6}
  - {name: r2, type: relu}
  - {name: first, type: relu, inputs: [input]}
  - {name: out, type: concat, inputs: [r2, r2]}
outputs: [out, first]
""")
    acts = _activations(spec)
    assert acts["r1"] == acts["r2"] == 0 and acts["c"] == 4 * 6 * 6
    assert acts["first"] == 3 * 8 * 8  # never over the caller's input
    module = build(spec)
    assert module.layers["r1"].inplace and module.layers["r2"].inplace
    assert not module.layers["first"].inplace


def test_a_block_whose_inner_tensor_is_read_outside_it_does_not_overwrite_it():
    # The Fire block alone runs its squeeze ReLU in place; a layer outside that reads the
    # squeeze convolution's output changes that, in this network only (blocks are memoised).
    plain = loads("""
name: plain
input: [3, 8, 8]
layers:
  - {name: fire2, type: fire, squeeze: 4, expand1x1: 4, expand3x3: 4}
""")
    tapped = loads("""
name: tapped
input: [3, 8, 8]
outputs: [fire2, tap]
layers:
  - {name: fire2, type: fire, squeeze: 4, expand1x1: 4, expand3x3: 4}
  - {name: tap, type: global_avgpool, inputs: [fire2/squeeze1x1]}
""")
    relu = "fire2/squeeze1x1_relu"
    assert plain.resolve().node(relu).aliases
    assert not tapped.resolve().node(relu).aliases
    assert plain.resolve().node(relu).aliases  # the other network's flag is its own
    assert _activations(tapped)[relu] == 4 * 8 * 8 and _activations(plain)[relu] == 0
    module = build(tapped).eval()
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        _, tap = module(x)
        squeeze = module.layers["fire2/squeeze1x1"]
        expected = F.conv2d(x, squeeze.weight, squeeze.bias).mean((2, 3))
    assert torch.allclose(tap.flatten(1), expected)  # not rectified by the ReLU


def test_a_concat_of_one_input_is_a_copy_so_an_in_place_relu_after_it_spares_its_input():
    # The analysis counts a concat's output as memory of its own; were one input passed
    # through, the in-place ReLU after it would rectify c under the sigmoid that also reads it.
    spec = loads("""
name: one_input_concat
input: [1, 4, 4]
layers:
  - {name: c, type: conv2d, out_channels: 2, kernel: 1}
  - {name: cat, type: concat, inputs: [c]}
  - {name: r, type: relu}
  - {name: s, type: sigmoid, inputs: [c]}
  - {name: out, type: concat, inputs: [r, s]}
""")
    assert spec.resolve().node("r").aliases and _activations(spec)["cat"] == 2 * 4 * 4
    module = build(spec).eval()
    x = torch.randn(1, 1, 4, 4)
    with torch.no_grad():
        conv = module.layers["c"](x)
        out = module(x)
    assert torch.equal(out, torch.cat([torch.relu(conv), torch.sigmoid(conv)], dim=1))


@pytest.mark.parametrize("before", ["sigmoid", "tanh", "softmax", "relu", "leaky_relu"])
def test_an_activation_is_not_run_in_place_over_an_output_whose_gradient_needs_it(before):
    # torch computes these layers' gradients from their own output: a ReLU overwriting it in
    # place makes backward fail ("modified by an inplace operation"), so training would.
    spec = loads(f"""
name: after_{before}
input: [2, 4, 4]
layers:
  - {{name: c, type: conv2d, out_channels: 3, kernel: 1}}
  - {{name: a, type: {before}}}
  - {{name: f, type: flatten}}
  - {{name: r, type: relu6}}
""")
    assert not spec.resolve().node("r").aliases and _activations(spec)["r"] == 3 * 4 * 4
    module = build(spec).train()
    module(torch.randn(2, 2, 4, 4)).sum().backward()
    assert module.layers["c"].weight.grad is not None


def test_in_place_over_outputs_whose_gradient_does_not_need_them_is_kept():
    spec = loads("""
name: after_relu6
input: [2, 4, 4]
layers:
  - {name: c, type: conv2d, out_channels: 3, kernel: 1}
  - {name: b, type: batchnorm}
  - {name: r6, type: relu6}
  - {name: r, type: relu}
""")
    graph = spec.resolve()
    assert graph.node("r6").aliases and graph.node("r").aliases
    build(spec).train()(torch.randn(2, 2, 4, 4)).sum().backward()
