"""``compression.json``: per layer what was kept and where every byte of the container went.

The layer rows, the other tensors, the header and the framing add up to the file's size on disk
exactly.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from .._atomic import write_text_atomic
from ..metrics import analyze
from ._codec import WeightCode
from ._schedule import WEIGHTED_TYPES, weighted_layers


def accuracy(result) -> dict:
    return {"top1": result.top1, "top5": result.top5}


def layer_rows(spec, codes: Mapping[str, WeightCode], sizes) -> list[dict]:
    rows = []
    for node in weighted_layers(spec):
        code = codes[node.name]
        weight = sizes.tensors[f"layers.{node.name}.weight"]
        bias = sizes.tensors.get(f"layers.{node.name}.bias")
        bias_bytes = bias.total if bias else 0
        kept = int(code.mask.sum())
        rows.append({
            "layer": node.name, "type": WEIGHTED_TYPES[node.type], "params": code.mask.size,
            "biases": bias_bytes // 4, "kept": kept, "density": kept / max(code.mask.size, 1),
            "bits": code.bits, "codebook": len(code.codebook) if code.shared else None,
            "bytes_before": 4 * (code.mask.size + bias_bytes // 4),
            "bytes_after": weight.total + bias_bytes,
            "codebook_bytes": weight.codebook, "value_bytes": weight.values,
            "index_bytes": weight.index, "bias_bytes": bias_bytes,
            "huffman_saved_bytes": weight.huffman_saved,
        })
    return rows


def compression_report(trained, codes: Mapping[str, WeightCode], written, before,
                       options) -> dict:
    sizes = written.sizes
    rows = layer_rows(trained.spec, codes, sizes)
    in_rows = {f"layers.{r['layer']}.{part}" for r in rows for part in ("weight", "bias")}
    other = sum(t.total for key, t in sizes.tensors.items() if key not in in_rows)
    params = analyze(trained.spec).totals.params
    float32 = 4 * params  # the metrics' "size": params x 4 bytes
    return {
        "model": trained.name, "spec": trained.spec.name, "data": trained.data.name,
        "file": written.path.name, "file_bytes": sizes.file,
        "float32_bytes": float32, "ratio": float32 / sizes.file,
        "accuracy": {"before": accuracy(before), "after": accuracy(written.accuracy)},
        "settings": {"index_bits": options.coding.index_bits, "huffman": options.coding.huffman,
                     "retrain_epochs": options.retrain_epochs,
                     "retrain_lr_factor": options.retrain_lr_factor,
                     "pruning_rounds": options.schedule.steps},
        # Every parameter, as analyze and --predict count them: batchnorm's are kept whole.
        "params": params,
        "params_kept": params - sum(r["params"] - r["kept"] for r in rows),
        "huffman_saved_bytes": sum(r["huffman_saved_bytes"] for r in rows),
        "layers": rows,
        "other_tensors_bytes": other, "header_bytes": sizes.header,
        "framing_bytes": sizes.framing,
    }


def write_report(path: Path, report: dict) -> None:
    write_text_atomic(path, json.dumps(report, indent=2) + "\n")
