"""`cnnspace diff`: what changing network A into B does to communication and computation."""
from __future__ import annotations

import argparse

from rich.table import Table

from .._csv import rows_to_csv
from ..errors import CnnspaceError
from ..space import ADDED, CHANGED, LayerChange, NetDiff, diff
from ._checkpoints import load_spec
from ._common import (CHECKPOINT_HELP, add_format_arg, as_options, dump_json, input_size,
                      table_console)

EXAMPLES = """\
each --set applies to the model named just before it; --input applies to both:
  cnnspace diff firenet --set sr=0.125 firenet --set sr=0.25
  cnnspace diff firenet firenet --set conv1_stride=1          (a global change)
  cnnspace diff squeezenet1_0 --set input=3x480x640 squeezenet1_0 --set input=3x1440x1920
  cnnspace diff alexnet.yaml alexnet_stride2.yaml --format json
"""


class _SettingOfPreviousModel(argparse.Action):
    """--set KEY=VALUE belongs to the model named before it (A until B is named)."""

    def __call__(self, parser, namespace, value, option_string=None):
        if namespace.a is None:
            parser.error(f"{option_string} {value}: name a model first; each --set applies to "
                         "the model named just before it")
        side = "settings_a" if namespace.b is None else "settings_b"
        setattr(namespace, side, [*(getattr(namespace, side, None) or []), value])


def register(sub) -> None:
    p = sub.add_parser(
        "diff", help="layer-by-layer change from A to B: local or global, Δparams, ΔMACs, "
                     "Δactivations, Δcommunication",
        description="Matches layers by name and says, for each changed layer, which dimensions "
                    "changed and what that costs; each change is classified where it originates: "
                    "local (filters, channels, filter size, categories) or global (stride, "
                    "pooling, input resolution). See docs/design-spaces.md.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", metavar="A", help=CHECKPOINT_HELP)
    p.add_argument("b", metavar="B", help=CHECKPOINT_HELP)
    p.add_argument("--set", action=_SettingOfPreviousModel, metavar="KEY=VALUE",
                   help="a setting of the zoo model or family named just before it (repeatable)")
    p.add_argument("--input", metavar="CxHxW", type=input_size, help="input size of both networks")
    p.add_argument("--bits", type=int, default=32,
                   help="bits per parameter, for the communication (default 32)")
    add_format_arg(p)
    p.set_defaults(run=run, settings_a=None, settings_b=None)


def run(args) -> int:
    a = _load("A", args.a, args.settings_a or [], args.input)
    b = _load("B", args.b, args.settings_b or [], args.input)
    with as_options("bits"):
        result = diff(a, b, bits=args.bits)
    if args.format == "json":
        print(dump_json(result.to_json()), end="")
    elif args.format == "csv":
        print(rows_to_csv([_csv_row(c) for c in result.changes], CSV_COLUMNS), end="")
    else:
        _print(result)
    return 0


# One row per changed layer; the totals are the columns' sums, the origins are in the JSON.
CSV_COLUMNS = ["layer", "type", "status", "kind", "delta_params", "delta_macs",
               "delta_activations", "origins", "dims"]


def _csv_row(c: LayerChange) -> dict:
    return {"layer": c.layer, "type": c.type, "status": c.status, "kind": c.kind,
            "delta_params": c.delta_params, "delta_macs": c.delta_macs,
            "delta_activations": c.delta_activations, "origins": ";".join(c.origins),
            "dims": _dims_text(c.dims, c.status)}


def _load(side: str, ref: str, settings: list[str], input_size: str | None):
    """A's or B's spec; an error says whose, as both may name the same model."""
    try:
        return load_spec(ref, settings, input_size)
    except CnnspaceError as e:
        given = " ".join([ref, *(f"--set {s}" for s in settings)])
        detail = str(e).removeprefix(f"{ref}: ")  # named once, in `given`
        raise CnnspaceError(f"{side} ({given}): {detail}") from None


def _text(v, key: str = "") -> str:
    if isinstance(v, (list, tuple)):
        if key in ("in_channels", "inputs"):  # one per input of a concat or add
            return "+".join(map(str, v))
        return "x".join(map(str, v)) if all(isinstance(x, int) for x in v) else str(list(v))
    return str(v)


_PAIRS = {"data_height": ("data", "data_width"), "out_height": ("out", "out_width")}


def _dims_text(dims: dict, status: str) -> str:
    """``filters 96→128, data 55x55→110x110``; one side only for added or removed layers."""
    dims = dict(dims)
    for height, (label, width) in _PAIRS.items():
        if height in dims and width in dims:
            (ha, hb), (wa, wb) = dims.pop(height), dims.pop(width)
            dims[label] = (None if ha is None else (ha, wa), None if hb is None else (hb, wb))
    if status == CHANGED:
        return ", ".join(f"{k} {_text(a, k)}→{_text(b, k)}" for k, (a, b) in dims.items())
    return ", ".join(f"{k} {_text(b if status == ADDED else a, k)}" for k, (a, b) in dims.items())


def _print(d: NetDiff) -> None:
    console = table_console()
    a, b = d.a, d.b
    title = f"A {a.model} {_text(a.input)}  →  B {b.model} {_text(b.input)}"
    if not d.origins and not d.changes:
        console.print(f"{title}: no difference")
        return
    origins = Table(title=f"{title}: where the changes originate")
    for col in ("layer", "status", "kind", "what differs"):
        origins.add_column(col)
    for o in d.origins:
        what = {CHANGED: _dims_text(o.fields, CHANGED), ADDED: f"new {o.type} layer"}.get(
            o.status, f"{o.type} layer removed")
        origins.add_row(o.layer, o.status, o.kind, what)
    console.print(origins)
    t = d.totals
    changes = Table(title="changed layers", show_footer=True)
    changes.add_column("layer", footer="total", overflow="fold")
    changes.add_column("kind")
    for col, total in (("Δparams", t.delta_params), ("ΔMACs", t.delta_macs),
                       ("Δactivations", t.delta_activations)):
        changes.add_column(col, footer=f"{total:+,}", justify="right", no_wrap=True)
    changes.add_column("dimensions (A→B)", overflow="fold", ratio=1)
    # With several origins, which one a change owes to is the question: say it, as JSON does.
    several = len(d.origins) > 1
    if several:
        changes.add_column("from", overflow="fold")
    for c in d.changes:
        status = "" if c.status == CHANGED else f" {c.status}"
        changes.add_row(f"{c.layer} {c.type}{status}",
                        c.kind, f"{c.delta_params:+,}", f"{c.delta_macs:+,}",
                        f"{c.delta_activations:+,}", _dims_text(c.dims, c.status),
                        *([", ".join(c.origins)] if several else []))
    # Origins without changes (layers rewired to data of the same shape) gave an empty table.
    console.print(changes if d.changes else "changed layers: none (no layer's dimensions or "
                  "counts differ)")
    console.print(
        f"communication per data-parallel step (gradients at {a.bits} bits): "
        + _change(a.totals.comm_bytes_data_parallel, b.totals.comm_bytes_data_parallel, "bytes")
        + f"\ncomputation per image: {_change(a.totals.macs, b.totals.macs, 'MACs')}; "
        + _change(a.totals.activations, b.totals.activations, "activations"))


def _change(old: int, new: int, unit: str) -> str:
    ratio = f", x{new / old:.4g}" if old else ""
    return f"{old:,} → {new:,} {unit} ({new - old:+,}{ratio})"
