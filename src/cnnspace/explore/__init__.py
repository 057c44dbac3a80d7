"""Design-space exploration studies on Optuna: a study file (design space, training recipe,
objectives, sampler, pruner, budget), workers that share one study through an Optuna storage
(a journal file by default, PostgreSQL across machines) with heartbeats and retries, and the
results read back for reports.

``explore(load_study_file("study.yaml"), "runs/study")`` runs a study; ``load_results(DIR)``
reads it back. Torch is imported only when a study runs.
"""
from ._errors import StudyError
from ._objectives import OBJECTIVES, Objective
from ._pareto import pareto_mask
from ._points import DATASET_SETTINGS, Feasibility, check_feasible, fit_space, retrain_command
from ._records import METRIC_COLUMNS, Counts, count, curves, retried_numbers, trial_rows
from ._results import StudyResults, load_results, study_names
from ._run import ExploreResult, explore
from ._session import fitted_space
from ._samplers import PRUNERS, SAMPLERS
from ._storage import Heartbeat, open_storage, redact, storage_url
from ._study_file import StudyFile, load_study_file, study_from_dict
from ._trial import file_name

__all__ = ["DATASET_SETTINGS", "METRIC_COLUMNS", "OBJECTIVES", "PRUNERS", "SAMPLERS", "Counts",
           "ExploreResult", "Feasibility", "Heartbeat", "Objective", "StudyError", "StudyFile",
           "StudyResults", "check_feasible", "count", "curves", "explore", "file_name",
           "fit_space", "fitted_space", "load_results", "load_study_file", "open_storage", "pareto_mask",
           "redact", "retrain_command", "retried_numbers", "storage_url", "study_from_dict",
           "study_names", "trial_rows"]
