"""Training throughput in fp32 vs under bfloat16 autocast (`--precision bf16`), side by side.

`cnnspace.train` on random images held in memory (no decoding in the way), each model trained
in both precisions alternately over --rounds, so that other users' load hits both alike; each
run's first epoch is warm-up and is not counted. On a GPU bfloat16 runs on the tensor cores; a
CPU needs bfloat16 instructions (AVX-512 BF16, AMX) for it to pay (machine-notes.md measured it
5-30x slower on one without them).

    .venv/bin/python benchmarks/train_precision.py [--device cuda] [--models squeezenet1_1,vgg11]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

import torch  # noqa: E402

from cnnspace.data import DataSplits, TensorImages  # noqa: E402
from cnnspace.train import TrainConfig, train  # noqa: E402

PRECISIONS = ("fp32", "bf16")


def random_images(count: int, size: int, classes: int = 10) -> DataSplits:
    generator = torch.Generator().manual_seed(0)

    def split(n: int) -> TensorImages:
        images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
        labels = torch.randint(0, classes, (n,), generator=generator)
        return TensorImages(images, labels, mean=(0.5,) * 3, std=(0.25,) * 3)

    return DataSplits(f"random-{size}", split(count), split(max(count // 8, 1)), classes,
                      (3, size, size), tuple(map(str, range(classes))))


def images_per_s(model: str, data: DataSplits, precision: str, args) -> float:
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, device=args.device,
                         precision=precision, channels_last=args.device == "cuda",
                         progress=False)
    history = train(model, data, config).history
    return statistics.mean(r["images_per_s"] for r in history[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", default="squeezenet1_1,vgg11")
    parser.add_argument("--image-size", type=int, default=None,
                        help="default 224 on a GPU, 32 on the CPU")
    parser.add_argument("--images", type=int, default=None,
                        help="training images (default 4096 on a GPU, 512 on the CPU)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3, help="per run, the first is warm-up")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    gpu = args.device == "cuda"
    size = args.image_size or (224 if gpu else 32)
    data = random_images(args.images or (4096 if gpu else 512), size)
    device = torch.cuda.get_device_name() if gpu else f"CPU, {torch.get_num_threads()} threads"
    rows, results = [], {}
    for model in args.models.split(","):
        rates = {p: [] for p in PRECISIONS}
        for _ in range(args.rounds):
            for precision in PRECISIONS:
                rates[precision].append(images_per_s(model, data, precision, args))
        fp32, bf16 = (statistics.median(rates[p]) for p in PRECISIONS)
        results[model] = {"fp32_images_per_s": fp32, "bf16_images_per_s": bf16,
                          "bf16_speedup": bf16 / fp32}
        rows.append([model, f"{fp32:,.0f}", f"{bf16:,.0f}", f"{bf16 / fp32:.2f}x"])
    report("train_precision", f"training images/s, fp32 vs bf16 autocast: {device}, "
           f"{size}x{size}, batch {args.batch}",
           ["model", "fp32 img/s", "bf16 img/s", "bf16 / fp32"], rows,
           {"device": device, "image_size": size, "batch": args.batch,
            "channels_last": gpu, "results": results})


if __name__ == "__main__":
    main()
