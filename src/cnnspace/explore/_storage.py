"""Where a study lives: an Optuna storage chosen from a folder, a file or a database URL.

- a folder (``--out DIR``): ``DIR/study.journal``, Optuna's JournalStorage file backend, which
  several local workers share safely (benchmarks/explore_storage.py: no error with 2-8 workers,
  where SQLite fails to open under the creation race and loses trials at 8);
- a ``*.journal`` file: the same;
- ``sqlite:///...``, ``postgresql+psycopg2://...`` or any SQLAlchemy URL: RDBStorage.
  PostgreSQL is the one to share between machines;
- a ``*.db`` file: SQLite.

Every storage runs Optuna's heartbeat: a trial whose worker died (killed, machine lost) is failed
once its heartbeat is ``grace_s`` old and queued again by RetryHeartbeatStaleTrialCallback.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.trial import TrialState

from ..errors import CnnspaceError
from ._errors import describe_error, expect_path
from ._journal import (CheckedJournalStorage, HeartbeatJournalStorage, RetryTrial,
                       set_aside_cut_off_line, worker_gone)

JOURNAL_FILE = "study.journal"
DB_FILE = "study.db"
# A worker writes a heartbeat every HEARTBEAT_S; one silent for GRACE_S is declared dead and its
# trial is queued again. A point whose trials fail is tried again at most MAX_RETRY times, so it
# cannot loop; interruptions (Ctrl-C, SIGTERM, a dead worker) do not count (see RetryTrial).
HEARTBEAT_S = 10
GRACE_S = 60
MAX_RETRY = 3
# A point whose worker died this many times more is given up (lost): its training crashes it.
MAX_DEATHS = 3
# SQLite serialises writers; a worker waits this long for the lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_S = 120
OPEN_ATTEMPTS = 5


def _check_positive(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CnnspaceError(f"{name} must be a positive integer, got {value!r}")


def check_heartbeat(interval_s, grace_s,
                    names: tuple[str, str] = ("heartbeat interval_s", "heartbeat grace_s")):
    """``names``: what the caller calls the two values (the command: its flags)."""
    _check_positive(names[0], interval_s)
    _check_positive(names[1], grace_s)
    if grace_s <= interval_s:
        raise CnnspaceError(f"{names[1]} ({grace_s} s) must exceed {names[0]} ({interval_s} s): "
                            "a live trial would be taken as dead between two heartbeats")


@dataclass(frozen=True)
class Heartbeat:
    """How workers prove they are alive: a heartbeat every ``interval_s`` seconds; a trial
    silent for ``grace_s`` seconds is taken as dead and queued again; a point whose trials fail
    is retried at most ``max_retry`` times; a point whose worker dies while training it is
    retried at most ``max_deaths`` times."""
    interval_s: int = HEARTBEAT_S
    grace_s: int = GRACE_S
    max_retry: int = MAX_RETRY
    max_deaths: int = MAX_DEATHS

    def __post_init__(self):
        for name in ("max_retry", "max_deaths"):
            _check_positive(f"heartbeat {name}", getattr(self, name))
        check_heartbeat(self.interval_s, self.grace_s)

    def retry_callback(self) -> RetryTrial:
        """Queues a stale, interrupted or failed trial again with its point (failed ones at most
        ``max_retry`` times, those whose worker died at most ``max_deaths`` times)."""
        return RetryTrial(self.max_retry, self.max_deaths)


_SQLITE = {".sqlite", ".sqlite3"}
_NOT_STORAGE = {".json", ".yaml", ".yml", ".csv", ".txt", ".html", ".pt", *_SQLITE}


def storage_url(location: str | os.PathLike) -> str:
    """The storage URL, or journal file path, that a folder, file or URL stands for. A folder
    means its journal, or its SQLite database if only that exists."""
    expect_path(location, "the folder `cnnspace explore --out` wrote, a .journal or .db file or "
                "a storage URL")
    text = str(location)
    if "://" in text:
        return text
    path = Path(text).resolve()
    if path.suffix.lower() in _NOT_STORAGE and not path.exists():
        # a mistyped storage, or a study file given for it, would become a folder of that name
        hint = (f"; for SQLite give sqlite:///{path}" if path.suffix.lower() in _SQLITE else "")
        raise CnnspaceError(f"{text}: a study is stored in a folder, a .journal or .db file, or "
                            f"a storage URL; a new {path.suffix} name is none of these{hint}")
    if path.suffix == ".journal" or (path.is_file() and path.suffix != ".db"):
        return str(path)
    if path.suffix == ".db":
        return f"sqlite:///{path}"
    if (path / DB_FILE).is_file() and not (path / JOURNAL_FILE).is_file():
        return f"sqlite:///{path / DB_FILE}"
    return str(path / JOURNAL_FILE)


def is_journal(url: str) -> bool:
    return "://" not in url


def open_storage(location: str | os.PathLike, heartbeat: Heartbeat | None = Heartbeat(),
                 must_exist: bool = False) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``location`` (see the module's docstring); ``must_exist`` for
    reading a study back, so a mistyped folder is an error rather than a new empty study."""
    url = storage_url(location)
    local = Path(url) if is_journal(url) else (
        Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None)
    if local is not None:
        if must_exist and not local.is_file():
            raise CnnspaceError(f"no study at {local} (give the folder `cnnspace explore --out` "
                                "wrote, a .journal or .db file, or a storage URL)")
        if is_journal(url):
            _check_journal(local)
        local.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # Optuna calls the heartbeat experimental on every use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = heartbeat and heartbeat.retry_callback()
        if is_journal(url):
            return _open_journal(local, heartbeat, retry)
        engine = ({"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}} if local is not None
                  else {"pool_pre_ping": True})
        beat = {} if heartbeat is None else dict(
            heartbeat_interval=heartbeat.interval_s, grace_period=heartbeat.grace_s,
            heartbeat_stale_trial_callback=retry)
        if must_exist:
            _check_holds_studies(url, engine)
        return _open_rdb(url, engine, beat, local is not None)


def _check_holds_studies(url: str, engine: dict) -> None:
    """Opening a database as a storage creates Optuna's tables in it: reading a study back
    from another program's database (or an empty file) wrote some twenty tables into it before
    saying that it held no study."""
    connection = None
    try:
        connection = sqlalchemy.create_engine(url, **engine)
        holds = sqlalchemy.inspect(connection).has_table("studies")
    except ImportError:
        return  # _open_rdb names the missing driver
    except Exception as e:  # SQLAlchemy/driver errors: a bad URL, no server
        raise CnnspaceError(f"cannot open the storage {redact(url)}: "
                            f"{type(e).__name__}: {str(e).splitlines()[0]}") from None
    finally:
        if connection is not None:
            connection.dispose()
    if not holds:
        raise CnnspaceError(f"{redact(url)} holds no cnnspace study (no Optuna tables; it was "
                            "left as it is): give the folder `cnnspace explore --out` wrote, "
                            "its study.db or study.journal, or the storage URL a study used")


class HeartbeatRDBStorage(RDBStorage):
    """Optuna's RDBStorage, whose stale trials also include those that never wrote a heartbeat
    (their worker died between creating the trial and its first heartbeat), once this process
    has seen them silent for the grace period: Optuna skips them for good, and every later
    trial waited for them as for a trial still choosing its point (a resumed study hung). On a
    ``local`` database (SQLite: its workers are all here), as on the journal, a trial whose
    worker process is gone (kill -9) is stale at once, not after the grace period (60 s); a
    server's workers may be on machines that share a host name."""

    def __init__(self, *args, local: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self._local = local
        self._silent_since: dict[int, float] = {}  # running trial id -> first seen without one

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = super()._get_stale_trial_ids(study_id)
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        beating = self._with_heartbeat([t._trial_id for t in running])
        now = time.monotonic()  # this process's clock: the trials' start times are the workers'
        self._silent_since = {t._trial_id: self._silent_since.get(t._trial_id, now)
                              for t in running if t._trial_id not in beating}
        silent = [i for i, since in self._silent_since.items() if now - since > self.grace_period]
        gone = [t._trial_id for t in running if self._local and worker_gone(t)]
        return list(dict.fromkeys([*stale, *silent, *gone]))

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as e:
            if storage_failure(e) is None:
                raise
            # Optuna's heartbeat thread would print a traceback every interval; the worker's
            # next use of the storage reports it once, and a beat lost in a glitch is retried.

    def _with_heartbeat(self, trial_ids: list[int]) -> set[int]:
        if not trial_ids:
            return set()
        beats = models.TrialHeartbeatModel
        with self.engine.connect() as connection:
            return set(connection.scalars(sqlalchemy.select(beats.trial_id).where(
                beats.trial_id.in_(trial_ids))))


def _open_journal(path: Path, heartbeat: Heartbeat | None,
                  retry: RetryTrial | None) -> optuna.storages.BaseStorage:
    """The one place a journal is opened: a cut-off last line set aside first, and a damaged
    line an error naming the file and the line."""
    lock = JournalFileSymlinkLock(str(path))
    backend = JournalFileBackend(str(path), lock_obj=lock)
    note = set_aside_cut_off_line(path, lock)
    if note:
        print(f"note: {note}", file=sys.stderr)
    if heartbeat is None:
        return CheckedJournalStorage(backend, path)
    return HeartbeatJournalStorage(backend, path, heartbeat.interval_s, heartbeat.grace_s, retry)


def _check_journal(path: Path) -> None:
    """An existing file read or written as a journal must be one: a study file, a CSV or a
    report given by mistake would otherwise fail deep in Optuna, or be appended to."""
    if not path.is_file():
        return
    with open(path, "rb") as f:
        first = f.readline()
    if not first and path.suffix == ".journal":
        return  # a journal no record has reached yet
    try:
        record = json.loads(first)
    except ValueError:  # includes a first record another worker is still writing
        record = {"op_code": None} if first.startswith(b'{"op_code"') else None
    if not (isinstance(record, dict) and "op_code" in record):
        raise CnnspaceError(f"{path} is not a study journal (its first line is not an Optuna "
                            "journal record); give the folder `cnnspace explore --out` wrote, a "
                            ".journal or .db file, or a storage URL")


def _open_rdb(url: str, engine: dict, beat: dict, local: bool) -> RDBStorage:
    """RDBStorage creates its tables when opened; workers opening a fresh database at the same
    moment race to create them and the losers fail. The tables exist once anyone has won, so a
    failed open is retried a few times."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return HeartbeatRDBStorage(url, engine_kwargs=engine, local=local, **beat)
        except Exception as e:  # SQLAlchemy/driver errors: a race, a bad URL, no server
            if isinstance(e, ImportError):
                raise CnnspaceError(f"cannot open the storage {redact(url)}: the Python driver "
                                    "for this database is not installed (for PostgreSQL: pip "
                                    "install 'cnnspace[postgres]', which brings psycopg2)"
                                    ) from None
            if attempt == OPEN_ATTEMPTS - 1 or not _is_race(e):
                raise CnnspaceError(f"cannot open the storage {redact(url)}: "
                                    f"{type(e).__name__}: {str(e).splitlines()[0]}") from None
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _is_race(e: Exception) -> bool:
    """An error another worker creating the same tables causes (not a bad URL or a dead server)."""
    text = str(e).lower()
    return isinstance(e, sqlalchemy.exc.IntegrityError) or (
        isinstance(e, sqlalchemy.exc.OperationalError)
        and ("already exists" in text or "locked" in text))


def storage_failure(e: BaseException) -> str | None:
    """What went wrong with the database behind ``e`` (anywhere in its chain of causes), in
    one line (the driver's own words where it gave some), or None if no database error is
    behind it."""
    found, seen = None, set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, sqlalchemy.exc.DBAPIError) and e.orig is not None:
            return describe_error(e.orig)
        if found is None and isinstance(e, (sqlalchemy.exc.SQLAlchemyError,
                                            optuna.exceptions.StorageInternalError)):
            found = describe_error(e)
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    return found


def redact(url: str) -> str:
    """The URL without its password, for messages and reports."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"
