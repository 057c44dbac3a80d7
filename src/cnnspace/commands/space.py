"""`cnnspace space`: describe a design space and analyse its points before training any."""
from __future__ import annotations

from pathlib import Path

from rich.progress import track
from rich.table import Table

from .._atomic import check_writable, write_text_atomic
from .._csv import rows_to_csv
from ..errors import CnnspaceError
from .._yaml_file import read_yaml
from ..space import (CONSTRAINTS, GRID_LIMIT, DesignSpace, PointResult, SpaceError,
                     analyze_points)
from ..spec import thaw
from ._common import (FORMATS, add_format_arg, dump_json, plural, stderr_console,
                      table_console)

SPACE_HELP = ("a design space file, or a study file: its space as the study trains it (at its "
              "dataset's input size and class count)")
# --out's suffix picks the format unless --format does.
OUT_FORMATS = {".json": "json", ".csv": "csv", ".txt": "table"}


def register(sub) -> None:
    p = sub.add_parser("space", help="design spaces: show their axes, analyse their points",
                       description="A design space is a YAML file: a base model or family, axes "
                       "over its settings, fixed settings and constraints (see "
                       "docs/design-spaces.md and examples/spaces/).")
    commands = p.add_subparsers(dest="space_command", required=True, metavar="SUBCOMMAND")
    show = commands.add_parser("show", help="the axes (as Optuna would sample them), fixed "
                               "settings, constraints and the number of grid points")
    show.add_argument("space", metavar="SPACE_OR_STUDY.yaml", help=SPACE_HELP)
    add_format_arg(show, ("table", "json"))
    show.set_defaults(run=run_show)

    an = commands.add_parser("analyze", help="analytic metrics of every point (or a sample) and "
                             "whether it satisfies the constraints")
    an.add_argument("space", metavar="SPACE_OR_STUDY.yaml", help=SPACE_HELP)
    an.add_argument("--sample", type=int, metavar="N",
                    help="N random distinct points instead of the full grid (log axes "
                    "log-uniformly, as Optuna's random sampler draws them)")
    an.add_argument("--seed", type=int, help="seed of --sample (default 0)")
    an.add_argument("--format", choices=FORMATS,
                    help="output format (default: from --out's suffix, else table)")
    an.add_argument("--out", metavar="FILE", help="write the result here instead of stdout")
    an.set_defaults(run=run_analyze)


def _load(path: str) -> DesignSpace:
    data = read_yaml(Path(path), lambda message: SpaceError(message, source=path))
    if not (isinstance(data, dict) and "space" in data):  # a space file has no `space` key
        return DesignSpace.load(path)
    from ..explore import fitted_space, load_study_file  # optuna: only for a study file

    _, space, notes = fitted_space(load_study_file(path))
    stderr = stderr_console()
    for note in notes:
        stderr.print(f"note: {note}")
    return space


def run_show(args) -> int:
    space = _load(args.space)
    if args.format == "json":
        print(dump_json({**space.to_dict(), "size": space.size,
                         "optuna": [dict(zip(("method", "kwargs"), a.to_optuna()))
                                    for a in space.axes]}), end="")
        return 0
    size = (plural(space.size, "grid point") if space.size is not None
            else "continuous: sample it")
    table = Table(title=f"design space {space.name}: base {space.base}, {size}")
    for col in ("axis", "kind", "values", "optuna"):
        table.add_column(col)
    for a in space.axes:
        table.add_row(a.name, a.kind, _values(a), a.to_optuna()[0])
    console = table_console()
    console.print(table)
    console.print(f"fixed: {thaw(space.fixed) or 'none'}\n"
                  f"constraints: {_limits(space) or 'none'}  (bits {space.bits})")
    return 0


def _values(axis) -> str:
    if axis.kind == "choice":
        return ", ".join(str(thaw(c)) for c in axis.choices)
    text = f"{axis.low} .. {axis.high}" + (f" step {axis.step}" if axis.step else "")
    return text + (" (log)" if axis.log else "") + (
        f" ({axis.count} values)" if axis.enumerable else " (continuous)")


def run_analyze(args) -> int:
    if args.seed is not None and args.sample is None:  # the full grid would ignore it
        raise CnnspaceError(f"--seed {args.seed}: a seed picks the points of --sample N; "
                            "without --sample every grid point is analysed")
    if args.sample is not None and args.sample < 1:
        raise CnnspaceError(f"--sample: expected a positive number of points, got {args.sample}")
    if args.sample is not None and args.sample > GRID_LIMIT:
        raise CnnspaceError(f"--sample {args.sample}: more than {GRID_LIMIT:,} points (a "
                            "gigabyte of results held until written): give a smaller N")
    suffix = Path(args.out or "").suffix
    if args.out:  # found out now, not after the analysis
        check_writable(args.out, "--out")
        if _same_file(args.out, args.space):
            raise CnnspaceError(f"--out {args.out} is the space file itself: writing the "
                                "results there would replace it; name another file")
    if args.out and not args.format and suffix.lower() not in OUT_FORMATS:
        raise CnnspaceError(f"--out {args.out}: cannot tell the format from {suffix or 'no suffix'}"
                            f"; name it {', '.join(OUT_FORMATS)} or give --format")
    space = _load(args.space)
    if args.sample is None:
        if space.size is None:
            continuous = next(a.name for a in space.axes if a.count is None)
            raise CnnspaceError(f"{args.space}: the axis {continuous!r} is continuous (a float "
                                "range without a step): give --sample N, or the axis a step")
        if space.size > GRID_LIMIT:
            raise CnnspaceError(f"{args.space}: {space.size:,} grid points are more than "
                                f"{GRID_LIMIT:,} (a gigabyte of results held until written): "
                                "give --sample N, or coarser steps")
        points = list(space.points())
    else:
        points = space.sample(args.sample, args.seed or 0)
    stderr = stderr_console()
    if args.sample is not None and len(points) < args.sample:  # else the count reads as a bug
        stderr.print(f"note: --sample {args.sample:,}: the grid has only {len(points):,} "
                     "points; all of them are analysed")
    results = analyze_points(space, points, progress=lambda it: track(
        it, description=f"analysing {plural(len(points), 'point')}", total=len(points),
        console=stderr, transient=True))
    fmt = args.format or OUT_FORMATS.get(suffix.lower(), "table")  # points.CSV too
    if fmt == "json":
        text = dump_json({"space": space.to_dict(), "summary": _summary(results),
                          "points": [r.to_json() for r in results]})
    elif fmt == "csv":
        text = rows_to_csv([r.row() for r in results])
    else:
        text = _table(space, results)
    if args.out:
        write_text_atomic(args.out, text)
        stderr.print(f"wrote {plural(len(results), 'point')} to {args.out}")
    else:
        print(text, end="")
    return 0


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).samefile(b)
    except OSError:  # either does not exist (yet): not the same file
        return False


def _summary(results: list[PointResult]) -> dict:
    valid = [r for r in results if r.totals]
    params = [r.totals.params for r in valid]
    # points that build the same network share its id: a study trains it once
    return {"points": len(results), "networks": len({r.id for r in valid}),
            "invalid": len(results) - len(valid),
            "satisfy_constraints": sum(r.ok for r in results),
            "params_min": min(params, default=None), "params_max": max(params, default=None)}


def _limits(space: DesignSpace) -> str:
    """Each limit as written, not to 6 digits: ``:g`` showed max_params 1234567 as
    1.23457e+06, a limit the verdicts beside it do not use."""
    return ", ".join(f"{k} {int(v):,}" if float(v).is_integer() else f"{k} {v:,}"
                     for k, v in space.constraints.items())


# The table's metric columns, in this order: those _SHOWN always, the others where limited.
_COLUMNS = {"params": "params", "size_bytes": "size bytes", "size_mib": "size MiB",
            "size_mb": "size MB", "macs": "MACs", "flops": "FLOPs", "activations": "activations"}
_SHOWN = ("params", "size_mib", "macs", "activations")


def _metric(value: int | float) -> str:
    return f"{value:.2f}" if isinstance(value, float) else f"{value:,}"


def _table(space: DesignSpace, results: list[PointResult]) -> str:
    """Aligned plain text: a rich table takes half a minute to lay out 10,000 rows."""
    axes = [a.name for a in space.axes]
    # A limit on a metric the table did not show read as wrongly broken (7.94 MiB "violates
    # max_size_mb 8": 8.33 MB; MACs under a FLOPs limit): each limited metric is shown.
    limited = {CONSTRAINTS[k] for k in space.constraints}
    columns = {m: title for m, title in _COLUMNS.items() if m in _SHOWN or m in limited}
    header = ["id", *axes, *columns.values(), "constraints"]
    rows = []
    for r in results:
        t = r.totals
        metrics = ([_metric(getattr(t, m)) for m in columns] if t else ["-"] * len(columns))
        verdict = r.error or ("ok" if r.ok else "violates " + ", ".join(r.violated))
        rows.append([r.id, *(str(thaw(r.point[a])) for a in axes), *metrics, verdict])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = range(1 + len(axes), len(header) - 1)

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    s = _summary(results)
    limits = _limits(space)
    bits = "" if space.bits == 32 else f", sizes at {space.bits} bits per value"
    title = f"{space.name}: {plural(len(results), 'point')} of {space.base}{bits}"
    return "\n".join([title, line(header),
                      "  ".join("-" * w for w in widths), *map(line, rows),
                      f"{plural(s['points'], 'point')}, {s['invalid']:,} invalid, "
                      + (f"{s['satisfy_constraints']:,} satisfy the constraints ({limits})"
                         if limits else "no constraints")
                      + f"; {plural(s['networks'], 'distinct network')}"]) + "\n"
