"""Review of the schedules: one-cycle moves the momentum around the one asked for, and a warm-up
that warms nothing up is refused."""
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


@pytest.mark.parametrize("schedule", ["onecycle", "poly", "constant"])
@pytest.mark.parametrize("warmup, steps_per_epoch", [(1.0, 1), (0.5, 2), (0.25, 4), (0.01, 45)])
def test_a_warmup_of_fewer_than_2_steps_is_refused_naming_the_option(schedule, warmup,
                                                                     steps_per_epoch):
    # One-cycle's rise of one step was torch's ZeroDivisionError at the first step (a
    # traceback); a linear ramp of one step, or of none once rounded, silently no warm-up.
    config = TrainConfig(epochs=4, warmup_epochs=warmup, schedule=schedule)
    optimizer = make_optimizer(torch.nn.Linear(2, 2).parameters(), config)
    with pytest.raises(ConfigError, match=r"option 'warmup_epochs' \(--warmup\): .* which warm "
                       r"nothing up .* choose 0 or at least 2 steps"):
        make_scheduler(optimizer, config, steps_per_epoch)
    # two steps warm up
    make_scheduler(optimizer, config.with_options(warmup_epochs=2 / steps_per_epoch),
                   steps_per_epoch)
