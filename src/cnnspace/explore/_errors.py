"""The error for a bad study file or a study that cannot run; it names the file and the key."""
from __future__ import annotations

import os
from typing import Any

from ..errors import CnnspaceError


class StudyError(CnnspaceError, ValueError):
    """A study file, study or explore argument that cannot be used: the message names its
    ``source`` (the file) and ``key`` where known, and says what would do."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None):
        self.key, self.source, self.detail = key, source, message
        where = [str(source)] if source else []
        if key:
            where.append(f"key {key!r}")
        super().__init__(": ".join(where + [message]))

    def located(self, source: str | None) -> "StudyError":
        return StudyError(self.detail, key=self.key, source=self.source or source)


def expect_path(value: Any, what: str, hint: str = "", arg: str | None = None) -> None:
    """A StudyError unless ``value`` is a path (a str or os.PathLike): None or an object given
    for a path would otherwise fail deep inside, or be taken for a folder named 'None'. ``arg``
    names the argument where the caller gave several."""
    if not isinstance(value, (str, os.PathLike)):
        raise StudyError(f"{arg + ': ' if arg else ''}expected {what} (a str or pathlib.Path), "
                         f"got {type(value).__name__}{hint}")


def describe_error(e: BaseException) -> str:
    """One line: the exception's type and message (an OSError's names its file)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if isinstance(e, CnnspaceError) and text:
        return text  # cnnspace's own errors say what failed
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
