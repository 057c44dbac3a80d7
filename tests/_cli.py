"""Running the `cnnspace` command in-process, as the CLI tests do."""
from __future__ import annotations

from cnnspace.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `cnnspace ARGV` (paths and numbers as text)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # a usage error, as argparse reports one
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err
