"""Review of the schedules: one-cycle moves the momentum around the one asked for, and a rise
it cannot take is refused."""
from __future__ import annotations

import pytest
import torch

from cnnspace.train import ConfigError, TrainConfig, make_optimizer, make_scheduler


def _momenta(config: TrainConfig, steps: int = 20) -> list[float]:
    optimizer = make_optimizer(torch.nn.Linear(2, 2).parameters(), config)
    scheduler = make_scheduler(optimizer, config, steps // config.epochs)
    seen = []
    for _ in range(steps):
        group = optimizer.param_groups[0]
        seen.append(group["momentum"] if config.optimizer == "sgd" else group["betas"][0])
        optimizer.step()
        scheduler.step()
    return seen


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_onecycle_cycles_the_momentum_asked_for(optimizer):
    # --momentum 0.5 trained with torch's fixed 0.85-0.95 while config.yaml said 0.5
    asked = _momenta(TrainConfig(optimizer=optimizer, momentum=0.5, epochs=2))
    assert min(asked) == pytest.approx(0.45) and max(asked) == pytest.approx(0.55)
    # the default 0.9 keeps torch's range exactly, as runs before had it
    default = _momenta(TrainConfig(optimizer=optimizer, epochs=2))
    assert (min(default), max(default)) == (0.85, 0.95)
    # near 1 the range narrows instead of reaching it (Adam refuses a beta1 of 1)
    assert max(_momenta(TrainConfig(optimizer=optimizer, momentum=0.98, epochs=2))) < 1


@pytest.mark.parametrize("warmup, steps_per_epoch", [(1.0, 1), (0.5, 2), (0.25, 4)])
def test_a_one_step_onecycle_rise_is_refused_naming_the_option(warmup, steps_per_epoch):
    # torch's OneCycleLR raised ZeroDivisionError at the first step: a traceback
    config = TrainConfig(epochs=4, warmup_epochs=warmup)
    optimizer = make_optimizer(torch.nn.Linear(2, 2).parameters(), config)
    with pytest.raises(ConfigError, match=r"option 'warmup_epochs' \(--warmup\): .* a one-cycle "
                       "rise of a single step"):
        make_scheduler(optimizer, config, steps_per_epoch)
    # a rise of two steps is taken
    make_scheduler(optimizer, config.with_options(warmup_epochs=2 * warmup), steps_per_epoch)
