"""Speedups FireCaffe measured on Titan, set beside the model's predictions (never fitted)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..spec import NetSpec, network_id
from ..zoo import get_spec
from ._model import NetworkCosts, ScalingResult
from ._presets import FIRECAFFE_BASELINE, FIRECAFFE_RECIPE, get_preset

TITAN = "titan-k20x"
STRATEGY = "reduction_tree"  # FireCaffe's allreduce


@dataclass(frozen=True)
class Published:
    """A published data-parallel speedup of ``model`` on ``workers`` GPUs, and its source."""
    model: str
    workers: int
    speedup: float
    source: str


FIRECAFFE_SPEEDUPS = (
    Published("googlenet_aux", 32, 20.0, "FireCaffe on Titan, seed slide 20 (23.4 h vs 20.5 days)"),
    Published("googlenet_aux", 128, 47.0, "FireCaffe on Titan, seed slide 20 (10.5 h)"),
    Published("nin", 128, 39.0, "FireCaffe on Titan (CVPR 2016)"),
)


@dataclass(frozen=True)
class Comparison:
    """A published speedup beside the model's prediction (``error``: relative)."""
    published: Published
    predicted: float

    @property
    def error(self) -> float:
        """Relative error of the prediction."""
        return self.predicted / self.published.speedup - 1

    def to_json(self) -> dict:
        return {**asdict(self.published), "predicted": self.predicted, "error": self.error}


def compare_published(spec: NetSpec, result: ScalingResult) -> list[Comparison]:
    """The published speedups of ``spec``'s network that ``result`` predicts under the very
    conditions they were measured in (Titan's device and link, FireCaffe's recipe and baseline,
    32-bit gradients, reduction tree)."""
    titan = get_preset(TITAN)
    # the name alone is not the conditions: predict(..., preset="titan-k20x") takes any link
    if (result.preset != TITAN or result.device != titan.device or result.link != titan.link
            or result.recipe != FIRECAFFE_RECIPE or result.baseline != FIRECAFFE_BASELINE
            or result.costs != NetworkCosts.of(spec)):
        return []
    predicted = {r.workers: r.speedup for r in result.rows if r.strategy == STRATEGY}
    ours = network_id(spec)
    return [Comparison(p, predicted[p.workers]) for p in FIRECAFFE_SPEEDUPS
            if p.workers in predicted and network_id(get_spec(p.model)) == ours]
