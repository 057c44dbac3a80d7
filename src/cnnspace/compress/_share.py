"""Trained quantization by weight sharing (Deep Compression, Section 3).

Each layer's surviving weights are clustered by k-means into at most 2**bits shared values (one
fewer in a pruned layer, whose index 0 means zero). For fine-tuning, the layer's weight becomes a
function of its centroids (``weight = centroids[labels]``, zero where pruned), so backpropagation
sums the gradients of every weight in a cluster into its centroid — the paper's update — and
the ordinary trainer updates centroids like any parameter. Masks stay: pruned positions read a
constant zero.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from ._codec import RAW_BITS, WeightCode
from ._kmeans import kmeans_1d
from ._prune import weight_of


class SharedWeight(nn.Module):
    """weight = [centroids, 0][labels]; pruned positions hold the label of the trailing zero."""

    def __init__(self, labels: torch.Tensor, representatives: torch.Tensor):
        super().__init__()
        self.register_buffer("labels", labels)
        # One position per cluster, to read the initial centroids back from a weight.
        self.register_buffer("representatives", representatives)

    def forward(self, centroids: torch.Tensor) -> torch.Tensor:
        return torch.cat([centroids, centroids.new_zeros(1)])[self.labels]

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        return weight.detach().flatten()[self.representatives].clone()


def cluster(model: nn.Module, masks: dict[str, torch.Tensor], bits: dict[str, int]
            ) -> dict[str, WeightCode]:
    """k-means of each layer's surviving weights; layers at 32 bits keep their raw values."""
    codes = {}
    for layer, mask in masks.items():
        w = weight_of(model, layer).detach().cpu().numpy().ravel()
        flat_mask = mask.cpu().numpy().ravel()
        sparse = not flat_mask.all()
        b = bits[layer]
        if b == RAW_BITS:
            codes[layer] = WeightCode(tuple(mask.shape), flat_mask, b,
                                      values=w[flat_mask].astype(np.float32))
            continue
        codebook, labels = kmeans_1d(w[flat_mask], 2 ** b - sparse)
        codes[layer] = WeightCode(tuple(mask.shape), flat_mask, b, codebook=codebook, labels=labels)
    return codes


def tie(model: nn.Module, codes: dict[str, WeightCode]) -> None:
    """Makes each shared layer's weight a function of its centroids (a trainable parameter)."""
    for layer, code in codes.items():
        if not code.shared:
            continue
        module = model.layers[layer]
        k = len(code.codebook)
        labels = np.full(code.mask.size, k, dtype=np.int64)  # k: the appended zero
        labels[code.mask] = code.labels
        representatives = np.zeros(k, dtype=np.int64)
        representatives[code.labels[::-1]] = np.flatnonzero(code.mask)[::-1]  # first of each
        device = module.weight.device
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(code.dense()))
        parametrize.register_parametrization(
            module, "weight", SharedWeight(torch.from_numpy(labels).view(code.shape).to(device),
                                           torch.from_numpy(representatives).to(device)),
            unsafe=True)


def untie(model: nn.Module, codes: dict[str, WeightCode]) -> dict[str, WeightCode]:
    """The fine-tuned codebooks (as clustered if never tied); each layer's weight becomes a
    plain parameter equal, bit for bit, to what its code decodes to."""
    out = {}
    for layer, code in codes.items():
        module = model.layers[layer]
        if code.shared and parametrize.is_parametrized(module, "weight"):
            centroids = module.parametrizations.weight.original.detach().cpu().numpy()
            code = WeightCode(code.shape, code.mask, code.bits,
                              codebook=centroids.astype(np.float32), labels=code.labels)
            # The parametrization changed the shape, so it cannot be "left parametrized": drop it
            # and put the decoded weight in place as a new plain parameter.
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
        module.weight = nn.Parameter(torch.from_numpy(code.dense()).to(module.weight.device))
        out[layer] = code
    return out
