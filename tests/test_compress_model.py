"""Pruning, weight sharing, SVD and int8 on real torch models: single steps, or one epoch of
the project's trainer."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnspace import analyze, get_spec
from cnnspace.compress import (Coding, CompressError, Schedule, apply_masks, cluster,
                               decompress, factorise, freeze, live_weights, magnitude_masks,
                               predict, quantize_int8, squeezenet_table1_schedule, tie, untie,
                               weighted_layers, write_cnnz)
from cnnspace.nn import build
from cnnspace.spec import loads

SMALL_FC = loads("""
name: small_fc
input: [1, 16, 16]
layers:
  - {name: conv1, type: conv2d, out_channels: 8, kernel: 3, padding: 1}
  - {name: relu1, type: relu}
  - {name: pool1, type: maxpool, kernel: 2}
  - {name: proj, type: conv2d, out_channels: 16, kernel: 1, padding: 1}
  - {name: flatten, type: flatten}
  - {name: fc1, type: linear, out_features: 64}
  - {name: relu2, type: relu}
  - {name: fc2, type: linear, out_features: 10}
""")


def _model(spec, seed=0):
    torch.manual_seed(seed)
    return build(spec, init="kaiming_uniform")


def _layers(spec):
    return [n.name for n in weighted_layers(spec)]


def test_magnitude_masks_keep_the_largest_and_never_regrow():
    model = _model(SMALL_FC)
    masks = magnitude_masks(model, {"fc1": 0.75, "conv1": 0.0})
    w = model.layers["fc1"].weight.detach()
    kept = masks["fc1"]
    assert kept.sum() == 0.25 * w.numel() and masks["conv1"].all()
    assert w[kept].abs().min() >= w[~kept].abs().max()
    with torch.no_grad():
        model.layers["fc1"].weight.mul_(kept).add_(~kept * 10.0)  # pruned weights grow large
    again = magnitude_masks(model, {"fc1": 0.875}, previous={"fc1": kept})
    assert again["fc1"].sum() == w.numel() // 8 and not (again["fc1"] & ~kept).any()


def test_dead_weights_go_first_and_change_no_output():
    spec = get_spec("squeezenet1_1", num_classes=10, input=(1, 32, 32))
    model = _model(spec).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        reference = model(x)
    live = live_weights(spec)
    masks = magnitude_masks(model, {n: 0.0 for n in _layers(spec)}, live=live)
    assert masks["fire9/expand3x3"].sum() == 64 * 256 and masks["fire5/expand3x3"].all()
    apply_masks(model, masks)
    with torch.no_grad():
        assert torch.allclose(model(x), reference, atol=1e-6)
    again = magnitude_masks(model, {"fire9/expand3x3": 0.95}, previous=masks, live=live)
    kept = again["fire9/expand3x3"]
    assert kept.sum() == 7373 and not (kept & ~masks["fire9/expand3x3"]).any()  # ceil(5%)


def test_masked_training_keeps_pruned_weights_zero():
    model = _model(SMALL_FC)
    masks = magnitude_masks(model, {n: 0.5 for n in _layers(SMALL_FC)})
    apply_masks(model, masks)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=0.1)
    x, y = torch.randn(16, 1, 16, 16), torch.randint(0, 10, (16,))
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    freeze(model, masks)
    for name, mask in masks.items():
        w = model.layers[name].weight
        assert not w[~mask].any() and w[mask].count_nonzero() > 0.9 * mask.sum()
        assert "parametrizations" not in dict(model.named_parameters()).get(name, name)
    assert set(model.state_dict()) == set(_model(SMALL_FC).state_dict())


def test_centroid_gradient_is_the_sum_over_its_cluster():
    model = _model(SMALL_FC)
    masks = magnitude_masks(model, {n: 0.5 for n in _layers(SMALL_FC)})
    apply_masks(model, masks)
    freeze(model, masks)
    codes = cluster(model, masks, {n: 3 for n in masks})
    assert all(len(c.codebook) <= 7 for c in codes.values())     # 2**3 - 1: index 0 is zero
    x, y = torch.randn(8, 1, 16, 16), torch.randint(0, 10, (8,))
    plain = _model(SMALL_FC)
    plain.load_state_dict({k: v for k, v in model.state_dict().items()})
    for name, code in codes.items():
        with torch.no_grad():
            plain.layers[name].weight.copy_(torch.from_numpy(code.dense()))
    F.cross_entropy(plain(x), y).backward()
    tie(model, codes)
    F.cross_entropy(model(x), y).backward()
    code = codes["fc1"]
    grad = plain.layers["fc1"].weight.grad.flatten()[torch.from_numpy(code.mask)].double()
    expected = torch.zeros(len(code.codebook), dtype=torch.float64).index_add_(
        0, torch.from_numpy(code.labels), grad)
    centroids = model.layers["fc1"].parametrizations.weight.original
    assert torch.allclose(centroids.grad.double(), expected, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        centroids -= 0.1 * centroids.grad
    tuned = untie(model, codes)
    w = model.layers["fc1"].weight
    assert torch.equal(w, torch.from_numpy(tuned["fc1"].dense()))
    assert not w[~masks["fc1"]].any() and len(torch.unique(w[masks["fc1"]])) <= 7
    assert not np.array_equal(tuned["fc1"].codebook, code.codebook)


def test_the_trainer_retrains_with_masks_and_shared_centroids():
    # Retraining is cnnspace.train.train on the parametrized model: no hook, no second loop.
    from cnnspace.data import get_dataset
    from cnnspace.train import TrainConfig, train
    data = get_dataset("digits", image_size=16)
    model = _model(SMALL_FC)
    masks = magnitude_masks(model, {n: 0.7 for n in _layers(SMALL_FC)})
    apply_masks(model, masks)
    before = {n: model.layers[n].weight.detach().clone() for n in masks}
    config = TrainConfig(epochs=1, lr=1e-3, progress=False, device="cpu")
    train(model, data, config)
    freeze(model, masks)
    for name, mask in masks.items():
        w = model.layers[name].weight
        assert not w[~mask].any() and not torch.equal(w, before[name])
    codes = cluster(model, masks, {n: 4 for n in masks})
    tie(model, codes)
    train(model, data, config)
    tuned = untie(model, codes)
    for name, mask in masks.items():
        w = model.layers[name].weight
        assert not w[~mask].any() and len(torch.unique(w[mask])) <= 15
        assert not np.array_equal(tuned[name].codebook, codes[name].codebook)


def test_decompress_restores_the_model_bit_exactly(tmp_path):
    model = _model(SMALL_FC)
    masks = magnitude_masks(model, {n: 0.6 for n in _layers(SMALL_FC)})
    apply_masks(model, masks)
    freeze(model, masks)
    codes = untie(model, cluster(model, masks, {"conv1": 8, "proj": 32, "fc1": 5, "fc2": 5}))
    state = model.state_dict()
    tensors = {k: codes[k[len("layers."):-len(".weight")]] if k.endswith(".weight") else v.numpy()
               for k, v in state.items()}
    write_cnnz(tmp_path / "m.cnnz", SMALL_FC, tensors, Coding(4, huffman=True))
    restored, container = decompress(tmp_path / "m.cnnz")
    for key, value in state.items():
        assert torch.equal(restored.state_dict()[key], value), key
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(restored(x), model.eval()(x))


def test_decompress_refuses_tensors_that_do_not_fit_the_spec(tmp_path):
    wrong = np.zeros((3, 3), np.float32)
    write_cnnz(tmp_path / "w.cnnz", SMALL_FC, {"layers.conv1.weight": wrong}, Coding())
    with pytest.raises(CompressError, match=r"w\.cnnz: its tensors do not match its spec "
                                            r"\(missing: layers\.conv1\.bias"):
        decompress(tmp_path / "w.cnnz")
    state = {k: v.numpy() for k, v in _model(SMALL_FC).state_dict().items()}
    state["layers.fc2.weight"] = np.zeros((10, 3), np.float32)
    write_cnnz(tmp_path / "s.cnnz", SMALL_FC, state, Coding())
    with pytest.raises(CompressError, match="'layers.fc2.weight' has shape \\[10, 3\\], its spec "
                                            "needs \\[10, 64\\]"):
        decompress(tmp_path / "s.cnnz")
    # A spec (hand-made, or a crafted header) can ask for more than any address space holds.
    huge = loads("name: huge\ninput: [3, 1000, 1000]\nlayers:\n  - {name: flat, type: flatten}\n"
                 "  - {name: fc, type: linear, out_features: 2000000000}\n")
    write_cnnz(tmp_path / "h.cnnz", huge, {}, Coding())
    # refused on its names and shapes, before the model was built (1.37 GB of a 151-byte file)
    with pytest.raises(CompressError, match=r"h\.cnnz: its tensors do not match its spec "
                                            r"\(missing: layers\.fc\.bias, layers\.fc\.weight;"):
        decompress(tmp_path / "h.cnnz")


def test_svd_factorises_wide_layers_exactly_when_the_rank_allows():
    model = _model(SMALL_FC).eval()
    with torch.no_grad():  # a rank-5 fc1: a rank-12 factorisation must reproduce it
        model.layers["fc1"].weight.copy_(torch.randn(64, 5) @ torch.randn(5, 1600) / 40)
    spec, new_state, done = factorise(SMALL_FC, model.state_dict(), keep=0.2)
    assert [f.name for f in done] == ["proj", "fc1"]                 # not the classifier fc2
    fc1 = done[1]
    assert fc1.rank == int(0.2 * 1600 * 64 / (1600 + 64)) == 12
    assert fc1.energy == pytest.approx(1.0) and fc1.params_after == 12 * (1600 + 64)
    assert analyze(spec).totals.params < analyze(SMALL_FC).totals.params
    assert [n.name for n in weighted_layers(spec)][:4] == ["conv1", "proj_svd", "proj", "fc1_svd"]
    factored = build(spec).eval()
    factored.load_state_dict(new_state)
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        hidden = model.layers["flatten"](model.layers["proj"](model.layers["pool1"](
            model.layers["relu1"](model.layers["conv1"](x)))))
        exact = model.layers["fc1"](hidden)
        assert torch.allclose(factored.layers["fc1"](factored.layers["fc1_svd"](hidden)), exact,
                              atol=1e-5)
        assert factored(x).shape == (4, 10)
    with pytest.raises(CompressError, match="--svd-layers 'conv1' matches no top-level linear"):
        factorise(SMALL_FC, model.state_dict(), patterns=["conv1"])
    with pytest.raises(CompressError, match="--svd-keep must lie strictly between 0 and 1"):
        factorise(SMALL_FC, model.state_dict(), keep=1.0)


def test_svd_of_a_padded_1x1_conv_keeps_the_border():
    model = _model(SMALL_FC).eval()
    with torch.no_grad():
        model.layers["proj"].bias.fill_(0.5)
    spec, state, done = factorise(SMALL_FC, model.state_dict(), keep=0.5, patterns=["proj"])
    factored = build(spec).eval()
    factored.load_state_dict(state)
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        a = factored.layers["proj"](factored.layers["proj_svd"](
            model.layers["pool1"](model.layers["relu1"](model.layers["conv1"](x)))))
    assert a.shape == (2, 16, 10, 10) and torch.all(a[:, :, 0, :] == 0.5)


def test_svd_leaves_every_classifier_alone_auxiliary_ones_too():
    # googlenet_aux's last layer in graph order is aux2_fc2: the main classifier and aux1_fc2
    # were factorised as if they were wide hidden layers.
    from cnnspace.compress import default_svd_layers
    layers = default_svd_layers(get_spec("googlenet_aux", num_classes=10))
    assert not {"classifier", "aux1_fc2", "aux2_fc2"} & set(layers)
    assert {"aux1_fc1", "aux2_fc1"} <= set(layers)
    # an output past the scores (a deploy file's softmax): the last weighted layer scores
    deploy = loads("""
name: deploy
input: [1, 8, 8]
layers:
  - {name: flat, type: flatten}
  - {name: fc1, type: linear, out_features: 32}
  - {name: fc2, type: linear, out_features: 10}
  - {name: prob, type: softmax}
""")
    assert default_svd_layers(deploy) == ["fc1"]


def test_int8_quantization_runs_close_to_float():
    model = _model(get_spec("squeezenet1_1", num_classes=10, input=(1, 32, 32))).eval()
    batches = [torch.rand(16, 1, 32, 32) for _ in range(2)]
    quantized = quantize_int8(model, batches)
    x = torch.rand(8, 1, 32, 32)
    with torch.no_grad():
        ref, out = model(x), quantized(x)
    assert out.shape == ref.shape and (out - ref).abs().max() < 0.1 * ref.abs().max() + 1e-3
    kinds = {type(m).__module__ for m in quantized.modules()}
    assert any("quantized" in k for k in kinds)
    with pytest.raises(CompressError, match="at least one batch"):
        quantize_int8(model, [])


def test_real_container_matches_the_analytic_prediction(tmp_path):
    # squeezenet1_0 with random weights pruned as in the SqueezeNet paper's Table 1 and shared at
    # 8 bits: the bytes on disk against `predict` (same layout; the header is the difference).
    spec = get_spec("squeezenet1_0")
    model = _model(spec)
    schedule = squeezenet_table1_schedule()
    masks = magnitude_masks(model, schedule.targets(spec))
    apply_masks(model, masks)
    freeze(model, masks)
    codes = cluster(model, masks, {n: 8 for n in masks})
    state = model.state_dict()
    tensors = {k: codes[k[len("layers."):-len(".weight")]] if k.endswith(".weight") else v.numpy()
               for k, v in state.items()}
    sizes = write_cnnz(tmp_path / "sq.cnnz", spec, tensors, Coding(4, huffman=False))
    prediction = predict(spec, schedule, {"conv": 8}, index_bits=4)
    assert sum(int(m.sum()) for m in masks.values()) + analyze(spec).totals.params_bias == 421_098
    streams = sum(t.values + t.index for t in sizes.tensors.values())
    predicted = sum(m.value_bytes + m.index_bytes + m.bias_bytes for m in prediction.layers)
    assert streams == pytest.approx(predicted, rel=0.002)
    # The prediction assumes full codebooks; k-means drops the centroids that start in the gap
    # pruning leaves around zero, so real codebooks are smaller.
    codebooks = sum(t.codebook for t in sizes.tensors.values())
    assert codebooks < sum(m.codebook_bytes for m in prediction.layers)
    assert sizes.header < 4000
    huffman = write_cnnz(tmp_path / "sqh.cnnz", spec, tensors, Coding(4, huffman=True))
    assert huffman.file < sizes.file


@pytest.mark.parametrize("sparsity,tolerance", [(0.0, 0.0), (0.95, 0.02), (0.99, 0.02)])
def test_prediction_of_layers_with_dead_taps_matches_a_real_container(tmp_path, sparsity,
                                                                     tolerance):
    # squeezenet1_1 at 32x32: fire6-fire9's expand3x3 keep only their centre taps, one weight in
    # nine, regularly spaced: no gap reaches 16 positions, so no filler entries, unlike survivors
    # placed at random. Pruned further, the survivors are random among those centre taps.
    spec = get_spec("squeezenet1_1", num_classes=10, input=(1, 32, 32))
    model = _model(spec)
    schedule = Schedule(sparsity)
    masks = magnitude_masks(model, schedule.targets(spec), None, live_weights(spec))
    apply_masks(model, masks)
    freeze(model, masks)
    codes = cluster(model, masks, {n: 6 for n in masks})
    tensors = {k: codes[k[len("layers."):-len(".weight")]] if k.endswith(".weight") else v.numpy()
               for k, v in model.state_dict().items()}
    sizes = write_cnnz(tmp_path / "sq.cnnz", spec, tensors, Coding(4, huffman=False))
    predicted = {m.name: m for m in predict(spec, schedule, {"conv": 6}, index_bits=4).layers}
    for layer in ("fire6/expand3x3", "fire9/expand3x3"):
        real = sizes.tensors[f"layers.{layer}.weight"]
        assert predicted[layer].kept == int(masks[layer].sum())
        assert real.values + real.index == pytest.approx(
            predicted[layer].value_bytes + predicted[layer].index_bytes, rel=tolerance, abs=1)


def test_prediction_counts_batchnorm_statistics_as_the_container_stores_them(tmp_path):
    from cnnspace.compress._pipeline import container_tensors, dense_codes
    spec = loads("""
name: bn
input: [3, 16, 16]
layers:
  - {name: conv1, type: conv2d, out_channels: 64, kernel: 3, padding: 1, bias: false}
  - {name: bn1, type: batchnorm}
  - {name: relu1, type: relu}
  - {name: pool, type: global_avgpool}
  - {name: flat, type: flatten}
  - {name: fc, type: linear, out_features: 10}
""")
    model = _model(spec)
    tensors = container_tensors(model, dense_codes(model, spec))
    sizes = write_cnnz(tmp_path / "bn.cnnz", spec, tensors, Coding(huffman=False))
    prediction = predict(spec, Schedule(), {"conv": 32, "fc": 32})
    assert prediction.buffer_bytes == 2 * 64 * 4 + 8   # running mean, variance; step count
    assert prediction.bytes == sum(t.total for t in sizes.tensors.values())
    assert prediction.params_kept == analyze(spec).totals.params
