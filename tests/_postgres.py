"""A real PostgreSQL server for the tests that share a study between "machines".

The ``postgres_url`` fixture uses CNNSPACE_TEST_POSTGRES_URL when set (CI starts a server), else
starts a throwaway one with .ci/postgres.sh when the Debian package is installed. Without either,
the test fails under CI (CI=true) and is skipped, with the reason, elsewhere.
"""
from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "postgres.sh"
MISSING = ("PostgreSQL is needed for this test: install the server (apt-get install postgresql) or "
           "set CNNSPACE_TEST_POSTGRES_URL to a database URL such as "
           "postgresql+psycopg2://postgres@127.0.0.1:5432/optuna")


@pytest.fixture(scope="session")
def postgres_url():
    url = os.environ.get("CNNSPACE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, timeout=120)
    if started.returncode:
        pytest.fail(f"{SCRIPT} start failed: {started.stderr.strip()}")
    folder, url = started.stdout.split()[0], started.stdout.split()[-1]
    try:
        yield url
    finally:
        subprocess.run([str(SCRIPT), "stop", folder], capture_output=True, timeout=120)
