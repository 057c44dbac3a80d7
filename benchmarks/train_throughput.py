"""Training throughput: `cnnspace train` internals vs a minimal hand-written PyTorch loop on the
same model, batch and data, side by side; then `cnnspace train` with 2 DDP workers vs 1 process.

Goal (issue 4): cnnspace >= 0.95x the hand-written loop. SqueezeNet v1.1, 3x32x32 images (a
CIFAR-10-format folder of random images, so that torchrun's workers read it too), batch 128,
Adam; eager mode on CPU (machine-notes.md: bf16 autocast and torch.compile are slower here).
The two in-process loops alternate over --rounds so that other users' load hits both alike;
each run's first epoch is warm-up and is not counted.

    .venv/bin/python benchmarks/train_throughput.py [--rounds 3] [--epochs 3] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from cnnspace.data import get_dataset, write_cifar10  # noqa: E402
from cnnspace.nn import build  # noqa: E402
from cnnspace.train import TrainConfig, available_cpus, train, zoo_spec  # noqa: E402

MODEL, BATCH = "squeezenet1_1", 128


def hand_written(data, epochs: int) -> list[float]:
    """Images/s of each epoch of the plainest loop: DataLoader, forward, loss, backward, step."""
    torch.manual_seed(0)
    model = build(zoo_spec(MODEL, data))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(data.train, batch_size=BATCH, shuffle=True)
    rates = []
    for _ in range(epochs):
        start, images = time.perf_counter(), 0
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            images += len(x)
        rates.append(images / (time.perf_counter() - start))
    return rates


def cnnspace_internals(data, epochs: int) -> list[float]:
    result = train(MODEL, data, TrainConfig(epochs=epochs, batch_size=BATCH, progress=False))
    return [r["images_per_s"] for r in result.history]


def cli_run(data_ref: str, nproc: int, epochs: int, out: Path) -> list[float]:
    """`cnnspace train` as a user runs it; images/s per epoch from its metrics.jsonl."""
    subprocess.run([sys.executable, "-m", "cnnspace.cli", "train", MODEL, f"--data={data_ref}",
                    f"--epochs={epochs}", f"--batch-size={BATCH}", f"--nproc={nproc}",
                    "--no-progress", f"--out={out}"], check=True, stdout=subprocess.DEVNULL)
    return [json.loads(line)["images_per_s"]
            for line in (out / "metrics.jsonl").read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="per run, the first is warm-up")
    parser.add_argument("--images", type=int, default=1536, help="training images")
    parser.add_argument("--threads", type=int, default=available_cpus(),
                        help="threads of the single-process runs (default: all cores; on a "
                        "machine others are using, 1 avoids OpenMP's collapse under contention)")
    args = parser.parse_args()
    threads = args.threads
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # the 1-process CLI run; --nproc sets its own
    with tempfile.TemporaryDirectory() as tmp:
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (args.images + BATCH, 3, 32, 32), dtype=torch.uint8,
                               generator=g)
        labels = torch.randint(0, 10, (len(images),), generator=g)
        write_cifar10(tmp, images[:args.images], labels[:args.images], images[args.images:],
                      labels[args.images:], [f"class{i}" for i in range(10)])
        data_ref = f"cifar10:{tmp}"
        data = get_dataset(data_ref)
        rates: dict[str, list[float]] = {"hand": [], "cnnspace": [], "cli1": [], "cli2": []}
        load_before = os.getloadavg()  # the machine may be shared: record how busy it was
        for r in range(args.rounds):
            rates["hand"] += hand_written(data, args.epochs)[1:]
            rates["cnnspace"] += cnnspace_internals(data, args.epochs)[1:]
            rates["cli1"] += cli_run(data_ref, 1, args.epochs, Path(tmp, f"one{r}"))[1:]
            rates["cli2"] += cli_run(data_ref, 2, args.epochs, Path(tmp, f"two{r}"))[1:]
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                f"{k} {statistics.median(v):,.0f}" for k, v in rates.items()), flush=True)
    median = {k: statistics.median(v) for k, v in rates.items()}
    ratio = median["cnnspace"] / median["hand"]
    ddp_ratio = median["cli2"] / median["cli1"]
    rows = [
        ["hand-written loop (DataLoader + Adam)", f"1 x {threads} threads", median["hand"], 1.0],
        ["cnnspace train internals (train())", f"1 x {threads} threads", median["cnnspace"],
         ratio],
        ["cnnspace train, 1 process", f"1 x {threads} threads", median["cli1"], 1.0],
        ["cnnspace train --nproc 2 (DDP, gloo)",
         f"2 x {max(1, available_cpus() // 2)} thread(s)", median["cli2"], ddp_ratio],
    ]
    report("train_throughput", f"{MODEL}, 3x32x32, batch {BATCH}: training images/s (median "
           f"of {args.rounds} rounds x {args.epochs - 1} epochs)",
           ["loop", "workers", "images/s", "ratio"], rows,
           {"goal": "cnnspace >= 0.95 x hand-written", "met": ratio >= 0.95,
            "cnnspace_vs_hand": ratio, "ddp2_vs_1": ddp_ratio, "samples": rates,
            "threads": threads, "load_average_before": load_before,
            "load_average_after": os.getloadavg()})


if __name__ == "__main__":
    main()
