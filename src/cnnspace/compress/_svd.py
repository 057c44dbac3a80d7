"""Low-rank factorisation of fully connected and 1x1 layers (Denton et al. 2014, seed slide 34).

A weight W (out x in) is replaced by its rank-r truncated SVD, W ~ B A with B = U_r sqrt(S_r)
and A = sqrt(S_r) V_r^T: the layer becomes two layers, ``NAME_svd`` (in -> r, no bias) and
``NAME`` (r -> out, the original bias). The second keeps the original name, so layers that read
it are untouched. Specs are the common currency: the result is a new spec plus a state dict.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace

import torch

from ..spec import Layer, NetSpec, resolve
from ..train._imprint import classifier_layers
from ._errors import CompressError
from ._schedule import weighted_layers

SVD_SUFFIX = "_svd"


@dataclass(frozen=True)
class Factorised:
    name: str
    rank: int
    params_before: int  # weights only; the bias is unchanged
    params_after: int
    energy: float       # fraction of the squared singular values kept


def factorisable(spec: NetSpec) -> list[str]:
    """Top-level linear layers and 1x1 convolutions (layers inside blocks cannot be rewritten
    without renaming the block's parts)."""
    return [n.name for n in weighted_layers(spec) if n.block is None and (
        n.type == "linear" or (n.attrs["kernel"] == (1, 1) and n.attrs["groups"] == 1))]


def default_svd_layers(spec: NetSpec) -> list[str]:
    """What Denton et al. factorise: the wide layers, not the classifiers (the layers giving
    each output's scores, auxiliary ones too; else the last weighted layer), whose few outputs
    leave little to gain and much to lose."""
    classifiers = set(classifier_layers(spec)) or {weighted_layers(spec)[-1].name}
    return [name for name in factorisable(spec) if name not in classifiers]


def rank_for(in_features: int, out_features: int, keep: float) -> int:
    """The rank whose two factors hold about ``keep`` of the original weights (at least 1)."""
    return max(1, int(keep * in_features * out_features / (in_features + out_features)))


def layers_to_factorise(spec: NetSpec, keep: float = 0.2,
                        patterns: list[str] | None = None) -> list[str]:
    """The layers ``factorise`` would choose (``patterns``: layer names or globs, one or a list;
    None: ``default_svd_layers``), after checking ``keep`` and that every pattern matches."""
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep < 1:
        raise CompressError(f"--svd-keep must lie strictly between 0 and 1, got {keep!r}")
    candidates = factorisable(spec)
    if isinstance(patterns, str):  # one glob
        patterns = [patterns]
    if patterns is None:
        chosen = default_svd_layers(spec)
    else:
        for p in patterns:
            if not any(fnmatch.fnmatchcase(n, p) for n in candidates):
                raise CompressError(f"--svd-layers {p!r} matches no top-level linear or 1x1 "
                                    f"conv layer (candidates: {', '.join(candidates) or 'none'})")
        chosen = [n for n in candidates if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    names = {n.name for n in resolve(spec).nodes}
    for name in chosen:
        if name + SVD_SUFFIX in names:  # the spec would hold two layers of that name
            raise CompressError(f"SVD of layer {name!r}: its first factor would be named "
                                f"{name + SVD_SUFFIX!r}, which a layer of the model already "
                                "is; choose other layers with --svd-layers")
    return chosen


def factorise(spec: NetSpec, state: dict[str, torch.Tensor], keep: float = 0.2,
              patterns: list[str] | None = None
              ) -> tuple[NetSpec, dict[str, torch.Tensor], list[Factorised]]:
    """``spec`` and its weights with the chosen layers factorised (see
    ``layers_to_factorise``); layers where a factorisation would not save weights are left
    alone. ``state`` is left as it is."""
    chosen = layers_to_factorise(spec, keep, patterns)
    nodes = {n.name: n for n in resolve(spec).nodes}
    layers, new_state, done = [], dict(state), []
    for layer in spec.layers:
        node = nodes.get(layer.name)
        if layer.name not in chosen or node is None:
            layers.append(layer)
            continue
        key = f"layers.{layer.name}.weight"
        w = state[key].detach().double()
        out_f, in_f = w.shape[0], w.shape[1]
        rank = rank_for(in_f, out_f, keep)
        if rank * (in_f + out_f) >= out_f * in_f:
            layers.append(layer)
            continue
        u, s, vh = torch.linalg.svd(w.reshape(out_f, in_f), full_matrices=False)
        root = s[:rank].sqrt()
        first = (root[:, None] * vh[:rank]).float().reshape(rank, in_f, *w.shape[2:])
        second = (u[:, :rank] * root[None, :]).float().reshape(out_f, rank, *w.shape[2:])
        layers += _split(layer, node.type, rank)
        new_state.pop(key)
        new_state[f"layers.{layer.name}{SVD_SUFFIX}.weight"] = first
        new_state[key] = second
        done.append(Factorised(layer.name, rank, out_f * in_f, rank * (in_f + out_f),
                               float((s[:rank] ** 2).sum() / (s ** 2).sum())))
    return replace(spec, layers=tuple(layers), name=f"{spec.name}-svd"), new_state, done


def _split(layer: Layer, kind: str, rank: int) -> list[Layer]:
    attrs = dict(layer.attrs)
    first_name = layer.name + SVD_SUFFIX
    if kind == "linear":
        first = Layer(first_name, "linear", layer.inputs, {"out_features": rank, "bias": False})
    else:  # the 1x1 convolution's stride and padding belong to the first factor
        first = Layer(first_name, "conv2d", layer.inputs,
                      {**attrs, "out_channels": rank, "bias": False})
        attrs = {k: v for k, v in attrs.items() if k not in ("stride", "padding", "dilation")}
    return [first, Layer(layer.name, layer.type, (first_name,), attrs)]
