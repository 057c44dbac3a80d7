"""Atomic file writes (temp file in the same folder, fsync, rename, fsync of the folder): a crash
or a power cut never leaves half a file, nor loses the rename of a file already reported written."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, IO

from .errors import CnnspaceError, WriteError

# mkstemp makes files only their owner can read; a written result gets the mode a plain open()
# would give it. Read once, at import, while no other thread can change the mask.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_SYSTEM_FOLDERS = ("dev", "proc")
# The temporary file of a write in progress: ".NAME.RANDOM.tmp" beside NAME. A process killed
# while writing leaves one behind; remove_stale_temps() clears them.
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"


def check_writable(path: str | os.PathLike, flag: str, folder: bool = False) -> None:
    """Refuses, by its ``flag``, an output file (or ``folder``) that cannot be written, before
    the work whose results it would hold: a folder for a file or a file for a folder, a path
    through a file, a folder without permission."""
    path = Path(path)
    if path.is_dir() and not folder:
        raise CnnspaceError(f"{flag} {path} is a folder: give the name of the file to write")
    if folder and path.exists() and not path.is_dir():
        raise CnnspaceError(f"{flag} {path} is a file: give a folder")
    if folder and path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        # files are made inside it: a read-only one failed only at the first write, after
        # the work whose results it was to hold
        raise CnnspaceError(f"{flag} {path}: cannot write in it (no permission)")
    if not folder and path.exists() and not path.is_file():
        # /dev/null, a pipe: written in place (write_atomic), not beside
        if not os.access(path, os.W_OK):
            raise CnnspaceError(f"{flag} {path}: cannot write it (no permission)")
        return
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # made when the file is written
    if not parent.is_dir():
        raise CnnspaceError(f"{flag} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise CnnspaceError(f"{flag} {path}: cannot write in {parent} (no permission)")
    # Permission bits do not tell it all: /proc refuses new files even to root. A file made
    # and dropped there now is what the write will do later.
    inside = path if folder and path.is_dir() else parent
    try:
        with tempfile.TemporaryFile(dir=inside):
            pass
    except OSError as e:
        raise CnnspaceError(f"{flag} {path}: cannot write in {inside} "
                            f"({e.strerror or e})") from None


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], None],
                 durable: bool = True) -> None:
    """Writes ``path`` whole or not at all. ``durable=False`` leaves out the two fsyncs, for one
    file of many that the caller flushes together (``os.sync()``) before marking them complete:
    they were 22% of generating a synthetic dataset."""
    path = Path(path)
    if path.is_dir():
        raise CnnspaceError(f"{path} is a folder: give the name of the file to write")
    if path.exists() and (not path.is_file() or path.absolute().parts[1] in _SYSTEM_FOLDERS):
        # /dev/null, /dev/stdout, a pipe: renaming a file over it would replace the device itself.
        with open(path, "wb") as f:
            write(f)
        return
    # Through a symbolic link: the link stays, its target gets the new contents.
    path = Path(os.path.realpath(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise CnnspaceError(f"cannot write {path}: a part of its folder path is a file") from None
    except OSError as e:  # read-only, no permission, a system folder such as /proc
        raise CnnspaceError(f"cannot write {path}: cannot make its folder {path.parent} "
                            f"({e.strerror})") from None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.",
                                   suffix=TEMP_SUFFIX)
    except OSError as e:  # a read-only disk, no permission
        raise WriteError(f"cannot write {path}: {e.strerror}", e.errno) from None
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            _sync_folder(path.parent)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        # torch.save's zip writer turns a write that failed (a full disk) into an error of its
        # own ("[enforce fail at inline_container.cc:672] . unexpected pos ...") over the OSError
        failed = e.__cause__ or e.__context__ if isinstance(e, RuntimeError) else e
        if isinstance(failed, OSError) and not isinstance(failed, CnnspaceError):
            raise WriteError(f"cannot write {path}: {failed.strerror}", failed.errno) from None
        raise


def _sync_folder(folder: Path) -> None:
    """The rename lives in the folder's entries: until they reach the disk, a power cut can
    bring back the old file (or none) after the new one was reported written."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # a folder that cannot be opened (Windows, odd mounts) keeps the rename's own guarantee
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (network mounts) refuse fsync on a folder
    finally:
        os.close(fd)


def write_text_atomic(path: str | os.PathLike, text: str, durable: bool = True) -> None:
    write_atomic(path, lambda f: f.write(text.encode()), durable)


def remove_stale_temps(folder: str | os.PathLike, name: str) -> int:
    """Removes the temporary files a killed writer of ``folder/name`` left; only for a folder
    that no other process is writing ``name`` into. Returns how many were removed."""
    removed = 0
    for stale in Path(folder).glob(f"{TEMP_PREFIX}{name}.*{TEMP_SUFFIX}"):
        try:
            stale.unlink()
            removed += 1
        except OSError:
            pass  # another reader's problem at worst: never a reason to stop a run
    return removed
