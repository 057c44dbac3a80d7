"""`cnnspace analyze`: analytic metrics per layer and in total, from the spec alone."""
from __future__ import annotations

from rich.table import Table

from .._csv import rows_to_csv
from .._units import with_prefix
from ..metrics import analyze
from ._checkpoints import load_spec
from ._common import (CHECKPOINT_HELP, add_format_arg, add_model_args, as_options, dump_json,
                      table_console)


def register(sub) -> None:
    p = sub.add_parser("analyze", help="parameters, size, MACs, FLOPs, activations, communication")
    add_model_args(p, help=CHECKPOINT_HELP)
    p.add_argument("--batch", type=int, default=1, help="images per step (default 1)")
    p.add_argument("--bits", type=int, default=32, help="bits per stored value (default 32)")
    add_format_arg(p)
    p.set_defaults(run=run)


def _shape(s) -> str:
    return "x".join(map(str, s))


def run(args) -> int:
    spec = load_spec(args.model, args.settings, args.input)
    with as_options("batch", "bits"):
        result = analyze(spec, batch=args.batch, bits=args.bits)
    if args.format == "json":
        print(dump_json(result.to_json()), end="")
    elif args.format == "csv":
        print(rows_to_csv([{"name": m.name, "type": m.type, "block": m.block or "",
                            "out_shape": _shape(m.out_shape), "params": m.params,
                            "macs": m.macs, "flops": m.flops, "activations": m.activations}
                           for m in result.layers]), end="")
    else:
        _print_table(result)
    return 0


def _print_table(result) -> None:
    t = result.totals
    # Rows are per image whatever --batch is (the batch's totals are below the table).
    title = f"{result.model}  input {_shape(result.input)}  per image"
    table = Table(title=title, show_footer=True)
    for col, footer in (("layer", "total"), ("type", ""), ("output", ""),
                        ("params", f"{t.params:,}"), ("MACs", f"{t.macs:,}"),
                        ("FLOPs", f"{t.flops:,}"), ("activations", f"{t.activations:,}")):
        # numbers right, names left: "layer" has a footer ("total") but is no number
        table.add_column(col, footer=footer,
                         justify="right" if footer and col != "layer" else "left")
    for m in result.layers:
        table.add_row(m.name, m.type, _shape(m.out_shape), f"{m.params:,}", f"{m.macs:,}",
                      f"{m.flops:,}", f"{m.activations:,}")
    console = table_console()
    console.print(table)
    console.print(
        f"parameters {t.params:,} (weights {t.params_weight:,}, biases {t.params_bias:,})\n"
        f"model size {t.size_bytes:,} bytes at {result.bits} bits = {t.size_mb:.3f} MB (10^6) "
        f"= {t.size_mib:.3f} MiB (2^20)\n"
        f"per image: {with_prefix(t.macs, 'MACs')}, {with_prefix(t.flops, 'FLOPs')}, "
        f"{t.activations:,} activations ({t.activation_bytes / 1e6:,.2f} MB)\n"
        f"per step of batch {result.batch:,}: training {with_prefix(t.train_flops_per_step, 'FLOPs')}; "
        f"communication data-parallel {t.comm_bytes_data_parallel / 1e6:,.2f} MB (gradients), "
        f"model-parallel {t.comm_bytes_model_parallel / 1e6:,.2f} MB (activations)")
    heaviest = [_heaviest(result.layers, what, total, words) for what, total, words in (
        ("params", t.params, "of parameters"), ("macs", t.macs, "of MACs"))]
    if any(heaviest):
        console.print("largest: " + ", ".join(filter(None, heaviest)))


def _heaviest(layers, what: str, total: int, words: str) -> str:
    """The layer with the largest share of a total, e.g. ``conv10 41.1% of parameters``, so
    that the layer to shrink first is named, not searched for; equals are all named (fire8's
    and fire9's expand3x3 hold as many parameters), lest one look the only one."""
    if not total:
        return ""
    most = max(getattr(m, what) for m in layers)
    names = [m.name for m in layers if getattr(m, what) == most]
    each = " each" if len(names) > 1 else ""
    return f"{' and '.join(names)} {most / total:.1%}{each} {words}"
