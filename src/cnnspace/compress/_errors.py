"""The error raised for bad compression input: schedules, bit widths, damaged .cnnz files."""
from ..errors import CnnspaceError


class CompressError(CnnspaceError, ValueError):
    """A compression setting or a compressed file is invalid; the message names the file, layer
    or field."""
