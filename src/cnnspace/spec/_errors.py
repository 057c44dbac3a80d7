"""The one error type for anything wrong with a network description."""
from ..errors import CnnspaceError


class SpecError(CnnspaceError, ValueError):
    """A network description is invalid.

    ``layer`` and ``field`` name where the problem is (either may be None when the problem is
    about the whole network or a file); the message says what was expected.
    """

    def __init__(self, message: str, *, layer: str | None = None, field: str | None = None,
                 source: str | None = None):
        self.layer, self.field, self.source, self.detail = layer, field, source, message
        where = []
        if source:
            where.append(str(source))
        if layer is not None:
            where.append(f"layer {layer!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(": ".join(where + [message]) if where else message)

    def located(self, *, layer: str | None = None, source: str | None = None) -> "SpecError":
        """The same error with a layer or file filled in where it was unknown."""
        return SpecError(self.detail, layer=self.layer if self.layer is not None else layer,
                         field=self.field, source=self.source or source)
