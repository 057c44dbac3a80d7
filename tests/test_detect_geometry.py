"""Anchors, box encoding, IoU, NMS, target assignment and the loss, on hand-computed cases."""
import math

import pytest
import torch

from cnnspace import get_spec
from cnnspace.detect import (ConvDetLayout, LossWeights, SqueezeDetLoss, anchor_grid, assign,
                             average_precision, batched_nms, centres_to_corners,
                             corners_to_centres, decode, elementwise_iou, encode, encode_targets,
                             fit_shapes, layout_for, nms, pairwise_iou, postprocess, safe_exp,
                             scale_shapes)
from cnnspace.errors import CnnspaceError


def test_anchor_grid_centres_every_shape_on_every_cell_row_major():
    anchors = anchor_grid((2, 3), (20, 30), [[4, 6], [8, 2]])
    assert anchors.shape == (2 * 3 * 2, 4)
    assert anchors[0].tolist() == [5, 5, 4, 6]        # row 0, col 0, shape 0
    assert anchors[1].tolist() == [5, 5, 8, 2]        # same cell, shape 1
    assert anchors[2].tolist() == [15, 5, 4, 6]       # row 0, col 1
    assert anchors[11].tolist() == [25, 15, 8, 2]     # row 1, col 2, shape 1


def test_layout_split_pairs_predictions_with_anchors_in_the_same_order():
    layout = ConvDetLayout(num_classes=2, anchors_per_cell=3, grid=(2, 4))
    out = torch.zeros(1, layout.channels, 2, 4)
    for r in range(2):
        for c in range(4):
            for k in range(3):
                code = 100 * r + 10 * c + k
                out[0, 3 * 2 + k, r, c] = code                         # confidence of anchor k
                out[0, 3 * 3 + 4 * k:3 * 3 + 4 * k + 4, r, c] = code   # its 4 deltas
                out[0, 2 * k:2 * k + 2, r, c] = code                   # its 2 class scores
    classes, conf, deltas = layout.split(out)
    expected = torch.tensor([100 * r + 10 * c + k for r in range(2) for c in range(4)
                             for k in range(3)], dtype=torch.float32)
    assert torch.equal(conf[0], expected)
    assert torch.equal(deltas[0], expected[:, None].expand(-1, 4))
    assert torch.equal(classes[0], expected[:, None].expand(-1, 2))
    assert len(anchor_grid(layout.grid, (20, 40), [[1, 1]] * 3)) == layout.num_anchors


def test_encode_by_hand_and_decode_round_trip():
    anchor = torch.tensor([10., 10., 4., 4.])
    box = torch.tensor([12., 10., 8., 4.])
    assert encode(box, anchor).tolist() == pytest.approx([0.5, 0.0, math.log(2), 0.0])
    torch.manual_seed(0)
    anchors = torch.cat((torch.rand(200, 2) * 100, torch.rand(200, 2) * 40 + 5), 1)
    # Sizes from a tenth to ten times the anchor: beyond exp(clip) the encoding is linear.
    sizes = anchors[:, 2:] * torch.exp(torch.randn(200, 2))
    boxes = torch.cat((torch.rand(200, 2) * 100, sizes), 1)
    assert torch.allclose(decode(encode(boxes, anchors), anchors), boxes, atol=1e-4)
    corners = centres_to_corners(boxes)
    assert torch.allclose(corners_to_centres(corners), boxes, atol=1e-4)


def test_safe_exp_is_exp_then_its_tangent():
    assert safe_exp(torch.tensor(0.5)).item() == pytest.approx(math.exp(0.5))
    assert safe_exp(torch.tensor(1.0)).item() == pytest.approx(math.e)
    assert safe_exp(torch.tensor(3.0)).item() == pytest.approx(3 * math.e)  # e * (3 - 1 + 1)
    assert torch.isfinite(safe_exp(torch.tensor(1e6)))


def test_iou_by_hand():
    a = torch.tensor([[0., 0., 2., 2.], [0., 0., 1., 1.]])
    b = torch.tensor([[1., 1., 3., 3.], [5., 5., 6., 6.], [0., 0., 2., 2.]])
    iou = pairwise_iou(a, b)
    assert iou.tolist()[0] == pytest.approx([1 / 7, 0.0, 1.0])
    assert iou.tolist()[1] == pytest.approx([0.0, 0.0, 0.25])
    assert elementwise_iou(a, b[[0, 2]]).tolist() == pytest.approx([1 / 7, 0.25])
    assert pairwise_iou(a, torch.zeros(0, 4)).shape == (2, 0)


def test_nms_by_hand_keeps_what_its_suppressor_lost():
    boxes = torch.tensor([[0., 0., 10., 10.],    # A .90
                          [1., 1., 11., 11.],    # B .80: IoU 81/119 with A, 36/114 with D
                          [20., 20., 30., 30.],  # C .70: alone
                          [0., 0., 10., 5.]])    # D .95: IoU 0.5 with A
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    # D removes A; B survives because only A (now gone) overlapped it by more than 0.4.
    assert nms(boxes, scores, 0.4).tolist() == [3, 1, 2]
    assert nms(boxes, scores, 0.6).tolist() == [3, 0, 2]  # 0.5 < 0.6 keeps A, which removes B
    labels = torch.tensor([0, 1, 0, 1])
    assert batched_nms(boxes, scores, labels, 0.4).tolist() == [3, 0, 1, 2]
    assert nms(torch.zeros(0, 4), torch.zeros(0)).tolist() == []


def test_assign_gives_each_object_its_own_best_anchor():
    anchors = torch.tensor([[5., 5., 10., 10.], [6., 5., 10., 10.], [50., 50., 4., 4.]])
    gt = torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.], [90., 90., 92., 92.]])
    # The first two both overlap anchors 0 and 1 best; the third overlaps nothing: nearest.
    assert assign(gt, anchors).tolist() == [0, 1, 2]
    # Anchor 1 overlaps box 0 by 9/11: with positive_iou 0.5 it also takes box 0... unless a
    # box claims it as its best: box 1 keeps it.
    assert assign(gt[:1], anchors, positive_iou=0.5).tolist() == [0, 0, -1]
    assert assign(gt[:2], anchors, positive_iou=0.5).tolist() == [0, 1, -1]
    target = encode_targets(gt[:1], torch.tensor([2]), anchors)
    assert target[:, 0].tolist() == [1, 0, 0]
    assert encode_targets(gt[:1], torch.tensor([2]), anchors, 0.5)[:, 0].tolist() == [1, 1, 0]
    assert target[0, 5:9].tolist() == [0, 0, 10, 10] and target[0, 9] == 2


def _setup():
    layout = ConvDetLayout(num_classes=2, anchors_per_cell=1, grid=(1, 2))
    anchors = anchor_grid(layout.grid, (10, 20), [[10, 10]])  # centres (5, 5) and (15, 5)
    target = encode_targets(torch.tensor([[0., 0., 10., 10.]]), torch.tensor([1]), anchors)
    return layout, anchors, target[None]


def _output(layout, cls_logits, conf_logits, deltas):
    """(1, C*K + K + 4K, 1, 2) from per-anchor lists."""
    per_cell = [list(c) + [f] + list(d) for c, f, d in zip(cls_logits, conf_logits, deltas)]
    return torch.tensor(per_cell, dtype=torch.float32).T.reshape(1, layout.channels, 1, 2)


def test_loss_terms_by_hand():
    layout, anchors, target = _setup()
    loss = SqueezeDetLoss(layout, anchors, LossWeights(bbox=5, conf_pos=75, conf_neg=100, cls=1))
    big = 20.0
    # Anchor 0 is responsible: exact box, confident, right class; anchor 1 says "no object".
    perfect = _output(layout, [[-big, big], [0, 0]], [big, -big], [[0, 0, 0, 0], [0, 0, 0, 0]])
    parts = loss.parts(perfect, target)
    assert all(v.item() == pytest.approx(0, abs=1e-6) for v in parts.values())
    # dx off by 1 (box moved a full width: IoU 0), confidence 0.5, class scores tied.
    wrong = _output(layout, [[0, 0], [0, 0]], [0, 0], [[1, 0, 0, 0], [0, 0, 0, 0]])
    parts = loss.parts(wrong, target)
    assert parts["bbox"].item() == pytest.approx(5 * 1)
    assert parts["confidence"].item() == pytest.approx(75 * 0.25 + 100 * 0.25)
    assert parts["class"].item() == pytest.approx(math.log(2))
    assert loss(wrong, target).item() == pytest.approx(5 + 43.75 + math.log(2))


def test_loss_gradient_moves_predictions_towards_targets():
    layout, anchors, target = _setup()
    loss = SqueezeDetLoss(layout, anchors)
    out = torch.zeros(1, layout.channels, 1, 2, requires_grad=True)
    opt = torch.optim.SGD([out], lr=0.01)
    first = loss(out, target).item()
    for _ in range(50):
        opt.zero_grad()
        loss(out, target).backward()
        opt.step()
    assert loss(out, target).item() < first / 2
    dets = postprocess(out, layout, anchors, (10, 20), score_threshold=0.01)[0]
    assert dets.labels[0] == 1
    assert pairwise_iou(dets.boxes[:1], torch.tensor([[0., 0., 10., 10.]])) > 0.9


def test_postprocess_scores_are_class_probability_times_confidence():
    layout, anchors, _ = _setup()
    out = _output(layout, [[0, math.log(3)], [0, 0]], [0, -30], [[0, 0, 0, 0], [0, 0, 0, 0]])
    dets = postprocess(out, layout, anchors, (10, 20), score_threshold=0.01)[0]
    assert len(dets) == 1
    assert dets.scores[0].item() == pytest.approx(0.75 * 0.5)  # softmax(0, ln 3) x sigmoid(0)
    assert dets.boxes[0].tolist() == pytest.approx([0, 0, 10, 10])


def test_fit_shapes_recovers_clusters_and_scales():
    sizes = [[10, 20]] * 30 + [[40, 40]] * 30 + [[80, 30]] * 30
    assert fit_shapes(sizes, 3) == [[10, 20], [40, 40], [80, 30]]
    # Most boxes of one size (whole pixels repeat): drawing it twice as a starting centre left
    # two equal shapes, [[10, 20], [10, 20], [60, 35]], one of them never used.
    assert fit_shapes([[10, 20]] * 80 + [[40, 40]] * 10 + [[80, 30]] * 10, 3) == \
        [[10, 20], [40, 40], [80, 30]]
    assert scale_shapes([[36, 37]], (384, 1248), (192, 624)) == [[18, 18.5]]


def test_inconsistent_inputs_are_errors_not_wrong_results():
    boxes = torch.tensor([[0.0, 0, 2, 2], [1, 1, 3, 3], [5, 5, 6, 6]])
    with pytest.raises(CnnspaceError, match=r"N boxes \(N, 4\) and N scores .* \[3, 4\] .* \[2\]"):
        nms(boxes, torch.tensor([0.9, 0.8]))
    with pytest.raises(CnnspaceError, match=r"shape \(N, 4\), got \[3\]"):
        pairwise_iou(boxes[0, :3], boxes)
    with pytest.raises(CnnspaceError, match="one length"):
        average_precision([0.1, 0.5, 1.0], [1.0, 0.5])
    # 3 classes x 9 anchors = 72 channels = 8 anchors x (4 + 5): the class count is recorded.
    spec = get_spec("squeezedet", num_classes=3, input=(3, 64, 64))
    assert layout_for(spec, 3).anchors_per_cell == 9
    with pytest.raises(CnnspaceError, match="built for 3 classes, not 4"):
        layout_for(spec, 4)
