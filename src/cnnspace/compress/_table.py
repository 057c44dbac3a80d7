"""The seed's slide-34 table for the user's own models: size on disk, ratio to a chosen
baseline, top-1/top-5, for the uncompressed model, SVD, pruning, pruning + weight sharing +
Huffman coding (Deep Compression) and PyTorch int8.

Every size is a file this writes and measures: ``.cnnz`` containers for the first four rows
(dense float32 for the baseline and SVD, sparse float32 for pruning) and ``torch.save`` of the
int8 model's state dict for the last. Every accuracy is that of the model read back from it.
"""
from __future__ import annotations

import copy
import itertools
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch.utils.data import DataLoader

from .._atomic import write_atomic
from ..errors import CnnspaceError
from ..nn import build
from ..train import claimed_folder, evaluate
from ._codec import RAW_BITS, Coding
from ._errors import CompressError
from ._int8 import load_int8, quantize_int8, unquantizable_reason
from ._pipeline import (CompressOptions, Trained, check_out, check_plan, dense_codes, prune,
                        remove_stale_files, retrain, share, silent, write_and_check)
from ._share import cluster
from ._svd import factorise, layers_to_factorise

APPROACHES = ("baseline", "SVD", "pruning", "pruning + sharing + Huffman", "int8 (PyTorch)")
# The files of each model's rows, in its folder
FILES = {"baseline": "baseline.cnnz", "svd": "svd.cnnz", "pruning": "pruning.cnnz",
         "deep": "model.cnnz", "int8": "int8.pt"}
CALIBRATION_BATCHES = 4


@dataclass(frozen=True)
class TableRow:
    """One row of the compression table: ``bytes`` on disk (None where the approach does not
    apply), top-1/top-5 as fractions in [0, 1], and ``ratio`` against the baseline's bytes."""
    model: str
    approach: str
    bytes: int | None          # size on disk; None when the approach does not apply
    top1: float | None
    top5: float | None
    file: str | None
    note: str = ""
    ratio: float | None = None  # the chosen baseline's bytes / this row's bytes

    def to_json(self) -> dict:
        return asdict(self)


def _row(trained: Trained, approach: str, written, note: str = "") -> TableRow:
    return TableRow(trained.name, approach, written.sizes.file, written.accuracy.top1,
                    written.accuracy.top5, str(written.path), note)


def _baseline(trained: Trained, out: Path) -> TableRow:
    model = trained.model
    written = write_and_check(out / FILES["baseline"], trained, model,
                              dense_codes(model, trained.spec), Coding(huffman=False))
    return _row(trained, APPROACHES[0], written, "float32, dense")


def _svd(trained: Trained, out: Path, options: CompressOptions, keep: float,
         patterns: list[str] | None, note: Callable[[str], None]) -> TableRow:
    spec, state, done = factorise(trained.spec, trained.model.state_dict(), keep, patterns)
    if not done:
        return TableRow(trained.name, APPROACHES[1], None, None, None, None,
                        "n/a: no fully connected or top-level 1x1 layer (besides the classifier)"
                        " whose factorisation saves weights")
    model = build(spec)
    model.load_state_dict(state)
    factored = replace(trained, spec=spec, model=model)
    retrain(model, factored, options.retrain_epochs, options, note, "SVD fine-tuning")
    written = write_and_check(out / FILES["svd"], factored, model, dense_codes(model, spec),
                              Coding(huffman=False))
    ranks = ", ".join(f"{f.name} rank {f.rank}" for f in done)
    return _row(trained, APPROACHES[1], written, f"float32; {ranks}")


def _pruning_rows(rows: list[TableRow], trained: Trained, out: Path, options: CompressOptions,
                  note: Callable[[str], None]) -> None:
    """Pruning alone (raw float32 survivors), then weight sharing and Huffman on top of the
    same pruned model, as Deep Compression stacks them; each row appended to ``rows`` once
    measured."""
    model = copy.deepcopy(trained.model)
    pruned = replace(trained, model=model)
    masks = prune(model, pruned, options, note)
    raw = cluster(model, masks, {layer: RAW_BITS for layer in masks})
    coding = replace(options.coding, huffman=False)
    written = write_and_check(out / FILES["pruning"], pruned, model, raw, coding)
    density = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
    rows.append(_row(trained, APPROACHES[2], written, f"float32 + {coding.index_bits}-bit "
                     f"relative indices; {density:.1%} of weights"))
    codes = share(model, pruned, masks, options, note)
    written = write_and_check(out / FILES["deep"], pruned, model, codes,
                              replace(options.coding, huffman=True))
    rows.append(_row(trained, APPROACHES[3], written, f"{_weights_note(codes)}, Huffman coded"))


def _weights_note(codes) -> str:
    """``5/8-bit shared weights``; layers kept at 32 bits hold float32 values, shared with none."""
    shared = sorted({c.bits for c in codes.values() if c.shared})
    kinds = [f"{'/'.join(map(str, shared))}-bit shared"] if shared else []
    kinds += ["float32"] if any(not c.shared for c in codes.values()) else []
    return f"{' and '.join(kinds)} weights"


def _int8(trained: Trained, out: Path) -> TableRow:
    reason = unquantizable_reason(trained.model)
    if reason is not None:  # the other rows are measured already: not lost for this one
        return TableRow(trained.name, APPROACHES[4], None, None, None, None, f"n/a: {reason}")
    # Drawn across the split, the same ones every run: an imagefolder split lists its images
    # class by class, and its first batches would calibrate the ranges on its first classes.
    loader = DataLoader(trained.data.train, batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    calibration = [x for x, _ in itertools.islice(loader, CALIBRATION_BATCHES)]
    quantized = quantize_int8(trained.model, calibration)
    path = out / FILES["int8"]
    write_atomic(path, lambda f: torch.save(quantized.state_dict(), f))
    result = evaluate(load_int8(quantized, path), trained.data.test, device="cpu")
    return TableRow(trained.name, APPROACHES[4], path.stat().st_size, result.top1, result.top5,
                    str(path), "static post-training quantization, FX graph mode, x86 backend")


def _labels(names: list[str]) -> list[str]:
    """One distinct name per model, for its rows and its folder: two checkpoints of one run
    (best.pt, checkpoint.pt) are told apart by their place on the command line, ``sq-2``,
    and a number another model's name already has is passed over."""
    labels = [name if names.count(name) == 1 else None for name in names]
    for i, name in enumerate(names):
        place = i + 1
        while labels[i] is None:
            if f"{name}-{place}" not in labels:
                labels[i] = f"{name}-{place}"
            place += 1
    return labels


def compression_table(models: Sequence[Trained], options: CompressOptions, out: str | Path,
                      baseline: int = 0, svd_keep: float = 0.2,
                      svd_layers: list[str] | None = None,
                      note: Callable[[str], None] = silent) -> list[TableRow]:
    """All five rows for each model; ratios against the uncompressed ``models[baseline]``. The
    models are left as they were. Every model's plan is checked before any file is written. A
    table stopped part-way (Ctrl-C, a CnnspaceError or OSError) raises with the rows measured
    so far as the exception's ``measured_rows``."""
    if isinstance(models, (str, os.PathLike)):
        raise CompressError(f"expected a list of Trained models, got {type(models).__name__}: "
                            f"cnnspace.compress.load_trained({str(models)!r}) reads a checkpoint")
    if not models:
        raise CompressError("the compression table needs at least one trained model")
    if isinstance(baseline, bool) or not isinstance(baseline, int) \
            or not 0 <= baseline < len(models):
        raise CompressError(f"baseline must index one of the {len(models)} models (0.."
                            f"{len(models) - 1}), got {baseline!r}")
    labels = _labels([m.name for m in models])
    for place, (label, trained) in enumerate(zip(labels, models), 1):
        try:
            check_plan(trained, options)
            layers_to_factorise(trained.spec, svd_keep, svd_layers)
        except CompressError as e:
            if len(models) == 1:
                raise
            # The error lists one model's layers without saying whose: of several checkpoints
            # the user could not tell which lacked the layer the plan names.
            raise CompressError(f"model {label} (checkpoint {place} of {len(models)}; one "
                                f"plan applies to all): {e}") from None
    out = Path(out)
    check_out(out)
    for label in labels:
        _refuse_a_compress_result(out / label)
    rows: list[TableRow] = []
    try:
        for label, trained in zip(labels, models):
            _model_rows(rows, out / label, trained, label, options, svd_keep, svd_layers, note)
    except (KeyboardInterrupt, CnnspaceError, OSError) as stop:
        # The rows measured so far are files written already: with their sizes and accuracies
        # on the exception, a Ctrl-C or a failing later model does not lose an hour's table.
        stop.measured_rows = _with_ratios(rows, baseline)
        raise
    return _with_ratios(rows, baseline)


def _refuse_a_compress_result(folder: Path) -> None:
    """A model's folder may be where `cnnspace compress` wrote (--out runs, beside a run folder
    runs/sq that holds one): the Deep Compression row's model.cnnz replaced that result's, whose
    compression.json then described another file. A table's own earlier files (its
    baseline.cnnz beside them) are rewritten as the table is."""
    report, container = folder / "compression.json", folder / FILES["deep"]
    found = report if report.exists() else container if container.exists() and not (
        folder / FILES["baseline"]).exists() else None
    if found is not None:
        raise CompressError(f"{folder} holds a compression result ({found.name}), and the "
                            f"table would write its own {container.name} there: choose another "
                            "--out")


def _model_rows(rows: list[TableRow], folder: Path, trained: Trained, label: str,
                options: CompressOptions, svd_keep: float, svd_layers: list[str] | None,
                note: Callable[[str], None]) -> None:
    """One model's rows, its files in ``folder``, appended to ``rows`` as each is measured."""
    # Claimed, as `cnnspace compress` claims --out: another command writing these files
    # there would mix its rows' files with these, and what a killed one left can then go.
    with claimed_folder(folder, f"{folder} is being written by another command; wait for "
                        "it to end or choose another --out"):
        remove_stale_files(folder, FILES.values())
        # a copy: the caller's model keeps its device and mode
        trained = replace(trained, name=label, model=copy.deepcopy(trained.model).cpu().eval())
        note(f"{trained.name}: baseline, SVD, pruning, Deep Compression, int8")
        rows.append(_baseline(trained, folder))
        rows.append(_svd(trained, folder, options, svd_keep, svd_layers, note))
        _pruning_rows(rows, trained, folder, options, note)
        rows.append(_int8(trained, folder))


def _with_ratios(rows: list[TableRow], baseline: int) -> list[TableRow]:
    """``rows`` with their ratios against the baseline model's first row (None for all
    while it is not measured)."""
    place = baseline * len(APPROACHES)
    reference = rows[place].bytes if place < len(rows) else None
    return [replace(r, ratio=reference / r.bytes if reference and r.bytes else None) for r in rows]
