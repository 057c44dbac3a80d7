"""The two-worker test of test_explore_workers.py on a real PostgreSQL server, each worker with its
own --out as if on its own machine: they share the study through the database alone."""
from __future__ import annotations

import uuid
from pathlib import Path

from _postgres import postgres_url  # noqa: F401  (the fixture)
from test_explore_workers import POINTS, run_and_kill_one

from cnnspace.explore import load_results


def test_two_machines_share_a_study_on_postgres(tmp_path, postgres_url):  # noqa: F811
    name = f"pg-{uuid.uuid4().hex[:8]}"
    trials, victim, retry, _ = run_and_kill_one(tmp_path, name, storage=postgres_url)
    # Each "machine" trains in its own folder: the retry ran on the survivor's, from epoch 1.
    assert Path(victim.user_attrs["run_folder"]).parent == tmp_path / "a" / "trials"
    assert Path(retry.user_attrs["run_folder"]).parent == tmp_path / "b" / "trials"
    assert [c["epoch"] for c in retry.user_attrs["curve"]] == [1, 2, 3]
    results = load_results(postgres_url, name)
    assert results.counts.trained == len(POINTS) and results.counts.lost == 0
    assert results.storage == postgres_url  # no password in this URL to hide
