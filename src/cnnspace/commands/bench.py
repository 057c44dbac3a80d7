"""`cnnspace bench`: measured latency, throughput, percent of peak FLOP/s, training step time and
energy per frame of a model on this machine."""
from __future__ import annotations

import math

from rich.table import Table

from .._units import with_prefix
from ..errors import CnnspaceError
from ._checkpoints import CHECKPOINT_NOTE, load_model_or_checkpoint
from ._common import (CHECKPOINT_HELP, add_format_arg, add_model_args, check_threads, dump_json,
                      rerun_advice, stderr_console, table_console)

BACKEND_CHOICES = ("auto", "torch", "torch_channels_last", "torch_cuda_graph", "onnxruntime")
ABOVE_PEAK = ("{what} above 100% of peak: the GEMM peak was measured low, e.g. while other "
              "processes shared the CPU; rerun on an idle machine")
SMALL_PEAK = (" (or --peak-size {size} is too small a GEMM to reach the device's speed: leave it "
              "out)")


def _batches(text: str) -> tuple[int, ...]:
    try:
        batches = tuple(int(b) for b in text.split(","))
    except ValueError:
        batches = ()
    if not batches or min(batches) < 1:
        raise CnnspaceError(f"--batch expects positive integers separated by commas, got {text!r}")
    return batches


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="measured latency, throughput, %% of peak FLOP/s and energy per frame",
        description="Times a model on this machine: latency per frame at batch 1 (median, p90), "
        "frames/s at larger batches, a training step, the device's peak FLOP/s (best GEMM) and "
        "each backend's and layer's percent of it, and energy per frame from RAPL or NVML when "
        "readable. " + CHECKPOINT_NOTE)
    add_model_args(p, help=CHECKPOINT_HELP)
    p.add_argument("--batch", default="1,8", metavar="1,8,64",
                   help="batches to time (batch 1 is always timed; default 1,8)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--backend", default="auto", metavar="NAME[,NAME]",
                   help=f"{', '.join(BACKEND_CHOICES)} (default auto: every backend available, "
                   "the fastest reported first)")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: torch's)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: weights and inputs in bfloat16, the training step under bfloat16 "
                   "autocast (as train --precision bf16), the peak from bfloat16 GEMMs; "
                   "onnxruntime runs fp32 only (default fp32)")
    p.add_argument("--train-batch", type=int, metavar="N",
                   help="batch of the timed training step (default the largest --batch; 0: none)")
    p.add_argument("--min-time", type=float, default=0.5, metavar="SECONDS",
                   help="least time spent timing each measurement (default 0.5)")
    p.add_argument("--peak-size", type=int, metavar="N",
                   help="n of the n x n GEMMs that measure peak FLOP/s (default 1024 and 2048 "
                   "on CPU, 4096 and 8192 on GPU)")
    p.add_argument("--top", type=int, default=12, metavar="N",
                   help="slowest layers to list in the table (default 12; 0: all)")
    add_format_arg(p, ("table", "json"))
    p.set_defaults(run=run)


def run(args) -> int:
    check_threads(args.threads)
    if args.train_batch is not None and args.train_batch < 0:
        raise CnnspaceError(f"--train-batch expects 0 or more, got {args.train_batch}")
    if args.top < 0:  # a slice would read it from the end: all rows but the last few
        raise CnnspaceError(f"--top expects 0 (every layer) or more, got {args.top}")
    if args.peak_size is not None and args.peak_size < 1:
        raise CnnspaceError(f"--peak-size expects a positive integer, got {args.peak_size}")
    if not (math.isfinite(args.min_time) and args.min_time > 0):
        raise CnnspaceError(f"--min-time expects a positive number of seconds, got "
                            f"{args.min_time}")
    spec, module, _ = load_model_or_checkpoint(args.model, args.settings, args.input)
    from ..metrics import benchmark  # torch only once the model is known

    with stderr_console().status("benchmarking") as status:
        result = benchmark(spec, module, batches=_batches(args.batch), device=args.device,
                           backends=tuple(args.backend.split(",")), threads=args.threads,
                           train_batch=args.train_batch, min_time_s=args.min_time,
                           peak_sizes=(args.peak_size,) if args.peak_size else None,
                           precision=args.precision,
                           progress=lambda message: status.update(message))
    if args.format == "json":
        print(dump_json(result.to_json()), end="")
    else:
        _print_tables(result, args.top, args.peak_size)
    return 0


def _print_tables(result, top: int, peak_size: int | None = None) -> None:
    console = table_console()
    peak = result.peak
    batches = sorted({b for r in result.backends for b in r.throughput_fps})
    table = Table(title=f"{result.model}  input {'x'.join(map(str, result.input))}  "
                        f"{result.device}, {result.threads} thread(s), {peak.dtype}")
    table.add_column("backend", no_wrap=True)
    for col in ("median ms", "p90 ms", *[f"fps@{b}" for b in batches], "GFLOP/s", "% peak",
                "J/frame"):
        table.add_column(col, justify="right")
    fastest = result.fastest.name
    for r in sorted(result.backends, key=lambda r: r.latency.median_s):
        lat = r.latency.to_json()
        mark = (" *" if r.name == fastest else "") + ("" if r.latency.stable else " !")
        table.add_row(r.name + mark, f"{lat['median']:.2f}",
                      f"{lat['p90']:.2f}",
                      *[f"{r.throughput_fps[b]:.1f}" + (" !" if b in r.unsettled_batches else "")
                        for b in batches],
                      f"{r.achieved_flops / 1e9:.1f}", f"{r.pct_of_peak:.1f}",
                      "-" if r.energy_j_per_frame is None else f"{r.energy_j_per_frame:.4f}")
    console.print(table)
    console.print(f"latency, GFLOP/s, % peak and J/frame at batch 1; frames/s = batch / median "
                  f"time; * fastest. Peak {peak.flops / 1e9:.1f} GFLOP/s ({peak.engine}, "
                  f"{peak.size}^3 GEMM, fastest run); network "
                  f"{with_prefix(result.flops_per_frame, 'FLOPs')} per frame")
    for r in result.backends:
        if not r.latency.stable:
            console.print(f"! {r.name}: the timing did not settle (the median of its later "
                          f"samples is {r.latency.drift:.0%} off the earlier ones'): other "
                          f"processes share this machine; {rerun_advice(result.threads)}")
        if r.unsettled_batches:
            console.print(f"! {r.name}: frames/s at batch "
                          f"{', '.join(map(str, r.unsettled_batches))} did not settle: "
                          f"{rerun_advice(result.threads)}")
        for batch in r.batches_faster_than_a_frame:
            console.print(f"! {r.name}: a batch of {batch} took "
                          f"{1e3 * batch / r.throughput_fps[batch]:.2f} ms, less than half of "
                          f"one frame's {r.latency.median_s * 1e3:.2f} ms: the machine was "
                          f"busier while batch 1 was timed; {rerun_advice(result.threads)}")
    above = ABOVE_PEAK + ("" if peak_size is None else SMALL_PEAK.format(size=peak_size))
    if any(r.pct_of_peak > 100 for r in result.backends):
        console.print(above.format(what="backends"))
    for name, reason in result.unavailable.items():
        console.print(f"backend {name} not run: {reason}")
    if result.layers:
        _print_layers(console, result, top, above)
    else:
        console.print(f"layers: not timed ({result.layers_unavailable_reason})")
    if result.train is not None:
        t = result.train
        console.print(f"training step at batch {t.batch} ({t.backend}): median "
                      f"{t.step.median_s * 1e3:.1f} ms, {t.images_per_s:.1f} images/s, "
                      f"{t.achieved_flops / 1e9:.1f} GFLOP/s = {t.pct_of_peak:.1f}% of peak"
                      + ("" if t.step.stable else f" (! did not settle: "
                                                   f"{rerun_advice(result.threads)})"))
    else:
        console.print(f"training step: {result.train_unavailable_reason}")
    if result.energy_unavailable_reason:
        console.print(f"energy per frame: unavailable ({result.energy_unavailable_reason})")
    elif result.energy_source:
        console.print(f"J/frame: measured (never estimated) while batch 1 ran, from "
                      f"{result.energy_covers or result.energy_source}")


def _print_layers(console: Console, result, top: int, above: str) -> None:
    from ..metrics._measured import PART_OVER_WHOLE  # as torch: once a model was measured

    total = sum(layer.time_ms for layer in result.layers)
    rows = sorted(result.layers, key=lambda layer: -layer.time_ms)
    shown = rows if top == 0 else rows[:top]
    table = Table(title=f"layers by time, batch 1, {result.layers_backend} "
                        f"({len(shown)} of {len(rows)}; hooked sum {total:.2f} ms)")
    table.add_column("layer", no_wrap=True)
    table.add_column("type")
    for col in ("MFLOPs", "median ms", "% time", "GFLOP/s", "% peak"):
        table.add_column(col, justify="right")
    for layer in shown:
        table.add_row(layer.name, layer.type, f"{layer.flops / 1e6:.2f}", f"{layer.time_ms:.3f}",
                      f"{100 * layer.time_ms / total:.1f}", f"{layer.achieved_flops / 1e9:.2f}",
                      f"{layer.pct_of_peak:.1f}")
    console.print(table)
    over = [layer for layer in result.layers if layer.pct_of_peak > 100]
    if over:
        hidden = sum(layer not in shown for layer in over)  # --top leaves them out of the table
        console.print(above.format(what="layers" if not hidden else
                                   f"layers ({hidden} of them not among the {len(shown)} shown)"))
    if result.layers_over_latency > PART_OVER_WHOLE:
        console.print(f"! layers: their times add up to {result.layers_over_latency:.1f}x the "
                      f"median latency of {result.layers_backend}: the machine was busier while "
                      f"they were timed; {rerun_advice(result.threads)}")
    elif result.layers_over_latency * PART_OVER_WHOLE < 1:
        # A layer's hooks enclose all of its time but the loop between layers: the fastest
        # hooked pass of squeezenet1_1 at 32x32 summed to 1.06x the fastest plain one here. Far
        # less means the whole was slowed: short layers slip between other processes' time
        # slices, a whole pass cannot (seen: 0.32x on this shared machine, every time stable).
        console.print(f"! layers: the median latency of {result.layers_backend} is "
                      f"{1 / result.layers_over_latency:.1f}x their summed times: the machine "
                      f"was busier while the whole network was timed; "
                      f"{rerun_advice(result.threads)}")
