"""The base of every error cnnspace raises on bad input; the CLI turns it into one line, exit 2."""


class CnnspaceError(Exception):
    """Bad input or state the user can fix; the message says what and where."""
