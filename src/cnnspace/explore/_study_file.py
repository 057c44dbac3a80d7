"""A study file: a design space, a training recipe, objectives, a sampler, a pruner, a budget.

```yaml
name: squeeze_ratio                    # default: the file's name
space: ../spaces/squeeze_ratio.yaml    # a design-space file (relative to this one) or inline
train: {data: digits, epochs: 15, batch_size: 64}   # `cnnspace train`'s options
objectives: [top1, size_mib]
sampler: grid                          # grid | random | tpe | nsga2, or {name: tpe, ...}
pruner: none                           # none | median | asha | hyperband (single objective)
budget: {n_trials: 20, timeout: 3600}  # trained trials; seconds per worker
```
Everything is checked when the file is read, before any training.
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import optuna

from .._values import is_int
from .._yaml_file import read_yaml
from ..errors import CnnspaceError
from ..space import GRID_LIMIT, DesignSpace, SpaceError
from ._errors import StudyError, expect_path
from ._objectives import OBJECTIVES, Objective
from ._samplers import PRUNERS, SAMPLERS, Choice, make_pruner, make_sampler, parse_choice

_TOP_KEYS = ("name", "description", "space", "train", "objectives", "sampler", "pruner",
             "budget", "seed", "keep_checkpoints")
_BUDGET_KEYS = ("n_trials", "timeout")
# Training options the study manages itself: where each trial writes, resuming, the progress bar.
_MANAGED_TRAIN = ("out", "resume", "progress")
DEFAULT_DATA = "digits"
PRUNABLE = ("top1", "best_top1", "top5")  # reported after every epoch
DEFAULT_RECIPE = "adam-onecycle"


@dataclass(frozen=True)
class StudyFile:
    """A checked study: its space, objectives, sampler and pruner, the training options (recipe
    applied), the dataset and budget (``n_trials`` trained trials, ``timeout_s`` seconds per
    worker; None: no limit) and the file it was read from (``source``)."""
    name: str
    space: DesignSpace
    objectives: tuple[Objective, ...]
    sampler: Choice
    pruner: Choice
    train: dict[str, Any]                  # TrainConfig options, recipe applied
    data: str = DEFAULT_DATA
    image_size: int | None = None
    n_trials: int | None = None            # None: the whole grid
    timeout_s: float | None = None
    seed: int | None = 0
    keep_checkpoints: bool = False
    description: str = ""
    source: str | None = None

    def __repr__(self) -> str:  # the space and training options are long: names only
        return (f"StudyFile(name={self.name!r}, space={self.space.name!r}, objectives="
                f"{[o.name for o in self.objectives]}, sampler={self.sampler.name!r}, "
                f"pruner={self.pruner.name!r}, data={self.data!r}, n_trials={self.n_trials}, "
                f"source={self.source!r})")

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def epochs(self) -> int:
        return self.train["epochs"]

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same study: changing any of it invalidates its trials."""
        return {"space": self.space.to_dict(), "data": self.data, "image_size": self.image_size,
                "train": self.train, "objectives": [o.name for o in self.objectives]}

    def to_dict(self) -> dict[str, Any]:
        """Plain data, stored with the study (so the report and other machines can read it)."""
        return {"name": self.name, "description": self.description, **self.identity(),
                "sampler": self.sampler.to_dict(), "pruner": self.pruner.to_dict(),
                "budget": {"n_trials": self.n_trials, "timeout": self.timeout_s},
                "seed": self.seed, "keep_checkpoints": self.keep_checkpoints,
                "source": self.source}


def load_study_file(path: str | os.PathLike) -> StudyFile:
    """The study in the YAML file ``path``, checked (its space file is read relative to it);
    any problem is a StudyError naming the file and the key."""
    expect_path(path, "the path of a study file",
                ": it is read already" if isinstance(path, StudyFile) else "")
    path = Path(path)
    data = read_yaml(path, lambda message: StudyError(message, source=str(path)))
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
    return study_from_dict(data, str(path), base_dir=path.parent)


def expect_study(value: Any) -> None:
    """A StudyError unless ``value`` is a StudyFile, saying how to get one from what it is."""
    if isinstance(value, StudyFile):
        return
    hint = ("cnnspace.explore.study_from_dict(d) makes one" if isinstance(value, dict)
            else "cnnspace.explore.load_study_file(path) reads it")
    raise StudyError(f"expected a StudyFile, got {type(value).__name__}: {hint}")


def study_from_dict(d: Any, source: str | None = None,
                    base_dir: str | os.PathLike | None = None) -> StudyFile:
    """Builds and checks a study; any problem raises StudyError naming ``source`` and the key."""
    try:
        return _from_dict(d, source, Path(base_dir or "."))
    except StudyError as e:
        raise e.located(source) from None


def _from_dict(d: Any, source: str | None, base_dir: Path) -> StudyFile:
    if not isinstance(d, dict):
        raise StudyError(f"a study must be a mapping, got {type(d).__name__}")
    unknown = sorted(set(map(str, d)) - set(_TOP_KEYS))
    if {"base", "axes"} <= set(d) and "space" not in d:
        raise StudyError("this is a design-space file, not a study: a study file names it "
                         "(space: PATH) with its training, objectives and budget; see "
                         "examples/studies/ and docs/exploring.md")
    if unknown:
        raise StudyError(f"unknown top-level key (allowed: {', '.join(_TOP_KEYS)})",
                         key=unknown[0])
    for key in ("name", "description"):
        if key in d and not isinstance(d[key], str):
            raise StudyError(f"expected a string, got {d[key]!r}", key=key)
    if not d.get("name"):
        raise StudyError("a study needs a name", key="name")
    space = _space(d.get("space"), base_dir, d["name"])
    objectives = _objectives(d.get("objectives"))
    train, data, image_size = _train(d.get("train") or {})
    listable = space.size is not None and space.size <= GRID_LIMIT
    sampler = parse_choice(d.get("sampler", "grid" if listable else "tpe"), "sampler", SAMPLERS)
    pruner = parse_choice(d.get("pruner", "none"), "pruner", PRUNERS)
    if pruner.name != "none" and len(objectives) > 1:
        raise StudyError("Optuna prunes single-objective studies only (a trial reports one "
                         "intermediate value); remove the pruner: every trial of a "
                         "multi-objective study trains for all its epochs", key="pruner")
    if pruner.name != "none" and objectives[0].name not in PRUNABLE:
        raise StudyError(f"a pruner stops trials whose accuracy lags, so it prunes on a trained "
                         f"accuracy objective ({', '.join(PRUNABLE)}), not {objectives[0].name!r}",
                         key="pruner")
    make_pruner(pruner, train["epochs"])  # its option values, checked while the file is named
    if sampler.name == "grid":
        continuous = [a.name for a in space.axes if not a.enumerable]
        if continuous:
            raise StudyError(f"the grid sampler needs a step on every float axis; "
                             f"'{continuous[0]}' is continuous (give it a step, or use "
                             "random/tpe/nsga2)", key="sampler")
        if not listable:
            raise StudyError(f"the grid sampler lists every point in memory, and this grid has "
                             f"{space.size:,} (more than {GRID_LIMIT:,}): use random/tpe/nsga2, "
                             "or coarser steps", key="sampler")
    with warnings.catch_warnings():  # Optuna calls some options experimental on every use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # Its option values, checked while the file is named (the grid: without its points).
        make_sampler(sampler, lambda: {}, None)
    n_trials, timeout = _budget(d.get("budget"), sampler.name)
    seed = d.get("seed", 0)
    if seed is not None and not (is_int(seed) and 0 <= seed < 2**32):
        raise StudyError(f"expected an integer from 0 to 2**32 - 1 (Optuna's samplers take 32 "
                         f"bits) or null, got {seed!r}", key="seed")
    keep = d.get("keep_checkpoints", False)
    if not isinstance(keep, bool):
        raise StudyError(f"expected true or false, got {keep!r}", key="keep_checkpoints")
    return StudyFile(d["name"], space, objectives, sampler, pruner, train, data, image_size,
                     n_trials, timeout, seed, keep, d.get("description", ""), source)


def _space(value: Any, base_dir: Path, study_name: str) -> DesignSpace:
    if value is None:
        raise StudyError("a study needs a design space: a file name or an inline mapping "
                         "(see docs/design-spaces.md)", key="space")
    if isinstance(value, str):
        path = Path(value) if Path(value).is_absolute() else base_dir / value
        try:
            return DesignSpace.load(path)
        except SpaceError as e:  # names the space's file and its key
            raise StudyError(str(e), key="space") from None
    if isinstance(value, dict):  # an inline space is named after its study, as a file after itself
        value = {"name": study_name, **value}
    try:
        return DesignSpace.from_dict(value)
    except SpaceError as e:  # inline: its key is a key of the study file
        raise StudyError(e.detail, key=f"space.{e.key}" if e.key else "space") from None


def _objectives(value: Any) -> tuple[Objective, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise StudyError(f"expected a non-empty list of objectives among "
                         f"{', '.join(OBJECTIVES)}, got {value!r}", key="objectives")
    out = []
    for i, name in enumerate(value):
        if name not in OBJECTIVES:
            raise StudyError(f"unknown objective {name!r}; known: {', '.join(OBJECTIVES)}",
                             key=f"objectives[{i}]")
        if OBJECTIVES[name] in out:
            raise StudyError(f"objective {name!r} is listed twice", key=f"objectives[{i}]")
        out.append(OBJECTIVES[name])
    return tuple(out)


def _train(value: Any) -> tuple[dict[str, Any], str, int | None]:
    from ..train import TrainConfig  # torch: imported only once a study is read

    if not isinstance(value, dict):
        raise StudyError(f"expected a mapping of training options, got {value!r}", key="train")
    options = dict(value)
    data = options.pop("data", DEFAULT_DATA)
    image_size = options.pop("image_size", None)
    recipe = options.pop("recipe", DEFAULT_RECIPE)
    if not isinstance(data, str) or not data:
        raise StudyError(f"expected a dataset reference such as digits or cifar10:PATH, "
                         f"got {data!r}", key="train.data")
    if image_size is not None and (not is_int(image_size) or image_size < 1):
        raise StudyError(f"expected a positive integer, got {image_size!r}", key="train.image_size")
    for managed in _MANAGED_TRAIN:
        if managed in options:
            raise StudyError("set by the study for each trial (its folder under --out)",
                             key=f"train.{managed}")
    # TrainConfig's own message would offer out/progress/resume, which a study refuses.
    allowed = {f.name for f in fields(TrainConfig)} - set(_MANAGED_TRAIN) - {"recipe"}
    unknown = sorted(set(map(str, options)) - allowed)
    if unknown:
        raise StudyError(f"unknown training option; known: "
                         f"{', '.join(sorted(allowed | {'data', 'image_size', 'recipe'}))}",
                         key=f"train.{unknown[0]}")
    try:
        config = TrainConfig.from_recipe(recipe, **options)
    except CnnspaceError as e:
        raise StudyError(str(e), key="train") from None
    train = {k: v for k, v in config.to_dict().items() if k not in _MANAGED_TRAIN}
    return train, data, image_size


def _budget(value: Any, sampler: str) -> tuple[int | None, float | None]:
    value = value or {}
    if not isinstance(value, dict):
        raise StudyError(f"expected a mapping with n_trials and/or timeout, got {value!r}",
                         key="budget")
    unknown = sorted(set(map(str, value)) - set(_BUDGET_KEYS))
    if unknown:
        raise StudyError(f"unknown budget key (allowed: {', '.join(_BUDGET_KEYS)})",
                         key=f"budget.{unknown[0]}")
    n_trials, timeout = value.get("n_trials"), value.get("timeout")
    if n_trials is not None and (not is_int(n_trials) or n_trials < 1):
        raise StudyError(f"expected a positive integer, got {n_trials!r}", key="budget.n_trials")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or timeout <= 0):
        raise StudyError(f"expected a positive number of seconds, got {timeout!r}",
                         key="budget.timeout")
    if sampler != "grid" and n_trials is None and timeout is None:
        raise StudyError(f"the {sampler} sampler never runs out of points: give "
                         "budget.n_trials or budget.timeout", key="budget")
    return n_trials, None if timeout is None else float(timeout)

