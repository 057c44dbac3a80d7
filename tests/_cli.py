"""Running the `cnnspace` command in-process, as the CLI tests do."""
from __future__ import annotations

from cnnspace.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `cnnspace ARGV` (paths and numbers as text)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
