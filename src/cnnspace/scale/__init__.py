"""How a network scales with data-parallel workers: an analytic model (compute per worker plus
parameter-server, reduction-tree or ring communication from alpha, beta and the gradient bytes),
cluster presets, and real measurements (collectives and DDP steps with torch.distributed).

The analytic part never imports torch; the measuring names (``run_commbench``,
``time_train_step``, ``time_ddp_step``, ``measure_preset``, and ``default_threads`` and
``check_nproc`` for their processes) import it on first use, and
``plot_scaling``, ``check_plot_path`` and ``plain_log_labels`` import matplotlib on first use.
"""
from importlib import import_module

from ._commfit import (DEFAULT_SIZES_MB, PATTERNS, CommBench, PatternFit, fit_alpha_beta,
                       fit_pattern, parse_sizes_mb)
from ._model import (STRATEGIES, Device, Interconnect, NetworkCosts, ParallelismComm, Recipe,
                     ScalingResult, ScalingRow, calibrate_efficiency, check_workers_share_batch,
                     comm_coefficients, comm_time, parallelism_comm, predict)
from ._published import FIRECAFFE_SPEEDUPS, Comparison, Published, compare_published
from ._presets import (FIRECAFFE_BASELINE, FIRECAFFE_RECIPE, IMAGENET_TRAIN_IMAGES, MEASURED,
                       MEASURED_RECIPE, PRESETS, Preset, get_preset, k20x, measured_preset,
                       preset_names)

_LAZY = {"run_commbench": "_commbench", "StepTime": "_measure", "time_train_step": "_measure",
         "time_ddp_step": "_measure", "measure_preset": "_measure",
         "default_threads": "_spawn", "check_nproc": "_spawn", "plot_scaling": "_plot",
         "check_plot_path": "_plot", "plain_log_labels": "_plot"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_SIZES_MB", "FIRECAFFE_BASELINE", "FIRECAFFE_RECIPE", "FIRECAFFE_SPEEDUPS",
           "IMAGENET_TRAIN_IMAGES", "Comparison", "Published", "compare_published",
           "MEASURED", "MEASURED_RECIPE", "PATTERNS", "PRESETS", "STRATEGIES", "CommBench",
           "Device", "Interconnect", "NetworkCosts", "ParallelismComm", "PatternFit", "Preset",
           "Recipe", "ScalingResult", "ScalingRow", "calibrate_efficiency",
           "check_workers_share_batch", "comm_coefficients",
           "comm_time", "fit_alpha_beta", "fit_pattern", "get_preset", "k20x", "measured_preset",
           "parallelism_comm", "parse_sizes_mb", "predict", "preset_names", *_LAZY]
