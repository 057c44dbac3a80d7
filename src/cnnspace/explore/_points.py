"""The design space as a study trains it: fitted to the dataset, checked analytically up front,
sampled through Optuna, and each point turned back into a `cnnspace train` command line."""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, replace
from typing import Any, Mapping

import optuna

from ..space import DesignSpace, analyze_points
from ..spec import SpecError, parse_input
from ..zoo import model_entry
from ._errors import StudyError

# Above this many grid points the up-front check analyses a random sample instead of the grid,
# in chunks, stopping after the first chunk with a feasible point: every run and every worker
# pays for the check (20,000 points of firenet at 64x64 took 28 s where 1,000 take 1.4 s), and
# the whole sample is needed only to say that no point is feasible.
FEASIBILITY_SAMPLE = 20_000
FEASIBILITY_CHUNK = 1_000
# The settings a dataset decides: its images' shape and its class count.
DATASET_SETTINGS = ("input", "num_classes")


@dataclass(frozen=True)
class Feasibility:
    """The up-front analytic check of a space: counts of points (analysed, satisfying the
    constraints, violating them, rejected by the family), over the whole grid or a sample."""
    checked: int          # points analysed
    feasible: int
    infeasible: int       # violate a constraint
    invalid: int          # the family rejects them (e.g. a pooling layer that no longer fits)
    whole_grid: bool      # False: a random sample of the space

    def describe(self) -> str:
        scope = "grid points" if self.whole_grid else "sampled points"
        return (f"{self.feasible:,} of {self.checked:,} {scope} satisfy the constraints "
                f"({self.infeasible:,} violate them, {self.invalid:,} are invalid networks)")


def expect_space(value: Any) -> None:
    """A StudyError unless ``value`` is a DesignSpace, saying how to get one from what it is."""
    if isinstance(value, DesignSpace):
        return
    hint = ("a study's space is its .space" if hasattr(value, "space")
            else "cnnspace.space.DesignSpace.load(path) reads one")
    raise StudyError(f"expected a DesignSpace, got {type(value).__name__}: {hint}")


def fit_space(space: DesignSpace, input_shape: tuple[int, int, int],
              num_classes: int) -> tuple[DesignSpace, list[str]]:
    """``space`` with the dataset's input shape and class count fixed (where its base model takes
    them), and notes on any value of the space's that this replaced."""
    expect_space(space)
    accepted = model_entry(space.base).defaults
    wanted = {"input": list(input_shape), "num_classes": num_classes}
    fixed, notes = dict(space.fixed), []
    for key, value in wanted.items():
        if key not in accepted:
            continue
        if key in {a.name for a in space.axes}:
            # Only the input has a study option of its own; the classes are the dataset's.
            hint = " (resize the images with train.image_size instead)" if key == "input" else ""
            raise StudyError(f"the dataset sets {key!r} ({value}); it cannot be an axis{hint}",
                             key=f"space.axes.{key}")
        given = fixed.get(key, accepted[key])
        if _plain(given) != value and not _same_input(given, value):
            whose = "the space fixes" if key in fixed else f"{space.base}'s default is"
            notes.append(f"{whose} {key}={_plain(given)}; the study trains at {value}, its "
                         "dataset's, and measures sizes and MACs there")
        fixed[key] = value
    return replace(space, fixed=fixed), notes


def check_feasible(space: DesignSpace, seed: int = 0) -> Feasibility:
    """Analyses the grid (or a sample of it, until a feasible point is found) before any
    training; a space whose constraints exclude every point is an error."""
    expect_space(space)
    size = space.size
    whole = size is not None and size <= FEASIBILITY_SAMPLE
    if whole:
        results = analyze_points(space, list(space.points()))
    else:
        points, results = space.sample(FEASIBILITY_SAMPLE, seed), []
        for start in range(0, len(points), FEASIBILITY_CHUNK):
            results += analyze_points(space, points[start:start + FEASIBILITY_CHUNK])
            if any(r.ok for r in results):
                break
    feasible = sum(r.ok for r in results)
    invalid = sum(r.error is not None for r in results)
    found = Feasibility(len(results), feasible, len(results) - feasible - invalid, invalid, whole)
    if not feasible:
        # of a sample, only the sampled points are known to be excluded
        every = "every point" if whole else "every sampled point"
        valid = [r for r in results if r.error is None]
        if valid:
            raise StudyError(f"the constraints exclude {every}: {found.describe()}; e.g. "
                             f"{describe_point(valid[0].point)} violates "
                             f"{', '.join(valid[0].violated)}. Loosen them or change the axes",
                             key="space.constraints")
        raise StudyError(f"{space.base} rejects {every} of the space ({found.describe()}); "
                         f"e.g. {results[0].error}", key="space")
    return found


def grid_search_space(space: DesignSpace) -> dict[str, list]:
    """The grid sampler's search space: every value of every axis, as Optuna stores it."""
    return {a.name: a.to_optuna()[1]["choices"] if a.kind == "choice" else list(a.grid())
            for a in space.axes}


def suggest_point(trial: optuna.Trial, space: DesignSpace) -> dict[str, Any]:
    point = {}
    for axis in space.axes:
        method, kwargs = axis.to_optuna()
        point[axis.name] = axis.from_optuna(getattr(trial, method)(**kwargs))
    return point


def retrain_command(space: DesignSpace, point: Mapping[str, Any], train: dict[str, Any],
                    data: str, image_size: int | None, flags: dict[str, str],
                    recipe_values: dict[str, Any]) -> str:
    """The `cnnspace train` command that trains ``point`` as the study did. ``flags`` maps a
    training option to its command-line flag (the train command's own table); options equal to
    the recipe's values (``recipe_values``) are left out."""
    argv = ["cnnspace", "train", space.base]
    for key, value in space.canonical_settings(point).items():
        if key not in DATASET_SETTINGS:  # the dataset sets these again
            argv.append(f"--set={key}={_yaml_scalar(value)}")
    argv.append(f"--data={data}")
    if image_size:
        argv.append(f"--image-size={image_size}")
    for key, value in train.items():
        flag = flags.get(key)
        if flag is None or value is None or (key != "recipe" and value == recipe_values.get(key)):
            continue
        if isinstance(value, bool):
            argv += [flag] if value else []
        else:
            argv.append(f"{flag}={value}")
    return shlex.join(argv)


def _yaml_scalar(value: Any) -> str:
    """A value as `--set` reads it back (YAML): lists and mappings in flow style."""
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _same_input(given: Any, shape: list[int]) -> bool:
    try:
        return list(parse_input(given)) == shape
    except SpecError:  # an unreadable value is simply different
        return False


def describe_point(point: Mapping[str, Any]) -> str:
    """'sr=0.593932, base_e=64': a sampled float to 6 significant digits (its 17 only blur a
    progress line; the storage and the report keep them all)."""
    return ", ".join(f"{k}={float(f'{v:.6g}')!r}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in point.items())
