"""Atomic file writes (temp file in the same folder, fsync, rename): a crash never leaves half a file."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, IO

from .errors import CnnspaceError

# mkstemp makes files only their owner can read; a written result gets the mode a plain open()
# would give it. Read once, at import, while no other thread can change the mask.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_SYSTEM_FOLDERS = ("dev", "proc")


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, lambda f: f.write(text.encode()))
