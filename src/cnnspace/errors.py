"""The base of every error cnnspace raises on bad input; the CLI turns it into one line, exit 2."""
from __future__ import annotations


class CnnspaceError(Exception):
    """Bad input or state the user can fix; the message says what and where."""


class Terminated(KeyboardInterrupt):
    """SIGTERM: the work stops as for Ctrl-C, and the command exits 143 (128 + 15), as a shell
    reports a process that SIGTERM ended: schedulers and scripts tell the two apart so."""


def exit_status(stop: KeyboardInterrupt) -> int:
    """130 after Ctrl-C (128 + SIGINT), 143 after SIGTERM."""
    return 143 if isinstance(stop, Terminated) else 130


class WriteError(CnnspaceError, OSError):
    """A file could not be written: no space, no permission, a read-only disk. An OSError too,
    with its ``errno``, so that callers can tell a full disk from other trouble."""

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno
