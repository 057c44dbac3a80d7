"""The ``cnnspace`` command. Thin: each subcommand lives in ``cnnspace.commands.<name>`` and only
calls the packages; this file finds them, parses arguments and turns user errors into exit 2."""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from . import __version__, commands
from ._memory import is_out_of_memory
from .commands._common import remove_unused_run_folders
from .errors import CnnspaceError, exit_status


# Subcommands whose name is a Python keyword live in a module of another name.
MODULE_OF = {"import": "importer"}


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, as every other error is; the usage block is what --help is
    for. Subcommands' parsers are of this class too (add_subparsers uses the parent's)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def make_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; given the subcommand about to run, only that module is imported, so a command
    never pays to import what another one needs (torch, matplotlib, optuna)."""
    parser = _Parser(
        prog="cnnspace", description="Explore the design space of convolutional neural networks.")
    parser.add_argument("--version", action="version", version=f"cnnspace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = _modules()
    module = MODULE_OF.get(command, command)
    for name in [module] if module in names else names:
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args(argv)``, with arguments no parser knows refused by the subcommand's
    own parser: its help lists the options (the top parser's lists only the commands)."""
    args, unknown = parser.parse_known_args(argv)
    chosen = _subcommand_parser(parser, args)
    if unknown:
        chosen.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.empty_options = _empty_options(chosen, args)
    return args


def _subcommand_parser(parser: argparse.ArgumentParser, args: argparse.Namespace
                       ) -> argparse.ArgumentParser:
    chosen = parser
    while sub := next((a for a in chosen._actions
                       if isinstance(a, argparse._SubParsersAction)), None):
        chosen = sub.choices[getattr(args, sub.dest)]
    return chosen


def _empty_options(chosen: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The options given an empty value (`--data "$DATA"` with DATA unset): read as the option
    left out, they ran on the checkpoint's dataset, compressed without the schedule meant, or
    wrote into a new runs/ folder, without a word."""
    empty = []
    for action in chosen._actions:
        value = getattr(args, action.dest, None) if action.option_strings else None
        values = value if isinstance(value, list) else [value]
        if action.default != "" and any(isinstance(v, str) and not v.strip() for v in values):
            empty.append(max(action.option_strings, key=len))
    return empty


def _stopped(stop: KeyboardInterrupt, command: str) -> int:
    status = exit_status(stop)
    print(f"{' '.join(['cnnspace', command]).strip()}: "
          f"{'terminated' if status == 143 else 'interrupted'}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:  # loading a command's modules (torch, optuna...) takes seconds: Ctrl-C may come then
        args = _parse(make_parser(argv[0] if argv else None), argv)
    except KeyboardInterrupt as stop:
        return _stopped(stop, argv[0] if argv else "")
    try:
        if args.empty_options:
            raise CnnspaceError(f"{', '.join(args.empty_options)}: an empty value (an unset shell "
                                "variable?); give one, or leave the option out")
        return args.run(args) or 0
    except CnnspaceError as e:
        print(f"cnnspace {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        return _stopped(stop, args.command)
    except BrokenPipeError:
        return 0
    except OSError as e:  # the machine's, not the input's: a full disk, no permission
        where = f"{e.filename}: " if e.filename else ""
        print(f"cnnspace {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:
        # torch's allocators raise RuntimeError (CPU) and OutOfMemoryError (CUDA) for sizes
        # the machine cannot hold: the input's size, said in one line; anything else is a bug
        if not is_out_of_memory(e):
            raise
        print(f"cnnspace {args.command}: error: not enough memory for this model, input or "
              f"batch ({str(e).strip().splitlines()[0] if str(e).strip() else 'MemoryError'})",
              file=sys.stderr)
        return 2
    finally:
        remove_unused_run_folders()


if __name__ == "__main__":  # how workers (train --nproc, explore --workers) are started
    status = main()
    if status:
        # The worker has said why it stops; its exit must not wait for torch's teardown, which
        # aborts (SIGABRT, "terminate called without an active exception") once a peer is gone
        # and would then be blamed as the failure.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
