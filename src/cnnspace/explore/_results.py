"""A finished (or running) study read back from its storage, for reports and summaries."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from ._errors import StudyError
from ._objectives import OBJECTIVES, Objective
from ._records import FEASIBILITY_ATTR, SAMPLING_ATTR, STUDY_ATTR, Counts, count, trial_rows
from ._session import sampling_of
from ._storage import open_storage, redact, storage_url


@dataclass(frozen=True)
class StudyResults:
    """A study read back: its stored study file (``config``), objectives, axes, the Optuna
    trials and one flat row per trial, the counts by outcome and the up-front feasibility check."""
    name: str
    storage: str                     # URL or journal path, password hidden
    config: dict[str, Any]           # the study file's content, as stored with the study
    objectives: tuple[Objective, ...]
    axes: tuple[str, ...]            # the design space's axes, in order
    trials: list[FrozenTrial]
    rows: list[dict[str, Any]]       # one per trial (see trial_rows)
    counts: Counts
    feasibility: dict[str, Any]
    sampling: tuple[str, ...] = ()   # 'sampler / pruner' of each run, in order

    def __repr__(self) -> str:  # the config, trials and rows are long: counts only
        return (f"StudyResults(name={self.name!r}, storage={self.storage!r}, objectives="
                f"{[o.name for o in self.objectives]}, axes={list(self.axes)}, "
                f"trials=<{len(self.trials)} FrozenTrial>, counts={self.counts!r})")

    @property
    def description(self) -> str:
        return self.config.get("description", "")


def study_names(location: str | os.PathLike) -> list[str]:
    """The names of the studies in ``location`` (as ``load_results`` takes it), sorted."""
    storage = open_storage(location, heartbeat=None, must_exist=True)
    return sorted(s.study_name for s in storage.get_all_studies())


def load_results(location: str | os.PathLike, study_name: str | None = None) -> StudyResults:
    """The study ``study_name`` (or the only study) in ``location``: a folder `cnnspace explore
    --out` wrote, a .journal/.db file or a storage URL."""
    if study_name is not None and not isinstance(study_name, str):
        raise StudyError(f"study_name: expected a str or None, got {type(study_name).__name__}")
    storage = open_storage(location, heartbeat=None, must_exist=True)
    names = sorted(s.study_name for s in storage.get_all_studies())
    if study_name is None:
        if len(names) != 1:
            raise StudyError(f"{redact(storage_url(location))} holds "
                             + (f"the studies {', '.join(names)}: choose one with --study-name"
                                if names else "no study"))
        study_name = names[0]
    elif study_name not in names:
        raise StudyError(f"no study {study_name!r} in {redact(storage_url(location))}; it holds "
                         f"{', '.join(names) or 'none'}")
    study = optuna.load_study(study_name=study_name, storage=storage)
    config = study.user_attrs.get(STUDY_ATTR)
    if config is None:
        raise StudyError(f"study {study_name!r} was not made by `cnnspace explore` (it has no "
                         "study file attached); open it with optuna-dashboard instead")
    trials = study.get_trials(deepcopy=False)
    axes = tuple(config["space"]["axes"])
    return StudyResults(study_name, redact(storage_url(location)), config,
                        tuple(OBJECTIVES[n] for n in config["objectives"]), axes, trials,
                        trial_rows(trials, list(axes)), count(trials),
                        study.user_attrs.get(FEASIBILITY_ATTR, {}),
                        tuple(study.user_attrs.get(SAMPLING_ATTR) or [sampling_of(config)]))
