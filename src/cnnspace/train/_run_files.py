"""The files of a run folder, all written atomically: config.yaml, metrics.jsonl,
checkpoint.pt, best.pt, result.json."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Iterator

import yaml

from .._atomic import remove_stale_temps, write_text_atomic
from ..errors import CnnspaceError
from ._callbacks import best_record
from ._checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ._config import ConfigError


class RunFiles:
    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.config = self.out / "config.yaml"
        self.metrics = self.out / "metrics.jsonl"
        self.checkpoint = self.out / "checkpoint.pt"
        self.best = self.out / "best.pt"
        self.result = self.out / "result.json"

    def claimed(self) -> contextlib.AbstractContextManager[None]:
        """Held while a run writes the folder: a second run started on the same --out is refused
        instead of interleaving its checkpoints with this one's."""
        return claimed_folder(self.out, f"{self.out} is being written by another run; wait for "
                              "it to end (then --resume continues it) or choose another --out")

    def refuse_to_overwrite(self, resume: bool) -> None:
        """A finished or interrupted run is continued (``resume``), never started over."""
        if self.checkpoint.exists() and not resume:
            raise ConfigError(f"{self.out} already holds a run; continue it with --resume or "
                              "choose another --out")
        if self.best.exists() and not self.checkpoint.exists():
            # checkpoint.pt removed to keep only the model: a new run (--resume or not, there is
            # nothing to continue) would write over best.pt and the run's records
            raise ConfigError(f"{self.out} holds a run's {self.best.name} but no "
                              f"{self.checkpoint.name} to continue from; choose another --out")

    def remove_stale_temps(self) -> None:
        """The half-written files of a process killed while writing (its files are whole:
        they are written under temporary names and renamed)."""
        for path in (self.config, self.metrics, self.checkpoint, self.best, self.result):
            remove_stale_temps(self.out, path.name)

    def write_config(self, info: dict) -> None:
        write_text_atomic(self.config, yaml.safe_dump(info, sort_keys=False, width=100))

    def add_resume(self, entry: dict) -> None:
        """config.yaml describes the run as it started; each resume is listed under
        ``resumes`` (its step, workers, device, threads, command), as these may differ."""
        try:
            info = yaml.safe_load(self.config.read_text())
        except (OSError, yaml.YAMLError):
            info = None
        info = info if isinstance(info, dict) else {}
        resumes = info.get("resumes") if isinstance(info.get("resumes"), list) else []
        self.write_config({**info, "resumes": [*resumes, entry]})

    def write_metrics(self, history: list[dict]) -> None:
        """The whole history each time: after a resume the file matches the checkpoint's."""
        write_text_atomic(self.metrics, "".join(json.dumps(r) + "\n" for r in history))

    def write_result(self, result: dict) -> None:
        write_text_atomic(self.result, json.dumps(result, indent=2) + "\n")

    def result_steps(self) -> int | None:
        """The steps the result.json on disk describes; None where there is none to read."""
        try:
            steps = json.loads(self.result.read_text()).get("steps")
        except (OSError, ValueError, AttributeError):
            return None
        return steps if isinstance(steps, int) else None

    def restore_best(self, payload: dict, monitor: str) -> None:
        """An epoch's checkpoint.pt is written before its best.pt: a run killed in between (or
        out of disk for best.pt) left best.pt an earlier epoch's, or none, while its history
        names the epoch it saved as the best. That epoch's best.pt is the checkpoint itself."""
        history = payload["history"]
        if payload["batch"] or not history or best_record(history, monitor) is not history[-1]:
            return
        try:
            if load_checkpoint(self.best).step == payload["step"]:
                return
        except CheckpointError:
            pass  # none yet, or damaged: the checkpoint replaces it
        save_checkpoint(self.best, payload)


# The descriptors holding folder locks in this process. flock's lock belongs to the open file,
# which a forked child (a DataLoader's loader process) shares: one outliving its killed parent
# for seconds kept the folder locked against the run's own --resume. Children drop their copy.
_HELD: set[int] = set()


def _drop_inherited_locks() -> None:
    for fd in _HELD:
        os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_drop_inherited_locks)


@contextlib.contextmanager
def claimed_folder(folder: Path, busy: str) -> Iterator[None]:
    """Held while a command writes ``folder``; another that claims it meanwhile is refused with
    ``busy``. The kernel's lock on the folder itself: no file is left behind, and it goes with
    its process however that ends, so a killed command never leaves the folder locked. Folders
    it made are removed again if the command wrote nothing there (it failed on its input)."""
    made = [f for f in (folder, *folder.parents) if not f.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except (FileExistsError, NotADirectoryError):
        file = next(f for f in (folder, *folder.parents) if f.exists() and not f.is_dir())
        raise ConfigError(f"cannot write the folder {folder}: {file} is a file") from None
    except OSError as e:
        raise ConfigError(f"cannot write the folder {folder}: {e.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            made = []  # the holder's folder, though this call may have made it
            raise ConfigError(busy) from None
        _HELD.add(fd)
        yield
    finally:
        for empty in made:  # deepest first; rmdir leaves any folder that holds something
            try:
                empty.rmdir()
            except OSError:
                break
        _HELD.discard(fd)
        os.close(fd)  # releases the lock


def read_metrics(path: str | Path) -> list[dict]:
    """The epoch records of a run folder's metrics.jsonl; ``path`` is the folder or the file."""
    path = Path(path)
    if path.is_dir():
        path = RunFiles(path).metrics
    expected = "expected a run folder or its metrics.jsonl (one JSON record per line)"
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CnnspaceError(f"{path}: cannot be read ({getattr(e, 'strerror', None) or e}); "
                            f"{expected}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise CnnspaceError(f"{path}, line {number}: not JSON ({e.msg}); {expected}") from None
    return records
