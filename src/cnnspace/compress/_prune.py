"""Magnitude pruning (Han et al. 2015) with masks that training cannot undo.

A mask is applied as a parametrization (``weight = original * mask``): whatever optimizer and
training loop run afterwards, a pruned weight receives no gradient and is exactly zero in every
forward pass, so no hook after each step is needed. ``freeze`` bakes the product in.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from ._schedule import kept_count


def weight_of(model: nn.Module, layer: str) -> torch.Tensor:
    return model.layers[layer].weight


def magnitude_masks(model: nn.Module, targets: dict[str, float],
                    previous: dict[str, torch.Tensor] | None = None,
                    live: dict[str, np.ndarray] | None = None) -> dict[str, torch.Tensor]:
    """Per layer, a bool mask keeping the ``kept_count`` largest-magnitude weights. Weights a
    ``previous`` mask removed stay removed (iterative pruning only ever removes more), and so
    do weights ``live`` marks as never seeing data (see ``live_weights``): they go first and
    are never kept."""
    masks = {}
    with torch.no_grad():
        for layer, sparsity in targets.items():
            shape = weight_of(model, layer).shape
            w = weight_of(model, layer).detach().flatten().cpu()
            score = w.abs()
            kept = kept_count(w.numel(), sparsity)
            allowed = [previous[layer].flatten().cpu()] if previous is not None else []
            if live is not None and layer in live:
                allowed.append(torch.from_numpy(np.broadcast_to(live[layer], shape).flatten()))
            for mask in allowed:
                score = torch.where(mask, score, torch.full_like(score, -1.0))
                kept = min(kept, int(mask.sum()))
            mask = torch.zeros(w.numel(), dtype=torch.bool)
            # A stable sort: of equal magnitudes the earlier weight stays, deterministically.
            mask[torch.sort(score, descending=True, stable=True).indices[:kept]] = True
            masks[layer] = mask.view(shape)
    return masks


class Masked(nn.Module):
    """weight = original * mask."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        return original * self.mask


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Prunes ``model`` in place: each masked layer's weight is zeroed where its mask is False
    and stays zero in training (a parametrization; ``freeze`` makes it plain again)."""
    for layer, mask in masks.items():
        module = model.layers[layer]
        mask = mask.to(module.weight.device)
        with torch.no_grad():
            module.weight.mul_(mask)  # pruned weights start at zero, as well as staying there
        parametrize.register_parametrization(module, "weight", Masked(mask))


def freeze(model: nn.Module, layers) -> None:
    """Replaces each layer's parametrized weight by its current value as a plain parameter."""
    for layer in layers:
        module = model.layers[layer]
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
