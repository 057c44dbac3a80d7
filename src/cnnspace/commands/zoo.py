"""`cnnspace zoo`: the registered models."""
from __future__ import annotations

import sys

from rich.table import Table

from ..zoo import list_models, model_entry
from ._common import add_format_arg, dump_json, table_console


def register(sub) -> None:
    p = sub.add_parser("zoo", help="list registered models and families")
    p.add_argument("pattern", nargs="?", default="*",
                   help="wildcard filter, e.g. 'squeezenet*', or a part of the name")
    add_format_arg(p, ("table", "json"))
    p.set_defaults(run=run)


def run(args) -> int:
    entries = [model_entry(n) for n in list_models(args.pattern)]
    if not entries:
        print(f"no registered model matches {args.pattern!r}; `cnnspace zoo` lists them all",
              file=sys.stderr)
        return 1
    if args.format == "json":
        print(dump_json([{"name": e.name, "description": e.description, "family": e.is_family,
                          "settings": {k: list(v) if isinstance(v, tuple) else v
                                       for k, v in e.defaults.items()}} for e in entries]), end="")
        return 0
    table = Table(title="cnnspace model zoo")
    table.add_column("name", style="bold")
    table.add_column("description")
    # what `--set` and a design space's axes can change: otherwise found only by a wrong guess
    table.add_column("settings for --set (defaults)")
    for e in entries:
        settings = ", ".join(f"{k}={_setting(v, k == 'input')}" for k, v in e.defaults.items())
        table.add_row(e.name + (" (family)" if e.is_family else ""), e.description, settings)
    table_console().print(table)
    return 0


def _setting(value, is_input: bool = False) -> str:
    """A default as `--set` takes it: an input as CxHxW, a list in YAML's brackets (a list of
    numbers too: `--set widths=64x128` would be text)."""
    if isinstance(value, (tuple, list)):
        if is_input and all(isinstance(v, int) for v in value):
            return "x".join(map(str, value))
        return "[" + ", ".join(map(_setting, value)) + "]"
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)
