"""The ``cnnspace`` command. Thin: each subcommand lives in ``cnnspace.commands.<name>`` and only
calls the packages; this file finds them, parses arguments and turns user errors into exit 2."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands
from .errors import CnnspaceError


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnspace", description="Explore the design space of convolutional neural networks.")
    parser.add_argument("--version", action="version", version=f"cnnspace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except CnnspaceError as e:
        print(f"cnnspace {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cnnspace {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
