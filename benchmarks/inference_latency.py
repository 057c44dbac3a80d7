"""Batch-1 latency of SqueezeNet v1.1 at 224: cnnspace's backends vs onnxruntime run by hand.

Goal (issue 7): cnnspace's fastest backend is at least as fast as a plain onnxruntime
InferenceSession on a model exported once. Both run in this process, in alternating rounds (the
machine is shared: alternating spreads any background load over all contenders).
Run: .venv/bin/python benchmarks/inference_latency.py [--threads 2] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

from cnnspace import analyze, get_spec  # noqa: E402

HAND = "onnxruntime by hand"


def hand_session(path: Path, threads: int):
    """What a user writes without cnnspace: a plain session on the exported file."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = {"input": np.random.default_rng(0).standard_normal((1, 3, 224, 224), np.float32)}
    return lambda: session.run(None, x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=1.0)
    args = parser.parse_args()
    import torch

    from cnnspace.metrics import BACKENDS, make_runner, time_calls
    from cnnspace.metrics._backends import unavailable_reason
    from cnnspace.nn import build, export_onnx

    torch.set_num_threads(args.threads)
    spec = get_spec("squeezenet1_1")
    module = build(spec).eval()
    contenders = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(module, Path(tmp) / "squeezenet1_1.onnx")
        contenders[HAND] = hand_session(path, args.threads)
    cpu = torch.device("cpu")
    for name in BACKENDS:
        if reason := unavailable_reason(name, cpu):  # CUDA graphs, here
            print(f"{name}: not run ({reason})")
            continue
        runner = make_runner(name, module, spec.input, cpu, args.threads)
        contenders[f"cnnspace {name}"] = runner.call(1)
    medians: dict[str, list[float]] = {name: [] for name in contenders}
    for i in range(args.rounds):
        order = list(contenders) if i % 2 == 0 else list(reversed(contenders))
        for name in order:
            medians[name].append(time_calls(contenders[name], min_time_s=args.min_time).median_s)
        print(f"round {i + 1}/{args.rounds}: " + ", ".join(
            f"{n} {medians[n][-1] * 1e3:.2f} ms" for n in contenders), flush=True)
    ms = {name: statistics.median(m) * 1e3 for name, m in medians.items()}
    ours = min((n for n in ms if n != HAND), key=ms.get)
    ratio = ms[HAND] / ms[ours]
    flops = analyze(spec).totals.flops
    rows = [[name, f"{ms[name]:.2f}", f"{min(medians[name]) * 1e3:.2f}",
             f"{flops / ms[name] / 1e6:.1f}", f"{ms[HAND] / ms[name]:.2f}"] for name in ms]
    report("inference_latency",
           f"squeezenet1_1, 3x224x224, batch 1, {args.threads} threads: fastest cnnspace backend "
           f"({ours}) is {ratio:.2f}x onnxruntime by hand (goal >= 1.0 within noise)",
           ["contender", "median ms", "best round ms", "GFLOP/s", "speed vs by hand"], rows,
           {"threads": args.threads, "rounds": args.rounds, "median_ms": ms,
            "round_medians_ms": {n: [t * 1e3 for t in m] for n, m in medians.items()},
            "fastest_cnnspace": ours, "ratio_vs_hand": ratio, "goal_ratio": 1.0})


if __name__ == "__main__":
    main()
