"""The base of every error cnnspace raises on bad input; the CLI turns it into one line, exit 2."""
from __future__ import annotations


class CnnspaceError(Exception):
    """Bad input or state the user can fix; the message says what and where."""


class WriteError(CnnspaceError, OSError):
    """A file could not be written: no space, no permission, a read-only disk. An OSError too,
    with its ``errno``, so that callers can tell a full disk from other trouble."""

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno
