"""Speed of the compression codecs on SqueezeNet v1.0 (1.25 M weights, random values) pruned as
in the SqueezeNet paper's Table 1 and shared at 8 bits: k-means, writing the .cnnz (fixed-width
and Huffman), reading it back into a torch model; and raw Huffman throughput.

Goal: compressing and decompressing a SqueezeNet-sized model takes seconds, not minutes, so
`compress` is dominated by retraining and `evaluate model.cnnz` starts promptly.
Run: .venv/bin/python benchmarks/compress_codec.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cnnspace import get_spec  # noqa: E402
from cnnspace.compress import (Coding, apply_masks, cluster, decompress, freeze,  # noqa: E402
                               magnitude_masks, squeezenet_table1_schedule, write_cnnz)
from cnnspace.compress._huffman import code_lengths, decode, encode  # noqa: E402
from cnnspace.compress._pipeline import container_tensors  # noqa: E402
from cnnspace.nn import build  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    spec = get_spec("squeezenet1_0")
    model = build(spec)
    masks = magnitude_masks(model, squeezenet_table1_schedule().targets(spec))
    apply_masks(model, masks)
    freeze(model, masks)
    kept = sum(int(m.sum()) for m in masks.values())
    codes, kmeans_s = timed(lambda: cluster(model, masks, {n: 8 for n in masks}))
    rows, extra = [["k-means, 26 layers", f"{kept:,} weights", f"{kmeans_s:.3f}"]], {}
    with tempfile.TemporaryDirectory() as tmp:
        for huffman in (False, True):
            path = Path(tmp) / f"sq{int(huffman)}.cnnz"
            sizes, write_s = timed(lambda: write_cnnz(path, spec, container_tensors(model, codes),
                                                      Coding(4, huffman)))
            _, read_s = timed(lambda: decompress(path))
            label = "Huffman" if huffman else "fixed-width"
            rows.append([f"write .cnnz ({label})", f"{sizes.file:,} bytes", f"{write_s:.3f}"])
            rows.append([f"read + decompress ({label})", f"{sizes.file:,} bytes", f"{read_s:.3f}"])
            extra[f"{label}_bytes"] = sizes.file
            extra[f"{label}_write_s"], extra[f"{label}_read_s"] = write_s, read_s
    rng = np.random.default_rng(0)
    symbols = np.minimum(rng.geometric(0.05, 1_000_000) - 1, 255)
    lengths = code_lengths(np.bincount(symbols, minlength=256))
    (data, nbits), enc_s = timed(lambda: encode(symbols, lengths))
    _, dec_s = timed(lambda: decode(data, nbits, len(symbols), lengths))
    rows.append(["Huffman encode, 1 M symbols", f"{nbits / len(symbols):.2f} bits/symbol",
                 f"{enc_s:.3f}"])
    rows.append(["Huffman decode, 1 M symbols", f"{len(symbols) / dec_s / 1e6:.2f} M symbols/s",
                 f"{dec_s:.3f}"])
    extra.update(kmeans_s=kmeans_s, huffman_encode_s=enc_s, huffman_decode_s=dec_s,
                 weights_kept=kept)
    report("compress_codec", "squeezenet1_0, Table 1 pruning, 8-bit sharing, 4-bit indices "
           "(2 CPU threads)", ["step", "size", "seconds"], rows, extra)


if __name__ == "__main__":
    main()
