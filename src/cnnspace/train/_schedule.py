"""Optimizers and per-step learning-rate schedules (warm-up, poly, cosine, one-cycle, step)."""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

from ._config import ConfigError, TrainConfig

ONECYCLE_RISE = 0.3  # torch's (and fast.ai's) default share of steps spent raising the LR
# How far one-cycle moves the momentum (Adam's beta1) either side of the one asked for: torch's
# fixed 0.85-0.95 around the default 0.9.
ONECYCLE_MOMENTUM_SWING = 0.05
# Below this many steps torch's one-cycle never rises: its first step starts at max_lr / 25 and
# its last takes the final max_lr / 25e4 (a run of one step trains at 4e-9 and learns nothing).
ONECYCLE_MIN_STEPS = 4


def onecycle_too_short_note(config: TrainConfig, steps_per_epoch: int) -> str | None:
    """What a one-cycle run too short to cycle does instead, or None."""
    total = config.epochs * steps_per_epoch
    if config.schedule != "onecycle" or total >= ONECYCLE_MIN_STEPS:
        return None
    return (f"note: one-cycle over {total} step{'s' if total > 1 else ''} cannot rise and fall: "
            f"the last step trains at {config.effective_lr / 25e4:.2g} "
            f"(the full learning rate / 25e4){', the only one' if total == 1 else ''}; "
            "--schedule constant trains at the learning rate given")


def make_optimizer(params: Iterable[torch.nn.Parameter], config: TrainConfig
                   ) -> torch.optim.Optimizer:
    lr = config.effective_lr
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, betas=(config.momentum, 0.999), weight_decay=config.weight_decay)


def lr_factor(config: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The multiplier of the base LR before optimizer step ``step`` (0-based), for every
    schedule except one-cycle."""
    total = config.epochs * steps_per_epoch
    warmup = round(config.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if config.schedule == "poly":
            return (1.0 - progress) ** config.poly_power
        if config.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if config.schedule == "step":
            return config.step_gamma ** (step // steps_per_epoch // config.step_epochs)
        return 1.0
    return factor


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig,
                   steps_per_epoch: int) -> LRScheduler:
    """Stepped once per optimizer step."""
    _check_warmup(config, steps_per_epoch)
    if config.schedule == "onecycle":
        rise = config.warmup_epochs / config.epochs if config.warmup_epochs else ONECYCLE_RISE
        base_momentum, max_momentum = _momentum_cycle(config.momentum)
        return OneCycleLR(optimizer, max_lr=config.effective_lr,
                          total_steps=config.epochs * steps_per_epoch, pct_start=rise,
                          cycle_momentum=config.momentum > 0, base_momentum=base_momentum,
                          max_momentum=max_momentum)
    return LambdaLR(optimizer, lr_factor(config, steps_per_epoch))


def _check_warmup(config: TrainConfig, steps_per_epoch: int) -> None:
    """A warm-up of fewer than 2 steps warms nothing up: a linear ramp of one step (or none,
    rounded) starts at the full LR, and one-cycle's rise of exactly one step is a division by
    zero in torch's OneCycleLR (a traceback at the first step). Said, not ignored."""
    steps = config.warmup_epochs * steps_per_epoch
    if config.warmup_epochs and round(steps) < 2:
        raise ConfigError(f"option 'warmup_epochs' (--warmup): {config.warmup_epochs:g} epoch(s) "
                          f"at {steps_per_epoch} step(s) an epoch are {round(steps)} step(s) of "
                          "warm-up, which warm nothing up (the first step would take the full "
                          "learning rate); choose 0 or at least 2 steps "
                          f"({2 / steps_per_epoch:.3g} epochs)")


def _momentum_cycle(momentum: float) -> tuple[float, float]:
    """One-cycle's momentum range (it falls while the LR rises), centred on ``momentum``:
    torch's own 0.85-0.95 whatever was asked replaced --momentum 0.5 unsaid. Narrower near 0
    and 1, so that it stays in [0, 1)."""
    swing = min(ONECYCLE_MOMENTUM_SWING, momentum, (1 - momentum) / 2)
    # rounded: 0.9 gives torch's 0.85 and 0.95 exactly, as runs before this had
    return round(momentum - swing, 12), round(momentum + swing, 12)
