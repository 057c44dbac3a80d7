"""SqueezeNet v1.0/v1.1, its bypass variants, and the FireNet family they are points of.

Fire widths (SqueezeNet paper, Section 4): e_i = base_e + incr_e * floor(i / freq) for i = 0..n-1,
e3x3_i = floor(pct3x3 * e_i), e1x1_i = e_i - e3x3_i, s1x1_i = floor(sr * e_i) (at least 1).
"""
from __future__ import annotations

import math

from .._values import is_int, is_number
from ..spec import NetSpec, SpecError, freeze
from ._build import SpecWriter
from ._registry import register_model

IMAGENET = 1000
V10_POOLS = ("conv1", "fire4", "fire8")
V11_POOLS = ("conv1", "fire3", "fire5")
BYPASS = ("none", "simple", "complex")
MAX_FIRE = 10_000  # far beyond any FireNet (SqueezeNet has 8); 40,000 layers resolve in seconds


def _check(name: str, ok: bool, expected: str, value, note: str = "") -> None:
    if not ok:
        raise SpecError(f"expected {expected}, got {value!r}{note}", field=name)


def _share(ratio: float, count: int) -> int:
    """floor(ratio * count) for the ratio as written: 0.29 * 100 is 28.999999999999996 in
    binary floating point, whose floor would give 28 filters where the formula gives 29."""
    product = ratio * count
    nearest, floor, size = round(product), math.floor(product), abs(product)
    # One rounding of the ratio and one of the product: within a few units in the last place.
    # Written without a branch, so that many points compute it at once (see _lanes): the scale
    # is max(1, size) exactly (1 - size + size rounds to 1), and the choice is a product by 0 or 1.
    scale = size + (size < 1.0) * (1.0 - size)
    return floor + (abs(product - nearest) <= 1e-12 * scale) * (nearest - floor)


def fire_widths(base_e: int, incr_e: int, freq: int, pct3x3: float, sr: float,
                num_fire: int = 8) -> list[tuple[int, int, int]]:
    """(squeeze, expand1x1, expand3x3) of each Fire module; a metaparameter out of its range
    is a SpecError naming it."""
    for key, value in (("base_e", base_e), ("freq", freq), ("num_fire", num_fire)):
        _check(key, is_int(value) and value >= 1, "a positive integer", value)
    # one block per Fire module: a count of 10^20 (a typo'd --set) ran out of memory, silently
    # killed, where every size field is refused beyond its bound
    if num_fire > MAX_FIRE:
        _check("num_fire", False, f"at most {MAX_FIRE:,} Fire modules", num_fire)
    _check("incr_e", is_int(incr_e) and incr_e >= 0, "a non-negative integer", incr_e)
    _check("pct3x3", is_number(pct3x3) and 0 <= pct3x3 <= 1, "a number in [0, 1]", pct3x3)
    _check("sr", is_number(sr) and 0 < sr <= 1, "a squeeze ratio in (0, 1]", sr)
    pct3x3, sr = freeze(pct3x3), freeze(sr)  # numpy's floats as Python's: Python's int widths
    widths = []
    for i in range(num_fire):
        e = base_e + incr_e * (i // freq)
        e3 = _share(pct3x3, e)
        widths.append((max(1, _share(sr, e)), e - e3, e3))
    return widths


@register_model("FireNet family: SqueezeNet-style CNNs from metaparameters (defaults = SqueezeNet v1.0)",
                lanes=True)
def firenet(num_classes: int = IMAGENET, input=(3, 227, 227), base_e: int = 128,
            incr_e: int = 128, freq: int = 2, pct3x3: float = 0.5, sr: float = 0.125,
            num_fire: int = 8, conv1_filters: int = 96, conv1_kernel: int = 7,
            conv1_stride: int = 2, pool_after=V10_POOLS, bypass: str = "none",
            dropout: float = 0.5, conv10_pad: int = 0, batchnorm: bool = False,
            name: str = "firenet") -> NetSpec:
    widths = fire_widths(base_e, incr_e, freq, pct3x3, sr, num_fire)
    for key, value in (("conv1_filters", conv1_filters), ("conv1_kernel", conv1_kernel),
                       ("conv1_stride", conv1_stride)):
        _check(key, is_int(value) and value >= 1, "a positive integer", value)
    _check("conv10_pad", is_int(conv10_pad) and conv10_pad >= 0, "a non-negative integer",
           conv10_pad)
    _check("dropout", is_number(dropout) and 0 <= dropout < 1, "a probability in [0, 1)", dropout)
    _check("bypass", bypass in BYPASS, f"one of {', '.join(BYPASS)}", bypass)
    _check("batchnorm", isinstance(batchnorm, bool), "true or false", batchnorm)
    fires = [f"fire{i + 2}" for i in range(num_fire)]
    if isinstance(pool_after, str):  # one name, or several as `--set pool_after=conv1,fire4`
        pool_after = [p.strip() for p in pool_after.split(",")]
    default = (f" (the default; set pool_after for num_fire={num_fire})"
               if pool_after == V10_POOLS else "")
    listed = isinstance(pool_after, (list, tuple))
    unknown = [p for p in pool_after if p not in ["conv1", *fires]] if listed else []
    note = f": no layer {', '.join(map(repr, unknown))}" if unknown else ""
    _check("pool_after", listed and not unknown,
           f"a list of layer names among conv1, {', '.join(fires)}",
           list(pool_after) if listed else pool_after, note + default)

    w = SpecWriter()
    w.conv("conv1", conv1_filters, conv1_kernel, conv1_stride)
    channels = conv1_filters

    def maybe_pool(after: str):
        if after in pool_after:
            w.add(f"pool{after.removeprefix('conv').removeprefix('fire')}", "maxpool", kernel=3,
                  stride=2, ceil_mode=True)

    maybe_pool("conv1")
    for i, (s, e1, e3) in enumerate(widths):
        name_i, source = fires[i], w.layers[-1].name
        w.add(name_i, "fire", squeeze=s, expand1x1=e1, expand3x3=e3,
              **({"batchnorm": True} if batchnorm else {}))
        out = e1 + e3
        # Simple bypass: identity shortcuts around fire3, fire5, ... (paper Table 3), which must
        # keep their width; leaving one out would build another network than asked for (with
        # freq=1 none does: "simple" was "none"). Complex bypass also adds a 1x1 convolution
        # wherever the width changes.
        identity = (bypass != "none" and (i % 2 == 1 or bypass == "complex")
                    and out == channels)
        if bypass == "simple" and i % 2 == 1 and not identity:
            raise SpecError(f"simple bypass needs {', '.join(fires[1::2])} to output as many "
                            f"channels as they take (it adds each one's input to its output), "
                            f"but {name_i} takes {channels} and outputs {out} (base_e={base_e}, "
                            f"incr_e={incr_e}, freq={freq}); bypass=complex adds a 1x1 "
                            "convolution where they differ", field="bypass")
        if bypass != "none" and identity:
            w.add(f"{name_i}_bypass", "add", inputs=(name_i, source))
        elif bypass == "complex":
            proj = w.add(f"{name_i}_proj", "conv2d", inputs=(source,), out_channels=out, kernel=1,
                         bias=False)
            w.add(f"{name_i}_bypass", "add", inputs=(name_i, proj))
        channels = out
        maybe_pool(name_i)
    if dropout:
        w.add("drop", "dropout", p=dropout)
    w.conv("conv10", num_classes, 1, padding=conv10_pad)
    w.add("pool10", "global_avgpool")
    w.add("logits", "flatten")
    return NetSpec(name, input, w.layers, init="kaiming_uniform",
                   description="FireNet (SqueezeNet family) point")


@register_model("SqueezeNet v1.0 as published (227x227, ceil pooling; conv10_pad=1 gives the Caffe "
                "deploy file's padding artefact)", lanes=True)
def squeezenet1_0(num_classes: int = IMAGENET, input=(3, 227, 227), conv10_pad: int = 0) -> NetSpec:
    return firenet(num_classes, input, conv10_pad=conv10_pad, name="squeezenet1_0")


@register_model("SqueezeNet v1.1: 3x3 conv1 with 64 filters, pools after conv1, fire3, fire5 "
                "(2.4x fewer MACs)", lanes=True)
def squeezenet1_1(num_classes: int = IMAGENET, input=(3, 224, 224)) -> NetSpec:
    return firenet(num_classes, input, conv1_filters=64, conv1_kernel=3, pool_after=V11_POOLS,
                   name="squeezenet1_1")


@register_model("SqueezeNet v1.0 with simple bypass around fire3, fire5, fire7, fire9 (paper Table 3)",
                lanes=True)
def squeezenet1_0_simple_bypass(num_classes: int = IMAGENET, input=(3, 227, 227)) -> NetSpec:
    return firenet(num_classes, input, bypass="simple", name="squeezenet1_0_simple_bypass")


@register_model("SqueezeNet v1.0 with simple bypass plus 1x1-conv bypass on the other Fire modules",
                lanes=True)
def squeezenet1_0_complex_bypass(num_classes: int = IMAGENET, input=(3, 227, 227)) -> NetSpec:
    return firenet(num_classes, input, bypass="complex", name="squeezenet1_0_complex_bypass")
