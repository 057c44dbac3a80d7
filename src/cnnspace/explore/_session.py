"""Before any training: the dataset opened, the space fitted to it and checked analytically, the
budget worked out, and the Optuna study created (or found, and checked to be the same study)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import optuna

from ..errors import CnnspaceError
from ..space import DesignSpace
from ._errors import StudyError
from ._points import Feasibility, check_feasible, fit_space
from ._records import FEASIBILITY_ATTR, SAMPLING_ATTR, STUDY_ATTR
from ._study_file import StudyFile, expect_study


@dataclass(frozen=True)
class Prepared:
    study: StudyFile
    space: DesignSpace        # fitted to the dataset
    data: Any                 # cnnspace.data.DataSplits
    feasibility: Feasibility
    notes: tuple[str, ...]
    total: int | None         # trials to finish (infeasible ones aside); None: until the timeout
    infeasible: int = 0       # infeasible grid points to record too (a whole grid is run)
    whole_grid: bool = False  # the budget is every grid point (see _records.budget_trials)

    def describe_budget(self) -> str:
        """``8 trials``, ``60 s per worker`` or ``8 trials or 60 s per worker``."""
        timeout = self.study.timeout_s
        per_worker = f"{timeout:g} s per worker" if timeout else ""
        if self.total is None:  # then the study file has a timeout
            return per_worker
        trials = f"{self.total:,} trial{'' if self.total == 1 else 's'}"
        return trials + (f" or {per_worker}" if timeout else "")


def fitted_space(study: StudyFile):
    """The study's dataset, its space as the study trains it (at the dataset's input size and
    class count), and notes on what that changed."""
    from ..data import get_dataset  # torch: only when a study's dataset is opened

    expect_study(study)
    try:
        data = get_dataset(study.data, study.image_size)
    except CnnspaceError as e:
        raise StudyError(str(e), key="train.data", source=study.source) from None
    try:
        space, notes = fit_space(study.space, data.input_shape, data.num_classes)
    except StudyError as e:
        raise e.located(study.source) from None
    return data, space, notes


def check_training_here(study: StudyFile) -> None:
    """What every trial would meet on this machine, met once before any: a device it lacks,
    weights to start from (``init_from``) that cannot be read. Each trial met them alone, and
    the study ended with every point failed (4 tries each) and kept failed on a resumed run."""
    from ..train import read_initial_weights, uses_cuda

    try:
        uses_cuda(study.train["device"])
    except CnnspaceError as e:
        raise StudyError(str(e), key="train.device", source=study.source) from None
    if study.train.get("init_from"):
        try:
            read_initial_weights(study.train["init_from"])
        except CnnspaceError as e:
            raise StudyError(str(e), key="train.init_from", source=study.source) from None


def prepare(study: StudyFile) -> Prepared:
    data, space, notes = fitted_space(study)
    check_training_here(study)
    try:
        found = check_feasible(space, study.seed or 0)
    except StudyError as e:
        raise e.located(study.source) from None
    total, infeasible, whole_grid = study.n_trials, 0, False
    if study.sampler.name == "grid":
        if not found.whole_grid and total is None and study.timeout_s is None:
            raise StudyError(f"a grid of {space.size:,} points: give budget.n_trials or "
                             "budget.timeout", key="budget", source=study.source)
        if found.whole_grid and (total is None or total >= found.feasible):
            total, infeasible = found.feasible, found.checked - found.feasible
            whole_grid = True
    return Prepared(study, space, data, found, tuple(notes), total, infeasible, whole_grid)


def open_study(storage: optuna.storages.BaseStorage, name: str, prepared: Prepared,
               **sampling) -> optuna.Study:
    """The study ``name`` in ``storage``: created with the study file's content attached, or,
    if it exists, checked to come from the same design space, recipe and objectives."""
    study_file = prepared.study
    try:
        study = optuna.load_study(study_name=name, storage=storage, **sampling)
    except KeyError:
        study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                    directions=study_file.directions, **sampling)
    stored = study.user_attrs.get(STUDY_ATTR)
    if stored is None:
        study.set_user_attr(STUDY_ATTR, _plain(study_file.to_dict()))
        study.set_user_attr(FEASIBILITY_ATTR, _plain(prepared.feasibility.__dict__))
        return study
    changed = _changes(_networks_only(stored), _networks_only(_plain(study_file.identity())))
    if changed:
        raise StudyError(f"the storage already holds a study {name!r} made with another "
                         f"{' and '.join(changed)}; its trials would not compare with this "
                         "file's. Give another --study-name or --out (or restore the file)",
                         source=study_file.source)
    # The stored file stays the first run's (its seed orders a grid); a run with another
    # sampler or pruner is listed, or the report named the first run's sampler alone.
    runs = study.user_attrs.get(SAMPLING_ATTR) or [sampling_of(stored)]
    if runs[-1] != sampling_of(study_file.to_dict()):
        study.set_user_attr(SAMPLING_ATTR, [*runs, sampling_of(study_file.to_dict())])
    return study


def sampling_of(config: dict[str, Any]) -> str:
    """'tpe / median': a study file's sampler and pruner, as the report names them."""
    return f"{config['sampler']['name']} / {config['pruner']['name']}"


TRAINING_IDENTITY = ("data", "image_size", "train")  # what makes two studies train alike
# What names or describes a space rather than its networks: free to change on a resumed run.
SPACE_LABELS = ("name", "description")


def _networks_only(identity: dict[str, Any]) -> dict[str, Any]:
    """A study's identity with its space reduced to what decides the networks and points."""
    space = {k: v for k, v in identity["space"].items() if k not in SPACE_LABELS}
    return {**identity, "space": space}


def trains_alike(stored: dict[str, Any], study_file: StudyFile) -> bool:
    """Whether a stored study (its STUDY_ATTR) trains a network as ``study_file`` would, so
    that one's trained results stand for the other's."""
    ours = _plain(study_file.identity())
    return not _changes({k: stored.get(k) for k in TRAINING_IDENTITY},
                        {k: ours[k] for k in TRAINING_IDENTITY})


def _changes(stored: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """The parts of the study's identity that differ. Training options that only say where and
    how a run executes (device, loader processes, ...) may change, as on a resumed run."""
    from ..train import TrainConfig

    changed = [f"{k} ({'; '.join(_differences(stored.get(k), ours[k], k))})" for k in ours
               if k != "train" and stored.get(k) != ours[k]]
    before, now = TrainConfig.from_dict(stored["train"]), TrainConfig.from_dict(ours["train"])
    if before.differences(now):
        changed.append("train (" + "; ".join(before.differences(now)) + ")")
    return changed


def _differences(before: Any, now: Any, where: str) -> list[str]:
    """``where.key: old -> new`` for each leaf of two plain values that differs."""
    if isinstance(before, dict) and isinstance(now, dict):
        return [d for k in sorted(set(before) | set(now), key=str) if before.get(k) != now.get(k)
                for d in _differences(before.get(k), now.get(k), f"{where}.{k}")]
    return [f"{where}: {json.dumps(before)} -> {json.dumps(now)}"]


def _plain(value: Any) -> Any:
    """As the storage gives it back (JSON): tuples become lists."""
    return json.loads(json.dumps(value))
