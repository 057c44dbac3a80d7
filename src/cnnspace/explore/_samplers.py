"""Optuna samplers and pruners by name, with their options checked against Optuna's signatures."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import optuna

from ._errors import StudyError
from ._grid import GridSampler


@dataclass(frozen=True)
class Choice:
    """A sampler or pruner: its name and the keyword options handed to Optuna."""
    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.options}


SAMPLERS: dict[str, type] = {
    "grid": GridSampler,  # Optuna's, its bookkeeping linear in the trials (see _grid)
    "random": optuna.samplers.RandomSampler,
    "tpe": optuna.samplers.TPESampler,
    "nsga2": optuna.samplers.NSGAIISampler,
}
PRUNERS: dict[str, type] = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "asha": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "threshold": optuna.pruners.ThresholdPruner,   # e.g. {lower: 0.3, n_warmup_steps: 3}
}
# Set by cnnspace, not by the study file; where the study file sets them instead.
_MANAGED = {"search_space": "the grid is the space's axes",
            "seed": "set the study's top-level `seed:` key instead (each worker derives its own)",
            "max_resource": "it is train.epochs"}
_SCALARS = (bool, int, float, str, type(None))


def parse_choice(value: Any, key: str, known: dict[str, type]) -> Choice:
    """``NAME`` or ``{name: NAME, option: value, ...}``, options checked against Optuna's
    constructor (scalar values only)."""
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise StudyError(f"expected one of {', '.join(known)} or a mapping with 'name' and "
                         f"options, got {value!r}", key=key)
    options = {k: v for k, v in value.items() if k != "name"}
    name = value["name"]
    if name not in known:
        raise StudyError(f"unknown {key} {name!r}; choose one of {', '.join(known)}",
                         key=f"{key}.name")
    accepted = set(inspect.signature(known[name]).parameters) - set(_MANAGED)
    for option, v in options.items():
        if option in _MANAGED:
            raise StudyError(f"{option} is set by cnnspace: {_MANAGED[option]}",
                             key=f"{key}.{option}")
        if option not in accepted:
            raise StudyError(f"{known[name].__name__} has no option {option!r}"
                             + (f"; it takes: {', '.join(sorted(accepted))}" if accepted else ""),
                             key=f"{key}.{option}")
        if not isinstance(v, _SCALARS):
            raise StudyError(f"expected a number, string or true/false, got {v!r}",
                             key=f"{key}.{option}")
    return Choice(name, options)


def make_sampler(choice: Choice, search_space: Callable[[], dict[str, list]],
                 seed: int | None) -> optuna.samplers.BaseSampler:
    """The sampler; ``search_space()`` gives the grid (only the grid sampler asks for it)."""
    kwargs = dict(choice.options)
    if choice.name == "grid":
        kwargs["search_space"] = search_space()
    if choice.name == "tpe":
        # Workers in parallel: treat running trials as bad so another worker looks elsewhere.
        kwargs.setdefault("constant_liar", True)
    return _construct(SAMPLERS[choice.name], kwargs, "sampler", seed=seed)


def make_pruner(choice: Choice, epochs: int) -> optuna.pruners.BasePruner:
    kwargs = dict(choice.options)
    if choice.name == "hyperband":
        kwargs["max_resource"] = epochs  # one resource unit = one epoch
    if "n_warmup_steps" in kwargs:
        # Optuna counts steps from 0 ("the first N reports are never pruned"); trials report
        # epochs, counted from 1, so N epochs of warm-up exempt steps below N + 1.
        kwargs["n_warmup_steps"] += 1
    return _construct(PRUNERS[choice.name], kwargs, "pruner")


def _construct(cls: type, kwargs: dict, key: str, **managed) -> Any:
    accepted = inspect.signature(cls).parameters
    kwargs.update({k: v for k, v in managed.items() if k in accepted})
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:  # Optuna's own check of an option's value
        raise StudyError(f"{cls.__name__}: {e}", key=key) from None
