"""`cnnspace commbench`: time real collectives among N local processes and fit alpha/beta."""
from __future__ import annotations

import os
import sys

from rich.progress import Progress
from rich.table import Table

from .. import scale
from .._atomic import check_writable, write_text_atomic
from .._cpus import available_cpus
from .._csv import rows_to_csv
from ._common import add_format_arg, check_threads, dump_json, plural, stderr_console, table_console


def register(sub) -> None:
    p = sub.add_parser("commbench", help="measure allreduce and parameter-server communication "
                                         "with torch.distributed and fit alpha/beta")
    p.add_argument("--nproc", type=int, default=2, help="local processes (default 2)")
    p.add_argument("--sizes", nargs="+", metavar="MB",
                   default=list(scale.DEFAULT_SIZES_MB),
                   help="message sizes in MB (10^6 bytes): two at least, three or more for "
                        "the errors to show how well the line fits (default: "
                        f"{' '.join(f'{s:g}' for s in scale.DEFAULT_SIZES_MB)})")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed repetitions per size (the fastest counts)")
    p.add_argument("--warmup", type=int, default=1, help="untimed repetitions per size")
    p.add_argument("--backend", choices=("auto", "gloo", "nccl"), default="auto",
                   help="auto: NCCL with one GPU per process, else gloo on CPU")
    p.add_argument("--threads", type=int, help="torch threads per process (default: cores / N)")
    p.add_argument("-o", "--output", metavar="FILE.json",
                   help="also save the result as JSON (for `cnnspace scale --commbench`)")
    add_format_arg(p)
    p.set_defaults(run=run)


def run_with_progress(nproc: int, sizes=scale.DEFAULT_SIZES_MB, repeats: int = 5,
                      warmup: int = 1, backend: str = "auto", threads: int | None = None):
    """``scale.run_commbench`` with a progress bar on stderr (one step per pattern and size)."""
    total = len(scale.parse_sizes_mb(sizes)) * len(scale.PATTERNS)
    console = stderr_console()
    # off a terminal the bar is not drawn, but stopping it printed an empty line before any error
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(f"commbench, {nproc} processes", total=total)
        bench = scale.run_commbench(nproc, sizes, repeats, warmup, backend, threads,
                                    on_progress=lambda text: progress.update(
                                        task, advance=1, description=text))
    # said of the timings once there are some: an error before them stays the one line
    cores = available_cpus()  # a process pinned to 2 of 16 cores shares those 2
    if bench.backend != "nccl" and nproc > cores:
        print_notes([f"{nproc} processes share {plural(cores, 'CPU core')}: the timings "
                     "measure them waiting for a core as much as the link"])
    return bench


def run(args) -> int:
    check_threads(args.threads)
    sizes = [part for value in args.sizes for part in str(value).split(",") if part]
    if args.output:  # found out now, not after the measurements
        check_writable(args.output, "-o")
    bench = run_with_progress(args.nproc, sizes, args.repeats, args.warmup, args.backend,
                              args.threads)
    data = bench.to_json()
    if args.output:
        write_text_atomic(args.output, dump_json(data))
    if args.format == "json":
        print(dump_json(data), end="")
    elif args.format == "csv":  # a row per pattern and size, with the fit it belongs to
        print(rows_to_csv([{"pattern": f.pattern, "nproc": bench.nproc, "size_bytes": n,
                            "time_s": t, "fitted_s": fitted, "relative_error": e,
                            "alpha_s": f.alpha_s, "beta_s_per_byte": f.beta_s_per_byte}
                           for f in bench.fits
                           for n, t, fitted, e in zip(f.sizes_bytes, f.times_s, f.predicted_s,
                                                      f.relative_errors)]), end="")
    else:
        _print(bench)
    print_notes(bench.notes())
    return 0


def print_notes(notes) -> None:
    """Cautions about a measurement, on stderr: what it means, beside the result."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _print(bench) -> None:
    console = table_console()
    console.print(f"{bench.nproc} processes, {bench.backend}, {bench.threads} thread(s) each, "
                  f"best of {bench.repeats}")
    fits = Table(title="fitted time = a + b x bytes; per-message alpha, beta under the "
                       "pattern's cost formula")
    for col in ("pattern", "model", "a (ms)", "b (ms/MB)", "alpha (us)", "beta (ns/B)",
                "link GB/s"):
        fits.add_column(col, justify="left" if col in ("pattern", "model") else "right")
    for f in bench.fits:
        fits.add_row(f.pattern, f.strategy, f"{f.intercept_s * 1e3:.3f}",
                     f"{f.slope_s_per_byte * 1e9:.3f}", f"{f.alpha_s * 1e6:.1f}",
                     f"{f.beta_s_per_byte * 1e9:.4f}", f"{1 / f.beta_s_per_byte / 1e9:.2f}")
    console.print(fits)
    sizes = Table(title="measured vs fitted")
    for col in ("pattern", "MB", "measured ms", "fitted ms", "error"):
        sizes.add_column(col, justify="left" if col == "pattern" else "right")
    for f in bench.fits:
        for n, t, p, e in zip(f.sizes_bytes, f.times_s, f.predicted_s, f.relative_errors):
            sizes.add_row(f.pattern, f"{n / 1e6:g}", f"{t * 1e3:.3f}", f"{p * 1e3:.3f}",
                          f"{e:+.1%}")
    console.print(sizes)
