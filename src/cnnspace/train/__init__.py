"""Synchronous data-parallel training on torch.distributed (DDP launched by torchrun; gloo on
CPU, NCCL on GPU) of any spec, zoo model or nn.Module, with exact resume.

Library first: ``train(model, data, TrainConfig(...), callbacks=[...]) -> TrainResult`` works in
one process and under torchrun alike; ``evaluate``, ``load_checkpoint``; ``Callback`` hooks after
each step and epoch (``StopTraining`` ends a run early, e.g. for an Optuna pruner).
"""
from ._api import train
from ._callbacks import Callback, NonFiniteLossError, StopTraining, TrainResult, TrainState
from ._checkpoint import (Checkpoint, CheckpointError, check_torch_archive, load_checkpoint,
                          save_checkpoint)
from ._config import RECIPES, ConfigError, TrainConfig, default_recipe
from ._distributed import CommCounter, available_cpus, under_torchrun, uses_cuda
from ._evaluate import EvalResult, evaluate
from ._init_from import (CopiedWeights, InitialWeights, check_initial_weights,
                         copy_initial_weights, read_initial_weights)
from ._launch import launch_local
from ._model import ClassificationLoss, fit_spec, zoo_spec
from ._run_files import RunFiles, claimed_folder, read_metrics
from ._schedule import lr_factor, make_optimizer, make_scheduler

__all__ = ["RECIPES", "Callback", "Checkpoint", "CheckpointError", "ClassificationLoss",
           "CommCounter", "ConfigError", "EvalResult", "default_recipe", "NonFiniteLossError", "RunFiles",
           "StopTraining", "TrainConfig", "TrainResult", "TrainState", "available_cpus",
           "claimed_folder",
           "evaluate", "fit_spec", "CopiedWeights", "InitialWeights", "check_initial_weights",
           "copy_initial_weights", "read_initial_weights", "launch_local", "load_checkpoint",
           "lr_factor",
           "make_optimizer", "make_scheduler", "read_metrics", "save_checkpoint", "train",
           "under_torchrun", "uses_cuda", "check_torch_archive", "zoo_spec"]
