"""Predicted vs measured 2-process DDP step time on this machine (issue 6's 25% check).

The prediction uses only: alpha/beta fitted by commbench (2 gloo processes, allreduce), and the
compute of a timed single-process step with the thread count of one DDP process. The measurement
is a real DistributedDataParallel step. Both steps are timed by the wall clock (the check) and by
the CPU time of the process (the same comparison, minus time spent waiting for a core). The
machine is shared: before each round the script waits (up to --wait seconds) until other
processes keep fewer than --quiet cores busy, and records how busy they were, so that a round
spoiled by someone else's job can be told apart.

    .venv/bin/python benchmarks/ddp_prediction.py [--rounds 3] [--model squeezenet1_1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

from cnnspace import get_spec  # noqa: E402
from cnnspace.scale import (Device, NetworkCosts, Recipe, measured_preset,  # noqa: E402
                            predict, run_commbench, time_ddp_step, time_train_step)

NPROC = 2
SIZES_MB = (0.5, 1, 2, 5, 10)
CLOCKS = ("wall_s", "cpu_s")  # StepTime fields: the wall clock is the check, the CPU clock the
                              # same comparison without the waiting that other users' jobs add


def busy_cores(seconds: float = 2.0) -> float | None:
    """Cores kept busy by other processes over ``seconds`` while this one sleeps (Linux)."""
    def snapshot() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait
    try:
        total0, idle0 = snapshot()
        time.sleep(seconds)
        total1, idle1 = snapshot()
    except OSError:
        return None
    return (1 - (idle1 - idle0) / max(1, total1 - total0)) * (os.cpu_count() or 1)


def wait_for_quiet(threshold: float, patience_s: float) -> float | None:
    deadline = time.monotonic() + patience_s
    busy = busy_cores()
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        print(f"  machine busy ({busy:.2f} cores used by others); waiting", flush=True)
        time.sleep(10)
        busy = busy_cores()
    return busy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="squeezenet1_1")
    p.add_argument("--input", default="3x32x32")
    p.add_argument("--batch", type=int, default=128, help="global batch (split over 2 processes)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--quiet", type=float, default=0.3,
                   help="start a round once others use fewer cores than this")
    p.add_argument("--wait", type=float, default=300, help="seconds to wait for that per round")
    args = p.parse_args()
    for flag in ("rounds", "steps"):  # no round has no median; no step is no time
        if getattr(args, flag) < 1:
            p.error(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    if args.batch < NPROC or args.batch % NPROC:
        # the DDP step runs batch / NPROC images per process: the prediction must get that batch
        p.error(f"--batch must be a positive multiple of {NPROC}, got {args.batch}")
    spec = get_spec(args.model, input=args.input)
    per_worker = args.batch // NPROC
    costs = NetworkCosts.of(spec)
    recipe = Recipe(args.batch, 1, args.batch)  # one iteration: only time per iteration matters
    rows, rounds = [], []
    for r in range(1, args.rounds + 1):
        busy = wait_for_quiet(args.quiet, args.wait)
        bench = run_commbench(NPROC, SIZES_MB, repeats=9, warmup=2, threads=1)
        link = bench.fit("allreduce").link
        single = time_train_step(spec, per_worker, threads=1, steps=args.steps)
        ddp = time_ddp_step(spec, per_worker, NPROC, threads=1, steps=args.steps)
        for clock in CLOCKS:
            device = Device.timed(f"{clock} clock", costs, per_worker, getattr(single, clock))
            preset = measured_preset(link, device)
            predicted = predict(costs, preset.device, preset.link, recipe, recipe, [NPROC],
                                ["ring"], preset.name).row(NPROC, "ring")
            measured = getattr(ddp, clock)
            error = predicted.time_per_iter_s / measured - 1
            rounds.append({"round": r, "clock": clock, "busy_cores_before": busy,
                           "alpha_s": link.alpha_s, "beta_s_per_byte": link.beta_s_per_byte,
                           "predicted_compute_s": predicted.compute_s,
                           "predicted_comm_s": predicted.comm_s,
                           "predicted_step_s": predicted.time_per_iter_s,
                           "measured_ddp_step_s": measured, "relative_error": error})
            rows.append([r, clock, "?" if busy is None else f"{busy:.2f}", link.alpha_s * 1e6,
                         1 / link.beta_s_per_byte / 1e9, predicted.compute_s * 1e3,
                         predicted.comm_s * 1e3, predicted.time_per_iter_s * 1e3,
                         measured * 1e3, f"{error:+.1%}"])
    summary = {}
    for clock in CLOCKS:
        mine = [x for x in rounds if x["clock"] == clock]
        pred = statistics.median(x["predicted_step_s"] for x in mine)
        meas = statistics.median(x["measured_ddp_step_s"] for x in mine)
        summary[clock] = {"predicted_step_s": pred, "measured_ddp_step_s": meas,
                          "relative_error": pred / meas - 1,
                          "within_25_percent": abs(pred / meas - 1) <= 0.25}
        rows.append(["median", clock, "", "", "", "", "", pred * 1e3, meas * 1e3,
                     f"{pred / meas - 1:+.1%}"])
    report("ddp_prediction",
           f"{spec.name} {args.input}, batch {args.batch} = {NPROC} x {per_worker}, gloo, "
           f"1 thread per process; gradients {costs.gradient_bytes / 1e6:.2f} MB",
           ["round", "clock", "others' cores", "alpha us", "link GB/s", "compute ms", "comm ms",
            "predicted ms", "measured DDP ms", "error"], rows,
           {"model": spec.name, "input": args.input, "batch": args.batch, "nproc": NPROC,
            "gradient_bytes": costs.gradient_bytes, "rounds": rounds, "summary": summary})


if __name__ == "__main__":
    main()
