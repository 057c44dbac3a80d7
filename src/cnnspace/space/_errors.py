"""The error for a bad design-space description: it names the file and the key at fault."""
from __future__ import annotations

from ..errors import CnnspaceError


class SpaceError(CnnspaceError, ValueError):
    """A design space (or a point of it) is invalid.

    ``key`` is a dotted path into the description (``axes.sr.step``, ``constraints.max_params``);
    ``source`` is the file it came from. Either may be None.
    """

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None):
        self.key, self.source, self.detail = key, source, message
        where = [str(source)] if source else []
        if key:
            where.append(f"key {key!r}")
        super().__init__(": ".join(where + [message]) if where else message)

    def located(self, source: str | None) -> "SpaceError":
        return SpaceError(self.detail, key=self.key, source=self.source or source)
