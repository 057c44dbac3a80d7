"""`cnnspace scale`: predicted data-parallel scaling of a network on a cluster preset."""
from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from rich.table import Table
from rich.text import Text

from .. import scale
from .._csv import rows_to_csv
from .._threads import is_thread_count, thread_count_expected
from .._units import with_prefix
from ..errors import CnnspaceError
from ._checkpoints import load_spec
from ._common import (CHECKPOINT_HELP, add_format_arg, add_model_args, as_options, dump_json,
                      stderr_console, table_console)
from .commbench import print_notes, run_with_progress

DEFAULT_WORKERS = "1,2,4,8,16,32,64,128"
DEFAULT_PRESET = "titan-k20x"
DEFAULT_NPROC = 2


def register(sub) -> None:
    p = sub.add_parser("scale", help="predicted training time and speedup on N data-parallel "
                                     "workers: parameter server vs reduction tree vs ring")
    add_model_args(p, help=CHECKPOINT_HELP)
    p.add_argument("--workers", default=DEFAULT_WORKERS, metavar="N,N,...",
                   help=f"worker counts (default {DEFAULT_WORKERS})")
    p.add_argument("--strategies", default=",".join(scale.STRATEGIES), metavar="S,S,...",
                   help="communication strategies (default: all)")
    p.add_argument("--preset", choices=scale.preset_names(), default=None,
                   help=f"cluster preset (default {DEFAULT_PRESET}); `measured` runs commbench "
                        "and a timed step here")
    p.add_argument("--alpha", type=float,
                   help="link latency, seconds per message (replaces the preset's)")
    p.add_argument("--beta", type=float,
                   help="link cost, seconds per byte (replaces the preset's)")
    p.add_argument("--device-flops", type=float,
                   help="sustained FLOP/s of one worker (replaces the preset's)")
    p.add_argument("--bits", type=int, default=32,
                   help="bits per exchanged gradient value (default 32; 16 for fp16 allreduce)")
    # the K20X presets run FireCaffe's recipe; measured, the same run with and without workers
    firecaffe, baseline = scale.FIRECAFFE_RECIPE, scale.FIRECAFFE_BASELINE
    measured = scale.MEASURED_RECIPE
    p.add_argument("--batch", type=int,
                   help=f"global batch of the parallel run (default {firecaffe.batch}; "
                        f"measured: {measured.batch})")
    p.add_argument("--epochs", type=float,
                   help=f"epochs of the parallel run (default {firecaffe.epochs:g}; measured: "
                        f"{measured.epochs:g})")
    p.add_argument("--dataset-size", type=int,
                   help=f"training images per epoch (default {firecaffe.dataset_size:,}, "
                        "ImageNet's)")
    p.add_argument("--baseline-batch", type=int,
                   help=f"batch of the single-device baseline (default {baseline.batch}; "
                        "measured: --batch)")
    p.add_argument("--baseline-epochs", type=float,
                   help=f"epochs of the single-device baseline (default {baseline.epochs:g}; "
                        "measured: --epochs)")
    p.add_argument("--commbench", metavar="FILE.json",
                   help="measured preset: reuse a `cnnspace commbench -o FILE.json` result")
    p.add_argument("--nproc", type=int,
                   help=f"measured preset: processes for commbench (default {DEFAULT_NPROC})")
    p.add_argument("--plot", metavar="FILE", help="write the plot (.png, .svg or .pdf)")
    add_format_arg(p)
    p.set_defaults(run=run)


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CnnspaceError(f"--{what} expects comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise CnnspaceError(f"--{what} expects positive integers, got {text!r}")
    return sorted(set(values))


def _strategies(text: str) -> tuple[str, ...]:
    chosen = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in chosen if s not in scale.STRATEGIES]
    if unknown or not chosen:
        raise CnnspaceError(f"--strategies: unknown {', '.join(map(repr, unknown or [text]))}; "
                            f"choose from {', '.join(scale.STRATEGIES)}")
    return chosen


def _overridden(args, preset: scale.Preset) -> scale.Preset:
    """``preset`` with the link and device values given on the command line in place of its own."""
    alpha, beta, flops = args.alpha, args.beta, args.device_flops
    if alpha is None and beta is None and flops is None:
        return preset
    link = scale.Interconnect(_given(alpha, preset.link.alpha_s),
                              _given(beta, preset.link.beta_s_per_byte))
    device = preset.device if flops is None else scale.Device("custom", flops, 1.0)
    given = [f"--{k} {v:g}" for k, v in (("alpha", alpha), ("beta", beta),
                                         ("device-flops", flops)) if v is not None]
    # a source stays while a figure it gave is still used
    return replace(preset, name=f"{preset.name} + custom", device=device, link=link,
                   description=f"{preset.description}; {', '.join(given)}",
                   device_sources=preset.device_sources if flops is None else (),
                   link_sources=() if alpha is not None and beta is not None
                   else preset.link_sources)


def _check_overrides(args) -> None:
    """Refuses a bad --alpha, --beta or --device-flops before a measured preset measures
    (each value checked alone: 0 stands in for one not given)."""
    scale.Interconnect(_given(args.alpha, 0.0), _given(args.beta, 0.0))
    if args.device_flops is not None:
        scale.Device("custom", args.device_flops, 1.0)


def _measured(args, spec, recipe: scale.Recipe) -> scale.Preset:
    """This machine's link from commbench and its compute from a timed step; each is measured
    only where --alpha and --beta, or --device-flops, do not replace it."""
    link = (scale.Interconnect(args.alpha, args.beta)
            if args.alpha is not None and args.beta is not None else None)
    device = None if args.device_flops is None else scale.Device("custom", args.device_flops, 1.0)
    bench = None if link else _commbench(args)
    nproc = bench.nproc if bench else _given(args.nproc, DEFAULT_NPROC)
    per_worker = -(-recipe.batch // nproc)
    threads = None if bench else scale.default_threads(nproc)  # one of nproc workers' share
    with (stderr_console().status(f"timing a training step of {per_worker} images")
          if device is None else contextlib.nullcontext()):
        return scale.measure_preset(spec, bench, per_worker, threads, link=link, device=device)


def _commbench(args) -> scale.CommBench:
    if args.commbench:
        try:
            data = json.loads(Path(args.commbench).read_text(encoding="utf-8"))
        # ValueError: not JSON, or not UTF-8 text at all; RecursionError: nesting too deep
        except (OSError, ValueError, RecursionError) as e:
            raise CnnspaceError(f"--commbench {args.commbench}: {e}") from None
        bench = scale.CommBench.from_json(data, args.commbench)
        if "allreduce" not in (f.pattern for f in bench.fits):
            raise CnnspaceError(f"--commbench {args.commbench}: no allreduce measured, and the "
                                "measured preset's link is the allreduce fit")
        if not is_thread_count(bench.threads):  # a result measured on a larger machine
            raise CnnspaceError(f"--commbench {args.commbench}: field 'threads': its processes "
                                f"ran {bench.threads} threads each, the compute step is timed "
                                f"with as many, and here that takes {thread_count_expected()}; "
                                "measure here with `cnnspace commbench -o FILE.json`")
    else:
        bench = run_with_progress(_given(args.nproc, DEFAULT_NPROC))
    # the allreduce fit is the link of every prediction below: its cautions apply to them
    print_notes(bench.notes("allreduce"))
    return bench


def _preset(args, spec, workers: list[int]) -> tuple[scale.Preset, scale.Recipe, scale.Recipe]:
    """The preset with the command line's values, and the parallel and baseline recipes."""
    if args.commbench and args.preset != scale.MEASURED:
        raise CnnspaceError("--commbench applies to --preset measured only")
    if args.nproc is not None and (args.preset != scale.MEASURED or args.commbench):
        raise CnnspaceError("--nproc applies to --preset measured without --commbench only "
                            "(a saved commbench result keeps the processes it measured)")
    if args.nproc is not None:
        # it sets the timed step's batch even where --alpha and --beta skip commbench's check
        scale.check_nproc(args.nproc)
    measured = args.preset == scale.MEASURED
    given = None if measured else scale.get_preset(args.preset or DEFAULT_PRESET)
    recipe, baseline = (_recipes(args, scale.MEASURED_RECIPE, scale.MEASURED_RECIPE) if measured
                        else _recipes(args, given.recipe, given.baseline))
    # checked before commbench and a timed step are spent on a run that cannot happen
    scale.check_workers_share_batch(workers, recipe.batch, ("--workers", "--batch"))
    _check_overrides(args)
    preset = _measured(args, spec, recipe) if measured else given
    return _overridden(args, preset), recipe, baseline


def _given(value, default):
    return default if value is None else value


def _recipes(args, recipe: scale.Recipe,
             baseline: scale.Recipe) -> tuple[scale.Recipe, scale.Recipe]:
    """The parallel run's recipe and the baseline's: a preset's ``recipe`` and ``baseline`` with
    the values given on the command line, each checked under its flag's name."""
    dataset = _given(args.dataset_size, recipe.dataset_size)
    parallel = _recipe(args.batch, args.epochs, recipe, dataset, "")
    # a preset whose baseline runs its own recipe (measured: a throughput comparison) keeps
    # comparing like with like when --batch or --epochs change that recipe
    own = parallel if baseline == recipe else baseline
    return parallel, _recipe(args.baseline_batch, args.baseline_epochs, own, dataset, "baseline-")


def _recipe(batch, epochs, own: scale.Recipe, dataset: int, prefix: str) -> scale.Recipe:
    batch, epochs = _given(batch, own.batch), _given(epochs, own.epochs)
    scale.Recipe.check(batch, epochs, dataset,
                       (f"--{prefix}batch", f"--{prefix}epochs", "--dataset-size"))
    return scale.Recipe(batch, epochs, dataset)


def run(args) -> int:
    spec = load_spec(args.model, args.settings, args.input)
    with as_options("bits"):  # before a measured preset's minutes of measuring
        costs = scale.NetworkCosts.of(spec, args.bits)
    workers = _int_list(args.workers, "workers")
    strategies = _strategies(args.strategies)
    if args.plot:
        scale.check_plot_path(args.plot)
    preset, recipe, baseline = _preset(args, spec, workers)
    result = scale.predict(costs, preset.device, preset.link, recipe, baseline, workers,
                           strategies, preset.name)
    ratio = scale.parallelism_comm(spec, recipe.batch, args.bits)
    published = scale.compare_published(spec, result)
    if args.plot:
        scale.plot_scaling(result, args.plot, published)
    if args.format == "json":
        print(dump_json({**result.to_json(), "bits": args.bits, "sources": list(preset.sources),
                         "parallelism_comm": ratio.to_json(),
                         "published": [c.to_json() for c in published]}), end="")
    elif args.format == "csv":  # one row per worker count and strategy, for a plotting tool
        print(rows_to_csv([{"model": result.model, "preset": result.preset, **asdict(row)}
                           for row in result.rows]), end="")
    else:
        _print(result, preset, ratio)
        for c in published:
            p = c.published
            table_console().print(f"  measured: {p.workers} workers {p.speedup:g}x, predicted "
                                  f"{c.predicted:.1f}x ({c.error:+.0%}); {p.source}",
                                  highlight=False)
    return 0


def _ratio(ratio: float) -> str:
    """360x, but 0.24x where model parallelism would send less (a small batch): never 0x."""
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2g}x"


def _bandwidth(beta_s_per_byte: float) -> str:
    return "unlimited bandwidth" if beta_s_per_byte == 0 else f"{1e-9 / beta_s_per_byte:.2f} GB/s"


def _figure(value: float) -> str:
    """Four significant digits: a small network's 0.000123 s is not rounded to 0.0000, and a
    long run's 285,112 h is not written 2.851e+05."""
    return f"{value:,.0f}" if value >= 1e4 else f"{value:.4g}"


def _speedup(speedup: float) -> str:
    """21.8x, but 0.0011x where communication swamps compute: never 0.0x."""
    return f"{speedup:.1f}x" if speedup >= 0.1 else f"{speedup:.2g}x"


def _print(result: scale.ScalingResult, preset: scale.Preset, ratio) -> None:
    c, d, l, r, b = result.costs, result.device, result.link, result.recipe, result.baseline
    console = table_console()
    details = (f" ({preset.description})\n"
               f"gradients {with_prefix(c.gradient_bytes, 'B')} per step; training "
               f"{with_prefix(c.train_flops_per_image, 'FLOPs')} per image; device "
               f"{with_prefix(d.flops, 'FLOP/s')} sustained ({d.efficiency:.1%} of "
               f"{with_prefix(d.peak_flops, 'FLOP/s')})\n"
               f"link: alpha {_figure(l.alpha_s * 1e6)} us, "
               f"beta {_figure(l.beta_s_per_byte * 1e9)} "
               f"ns/byte ({_bandwidth(l.beta_s_per_byte)})\n"
               f"parallel run: batch {r.batch}, {r.epochs:g} epochs of {r.dataset_size:,} images; "
               f"baseline: 1 device, batch {b.batch}, {b.epochs:g} epochs = "
               f"{_figure(result.baseline_total_s / 3600)} h\n"
               f"communication per step at batch {ratio.batch}: data parallel "
               f"{with_prefix(ratio.data_parallel_bytes, 'B')} vs model parallel "
               f"{with_prefix(ratio.model_parallel_bytes_layer_inputs, 'B')} (inputs of weighted "
               f"layers, {_ratio(ratio.ratio_layer_inputs)}) or "
               f"{with_prefix(ratio.model_parallel_bytes_all_outputs, 'B')} (all layer outputs, "
               f"{_ratio(ratio.ratio_all_outputs)})")
    console.print(Text.assemble((result.model, "bold"), " on ", (preset.name, "bold"), details))
    table = Table()
    for col in ("workers", "strategy", "compute s", "comm s", "s / iter", "total h", "speedup"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for row in result.rows:
        table.add_row(str(row.workers), row.strategy, _figure(row.compute_s),
                      _figure(row.comm_s), _figure(row.time_per_iter_s),
                      _figure(row.total_time_s / 3600), _speedup(row.speedup))
    console.print(table)
    for source in preset.sources:
        console.print(f"  source: {source}", highlight=False)
