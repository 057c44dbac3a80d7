"""The error for a bad study file or a study that cannot run; it names the file and the key."""
from __future__ import annotations

from ..errors import CnnspaceError


class StudyError(CnnspaceError, ValueError):
    def __init__(self, message: str, *, key: str | None = None, source: str | None = None):
        self.key, self.source, self.detail = key, source, message
        where = [str(source)] if source else []
        if key:
            where.append(f"key {key!r}")
        super().__init__(": ".join(where + [message]))

    def located(self, source: str | None) -> "StudyError":
        return StudyError(self.detail, key=self.key, source=self.source or source)
