"""The error raised for datasets that are missing, malformed or unsafe."""
from ..errors import CnnspaceError


class DataError(CnnspaceError):
    """A dataset cannot be used; the message names the file or folder and what to do."""
