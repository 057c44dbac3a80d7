"""What to prune and how many bits to share with, per layer: schedules and bit widths.

Layers are the conv2d and linear layers of a spec, named as its resolved graph names them
(``conv1``, ``fire2/expand3x3``, ``fc6``). Overrides name a layer or a glob (``fire*/expand3x3``);
the first matching override wins, and an override that matches no layer is an error (a typo
would otherwise silently prune nothing). A kind (``conv``, ``fc``) a network has no layers of is
no error: ``fc=5``, the default, holds for fully convolutional networks too.
"""
from __future__ import annotations

import fnmatch
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .._yaml_file import read_yaml
from ..spec import NetSpec, Node, resolve
from ._codec import MAX_SHARED_BITS, RAW_BITS
from ._errors import CompressError

WEIGHTED_TYPES = {"conv2d": "conv", "linear": "fc"}
DEFAULT_BITS = {"conv": 8, "fc": 5}  # Deep Compression's widths for AlexNet/VGG
_SCHEDULE_KEYS = ("sparsity", "layers", "steps", "bits")


def weighted_layers(spec: NetSpec) -> list[Node]:
    """The layers whose weights compression prunes and shares, in graph order."""
    return [n for n in resolve(spec).nodes if n.type in WEIGHTED_TYPES]


def _pick(patterns: Mapping[str, Any], node: Node, default: Any) -> Any:
    """The value of the first name or glob matching ``node``, else of its kind (conv, fc),
    else ``default``: a named layer beats its kind whatever the order written."""
    for pattern, value in patterns.items():
        if pattern not in DEFAULT_BITS and fnmatch.fnmatchcase(node.name, pattern):
            return value
    return patterns.get(WEIGHTED_TYPES[node.type], default)


def _check_patterns(patterns: Mapping[str, Any], nodes: list[Node], source: str, what: str,
                    claimed_elsewhere: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every name or glob matches a layer that no earlier one matches: the first match wins,
    so an entry after a glob covering all its layers would silently never apply. Returns, per
    layer, the name or glob that takes it (quoted); a kind is also checked against
    ``claimed_elsewhere``, the layers a source that beats it takes."""
    claimed: dict[str, str] = {}  # layer -> the pattern that takes it, quoted
    for pattern in patterns:
        if pattern in DEFAULT_BITS:
            continue
        matched = [n.name for n in nodes if fnmatch.fnmatchcase(n.name, pattern)]
        if not matched:
            names = ", ".join(n.name for n in nodes)
            raise CompressError(f"{source}: {what} {pattern!r} matches no conv2d or linear layer "
                                f"(layers: {names})")
        if all(name in claimed for name in matched):
            earlier = ", ".join(dict.fromkeys(claimed[n] for n in matched))
            raise CompressError(f"{source}: {what} {pattern!r} never applies: every layer it "
                                f"matches is taken by an earlier entry ({earlier}); the first "
                                "match wins, so write the more specific entry first")
        claimed.update({name: repr(pattern) for name in matched if name not in claimed})
    for kind in (p for p in patterns if p in DEFAULT_BITS):
        _check_kind(kind, nodes, {**(claimed_elsewhere or {}), **claimed}, source, what)
    return claimed


def _check_kind(kind: str, nodes: list[Node], claimed: Mapping[str, str], source: str,
                what: str) -> None:
    """A kind (conv, fc) applies to some layer and means one thing. A name or glob beats a
    kind wherever written, so {"*": 0.5, conv: 0.2} never prunes by 0.2; and a kind that is
    also a layer's name, where the kind holds other layers too, could mean either: {fc: 0.9}
    for a classifier named fc pruned every linear layer."""
    of_kind = [n.name for n in nodes if WEIGHTED_TYPES[n.type] == kind]
    if any(n.name == kind for n in nodes) and of_kind != [kind]:
        raise CompressError(f"{source}: {what} {kind!r} is ambiguous: the kind {kind} "
                            f"({', '.join(of_kind) or 'no layers'}) and a layer's name; write "
                            f"'[{kind[0]}]{kind[1:]}' for the layer alone, or name the layers "
                            "of the kind")
    if of_kind and all(name in claimed for name in of_kind):
        takers = ", ".join(dict.fromkeys(claimed[n] for n in of_kind))
        raise CompressError(f"{source}: {what} {kind!r} never applies: every {kind} layer is "
                            f"taken by a name or glob ({takers}), which beats a kind")


def _sparsity(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise CompressError(f"{where}: sparsity must be a number from 0 to 1 (the fraction of "
                            f"weights removed), got {value!r}")
    return float(value)


def kept_count(weights: int, sparsity: float) -> int:
    """Weights a layer keeps: ceil((1 - sparsity) * weights). Rounding up is what reproduces
    the SqueezeNet paper's per-layer counts; rounding to 1e-6 first keeps float noise such as
    (1 - 0.8) * 512000 = 102399.99999999999 from adding a weight."""
    return math.ceil(round((1.0 - sparsity) * weights, 6))


@dataclass(frozen=True)
class Schedule:
    """Per-layer pruning targets: a default sparsity plus overrides, reached in ``steps`` rounds
    (iterative pruning: each round prunes further and retrains)."""
    sparsity: float = 0.0
    layers: Mapping[str, float] = field(default_factory=dict)
    steps: int = 1
    bits: Mapping[str, int] = field(default_factory=dict)
    source: str = "schedule"

    def __post_init__(self):  # checked however it was made: parse_schedule or in Python
        source, layers, bits = self.source, self.layers, self.bits
        if not isinstance(layers, Mapping) or not all(isinstance(k, str) for k in layers):
            raise CompressError(f"{source}: 'layers' must map layer names or globs to sparsities")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise CompressError(f"{source}: 'steps' must be a positive integer, got "
                                f"{self.steps!r}")
        if not isinstance(bits, Mapping) or not all(isinstance(k, str) for k in bits):
            raise CompressError(f"{source}: 'bits' must map conv, fc or layer names to bit "
                                "widths")
        object.__setattr__(self, "sparsity", _sparsity(self.sparsity, f"{source}: 'sparsity'"))
        object.__setattr__(self, "layers", {k: _sparsity(v, f"{source}: layer {k!r}")
                                            for k, v in layers.items()})
        object.__setattr__(self, "bits", {k: _bit_width(v, f"{source}: bits {k!r}")
                                          for k, v in bits.items()})

    def targets(self, spec: NetSpec) -> dict[str, float]:
        """Layer name -> final sparsity, for every conv2d/linear layer of ``spec``."""
        nodes = weighted_layers(spec)
        _check_patterns(self.layers, nodes, self.source, "layer override")
        return {n.name: _pick(self.layers, n, self.sparsity) for n in nodes}

    def at_step(self, spec: NetSpec, step: int) -> dict[str, float]:
        """Targets of round ``step`` (1..steps): a linear ramp to the final targets."""
        return {name: s * step / self.steps for name, s in self.targets(spec).items()}


def parse_schedule(data: Any, source: str = "schedule") -> Schedule:
    """A schedule from plain data (a schedule file's contents): ``{sparsity: 0.5, layers:
    {conv1: 0.0}, steps: 3, bits: {conv: 6}}``, every key optional."""
    if not isinstance(data, dict):
        raise CompressError(f"{source}: a schedule must be a mapping with keys "
                            f"{', '.join(_SCHEDULE_KEYS)}, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(_SCHEDULE_KEYS))
    if unknown:
        raise CompressError(f"{source}: unknown key {unknown[0]!r} (allowed: "
                            f"{', '.join(_SCHEDULE_KEYS)})")
    return Schedule(data.get("sparsity", 0.0), data.get("layers") or {}, data.get("steps", 1),
                    data.get("bits") or {}, source)


def load_schedule(path: str | os.PathLike) -> Schedule:
    """The schedule in a YAML file (see ``parse_schedule``)."""
    data = read_yaml(Path(path), lambda problem: CompressError(f"{path}: {problem}"))
    return parse_schedule(data, str(path))


def _bit_width(value: Any, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if (isinstance(value, bool) or not isinstance(value, int)
            or not (1 <= value <= MAX_SHARED_BITS or value == RAW_BITS)):
        raise CompressError(f"{where}: a bit width must be 1..{MAX_SHARED_BITS} (weight sharing) "
                            f"or {RAW_BITS} (no sharing), got {value!r}")
    return value


def bit_widths(bits: Any, source: str = "bits") -> dict[str, int]:
    """``bits`` checked: a mapping of conv/fc/layer name or glob -> width."""
    if not isinstance(bits, Mapping) or not all(isinstance(k, str) for k in bits):
        raise CompressError(f"{source}: expected a mapping such as {{'conv': 8, 'fc': 5}}, got "
                            f"{bits!r}")
    return {key: _bit_width(value, f"{source} {key}") for key, value in bits.items()}


def parse_bits(text: str) -> dict[str, int]:
    """``conv=8,fc=5`` (also layer names or globs: ``conv10=6``) to a mapping."""
    if not isinstance(text, str):
        raise CompressError(f"--bits expects text such as 'conv=8,fc=5', got {text!r} (in "
                            "Python, a mapping such as {'conv': 8, 'fc': 5} needs no parsing)")
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise CompressError(f"--bits expects KEY=BITS pairs such as conv=8,fc=5; got {part!r}")
        key, width = key.strip(), _bit_width(value.strip(), f"--bits {key.strip()}")
        if key in out:  # which one was meant? (a mapping in YAML refuses a key twice too)
            raise CompressError(f"--bits {key} given twice ({out[key]} and {width})")
        out[key] = width
    return out


def layer_bits(spec: NetSpec, overrides: Mapping[str, int],
               source: str = "--bits") -> dict[str, int]:
    """Layer name -> bit width: an override for the layer (name or glob) or its kind (conv, fc),
    else Deep Compression's default for its kind."""
    overrides = bit_widths(overrides, source)
    nodes = weighted_layers(spec)
    _check_patterns(overrides, nodes, source, "bit width for")
    return _layer_widths(nodes, overrides)


def _layer_widths(nodes: list[Node], patterns: Mapping[str, int]) -> dict[str, int]:
    return {n.name: _pick(patterns, n, DEFAULT_BITS[WEIGHTED_TYPES[n.type]]) for n in nodes}


def plan_bits(spec: NetSpec, schedule: Schedule, overrides: Mapping[str, int]) -> dict[str, int]:
    """Layer name -> bit width under ``schedule``'s bits and the ``overrides`` (--bits) over them:
    an override beats the schedule for every layer it matches. A pattern that matches no layer,
    or only layers an earlier one of its source takes, is named with the schedule or flag it
    came from."""
    nodes, overrides = weighted_layers(spec), bit_widths(overrides)
    by_schedule = _check_patterns(schedule.bits, nodes, schedule.source, "bit width for")
    # a --bits kind loses to the schedule's names and globs too: any name beats a kind
    taken = {layer: f"{taker} of {schedule.source}" for layer, taker in by_schedule.items()}
    _check_patterns(overrides, nodes, "--bits", "bit width for", taken)
    # the overrides first, so that the first match is theirs
    return _layer_widths(nodes, {**overrides, **{k: v for k, v in schedule.bits.items()
                                                 if k not in overrides}})
