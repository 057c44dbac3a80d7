"""`cnnspace compress`: Deep Compression of a trained checkpoint into a `.cnnz` file, the seed's
slide-34 comparison table (`--table`), or the analytic size of a pruning plan (`--predict`)."""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

from rich.table import Table

from .._atomic import check_writable, write_text_atomic
from .._threads import torch_threads
from ..compress import (RAW_BITS, Coding, CompressError, Schedule, load_schedule, parse_bits,
                        predict, squeezenet_table1_schedule)
from ..errors import CnnspaceError
from ._checkpoints import load_spec, refuse_detector
from ._common import (check_threads, dump_json, input_size, new_run_folder,
                      stderr_console, table_console)

TABLE1 = "squeezenet-table1"  # the built-in schedule: the SqueezeNet paper's Table 1 pruning
RESULTS = ("compression.json", "table.json")  # what compress and --table write last


def register(sub) -> None:
    p = sub.add_parser(
        "compress", help="Deep Compression (pruning, weight sharing, Huffman) into a .cnnz file",
        description="Prune, share weights by k-means, Huffman-code and write a .cnnz container "
        "whose size on disk is the reported size. --table compares baseline, SVD, pruning, Deep "
        "Compression and int8 for several checkpoints; --predict sizes a plan analytically.")
    p.add_argument("checkpoints", nargs="*", metavar="CHECKPOINT",
                   help="training checkpoint(s) (best.pt / checkpoint.pt of `cnnspace train`)")
    p.add_argument("--data", metavar="DATASET",
                   help="dataset to retrain and evaluate on (default: the checkpoint's own)")
    plan = p.add_mutually_exclusive_group()
    plan.add_argument("--schedule", metavar="FILE",
                      help=f"YAML pruning schedule (sparsity, layers, steps, bits), or {TABLE1}")
    plan.add_argument("--sparsity", type=float, metavar="S",
                      help="fraction of weights to remove from every conv/linear layer")
    p.add_argument("--bits", default="", metavar="conv=8,fc=5",
                   help="bit widths of shared weights by kind, layer or glob (32: no sharing)")
    p.add_argument("--index-bits", type=int, default=4, metavar="N",
                   help="bits per relative index of pruned layers (default 4)")
    p.add_argument("--huffman", action="store_true",
                   help="Huffman-code the cluster indices and relative indices")
    p.add_argument("--retrain-epochs", type=int, metavar="N",
                   help="epochs of retraining after each pruning round and for the centroids "
                   "(default 0)")
    p.add_argument("--retrain-lr-factor", type=float, metavar="F",
                   help="retraining learning rate as a fraction of the recipe's (default 0.1)")
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/compress-NAME-TIME)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads for evaluating and retraining (default: the checkpoint's "
                   "training setting, else torch's; 1 is steadier on a shared machine)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--table", action="store_true",
                      help="the slide-34 table: baseline / SVD / pruning / Deep Compression / int8")
    mode.add_argument("--predict", metavar="MODEL_OR_SPEC_OR_TRAINED",
                      help="predicted container size of a model under the plan (no training; "
                           "of a checkpoint or .cnnz, the network it holds)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="--predict: a model or family setting, e.g. --set num_classes=10")
    p.add_argument("--input", metavar="CxHxW", type=input_size,
                   help="--predict: input size, e.g. 1x32x32")
    p.add_argument("--baseline", type=int, metavar="K",
                   help="--table: ratios against the uncompressed K-th checkpoint (default 1)")
    p.add_argument("--svd-keep", type=float, metavar="F",
                   help="--table: fraction of a layer's weights its SVD factors keep (default 0.2)")
    p.add_argument("--svd-layers", action="append", metavar="GLOB",
                   help="--table: layers to factorise (default: linear and top-level 1x1 conv "
                   "layers except the classifiers)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    p.add_argument("--no-progress", action="store_true", help="no progress lines")
    p.set_defaults(run=run)


def _schedule(args) -> Schedule:
    if args.schedule == TABLE1:
        return squeezenet_table1_schedule()
    if args.schedule:
        return load_schedule(args.schedule)
    if args.sparsity is not None:
        if not 0 <= args.sparsity <= 1:
            raise CompressError(f"--sparsity must lie in [0, 1], got {args.sparsity}")
        return Schedule(args.sparsity, source="--sparsity")
    return Schedule(source="no pruning")


def _given(args, *flags: str) -> list[str]:
    """Those of ``flags`` the command line set: their defaults are None (False for a switch),
    so that an explicit 0 counts as given."""
    values = {flag: getattr(args, flag[2:].replace("-", "_")) for flag in flags}
    return [flag for flag, value in values.items() if value is not None and value is not False]


def _set(**values) -> dict:
    """The keyword arguments given on the command line: the API's defaults hold for the rest."""
    return {name: value for name, value in values.items() if value is not None}


def run(args) -> int:
    schedule, bits = _schedule(args), parse_bits(args.bits)
    # A flag that does not apply is refused rather than ignored: the user meant something by it.
    table_only = _given(args, "--baseline", "--svd-keep", "--svd-layers")
    if table_only and not args.table:
        raise CnnspaceError(f"{', '.join(table_only)}: only --table makes SVD rows and ratios "
                            "against a baseline")
    if args.table and args.huffman:
        raise CnnspaceError("--huffman: the table's Deep Compression row is Huffman-coded always "
                            "and its other rows never, as in the paper; --huffman applies to "
                            "compressing one checkpoint")
    if args.predict:
        if args.checkpoints:
            raise CnnspaceError("--predict takes a model, not checkpoints")
        unused = _given(args, "--huffman", "--data", "--retrain-epochs", "--retrain-lr-factor",
                        "--out", "--threads")
        if unused:
            # Huffman's gain depends on the trained weights' values: no analytic figure exists
            raise CnnspaceError(f"{', '.join(unused)}: --predict sizes the plan from the spec "
                                "alone (without Huffman coding, an upper bound); compress a "
                                "trained checkpoint for these")
        return _predict(args, schedule, bits)
    if args.settings or args.input:
        raise CnnspaceError("--set and --input apply to --predict; a checkpoint brings its model")
    if args.retrain_lr_factor is not None and not args.retrain_epochs:
        raise CnnspaceError("--retrain-lr-factor: sets the rate of retraining, and none runs "
                            "without --retrain-epochs N (default 0)")
    if not args.checkpoints:
        raise CnnspaceError("give a CHECKPOINT to compress (or --table CHECKPOINTS..., or "
                            "--predict MODEL)")
    check_threads(args.threads)
    if not args.table and len(args.checkpoints) > 1:
        raise CnnspaceError("several checkpoints are compared with --table")
    # Training and torch are needed from here on only.
    from ..compress import CompressOptions, compress
    from ..compress._pipeline import ReportNotWritten, remove_stale_files
    from ..train import claimed_folder

    options = CompressOptions(schedule, bits, Coding(args.index_bits, args.huffman),
                              progress=not args.no_progress,
                              **_set(retrain_epochs=args.retrain_epochs,
                                     retrain_lr_factor=args.retrain_lr_factor))
    note = (partial(stderr_console().print, highlight=False)
            if not args.no_progress else (lambda message: None))
    if args.out:
        # before the checkpoints are read: an --out that is a file met claimed_folder's
        # StopIteration (a traceback)
        check_writable(args.out, "--out", folder=True)
        _refuse_earlier_result(Path(args.out), args.table)
    trained = [_load_trained(path, args.data) for path in args.checkpoints]
    if args.threads is not None:  # retraining would set the checkpoint's own count again
        trained = [replace(t, config=t.config.with_options(threads=args.threads))
                   for t in trained]
    out = Path(args.out) if args.out else new_run_folder(f"compress-{trained[0].name}")
    # Two commands on one --out would write over each other's files: one's compression.json
    # could describe the other's model.cnnz.
    with claimed_folder(out, f"{out} is being written by another command; wait for it to end "
                        "or choose another --out"):
        # again: one that ended since may have left its result
        _refuse_earlier_result(out, args.table)
        # Claimed now, so no live command writes these names here: any found are a killed one's.
        remove_stale_files(out, (*RESULTS, "model.cnnz"))
        with torch_threads(args.threads):
            if args.table:
                return _table(args, trained, options, out, note)
            try:
                report = compress(trained[0], options, out, note)
            except ReportNotWritten as e:
                _show_report(args, e.report, out)  # measured, and its model.cnnz written
                raise
    _show_report(args, report, out)
    accuracy = report["accuracy"]
    shared = any(layer["bits"] != RAW_BITS for layer in report["layers"])
    _warn_if_destroyed(accuracy["after"]["top1"], accuracy["before"]["top1"],
                       trained[0].data.num_classes, f"{out / report['file']}",
                       REMEDIES[DEEP if shared else PRUNING])
    return 0


def _show_report(args, report: dict, out: Path) -> None:
    if args.format == "json":
        print(dump_json(report), end="")
    else:
        _print_report(report, out)


def _refuse_earlier_result(out: Path, table: bool) -> None:
    for earlier in RESULTS:
        if (out / earlier).exists():
            raise CnnspaceError(f"{out} already holds a compression result ({earlier}); "
                                "choose another --out")
    # A model.cnnz alone (a file of the user's, or a result whose report a kill or a full disk
    # lost) is a finished container too, which compress would replace without a word; the
    # table writes its files into a folder per model, never this name.
    if not table and (out / "model.cnnz").exists():
        raise CnnspaceError(f"{out} already holds a model.cnnz (without its compression.json): "
                            "choose another --out, or move that file away")


# What undoes the damage, per row of a model in the table (compress._table.APPROACHES, whose
# module loads torch); compress alone is the pruning row, or the Deep Compression one where a
# layer is shared (1-bit sharing of a pruned layer, one value for all its weights, was told to
# prune less or retrain more, never to give more bits).
PRUNING, DEEP = 2, 3
REMEDIES = (
    None,  # the baseline, which the others are measured against
    "keep more of each factorised layer (--svd-keep) or retrain more (--retrain-epochs)",
    "prune less (--sparsity) or retrain more (--retrain-epochs)",
    "prune less (--sparsity), share with more bits (--bits) or retrain more (--retrain-epochs)",
    "PyTorch's post-training int8 quantization does not suit this model",
)


def _warn_if_destroyed(top1: float | None, before: float, classes: int, what: str,
                       remedy: str = REMEDIES[PRUNING]) -> None:
    """Says when compression left no more than chance accuracy: a small file that answers at
    random is no result, however good its ratio looks. Where the model answered at chance
    before compression too, the fault is the training's, and the warning says so."""
    # Within half of chance above it, or 5 points where that is less: 1.5/classes alone called
    # 46.7% of 3 classes (chance 33%) and 70% of 2 "chance level".
    chance = min(1.5 / classes, 1 / classes + 0.05)
    if top1 is None or top1 >= chance:
        return
    if before < chance:
        print(f"warning: {what} answers at chance level (top-1 {top1:.2%}, {classes} classes), "
              f"as the model did before compression (top-1 {before:.2%}): train it further "
              "before judging its compression", file=sys.stderr)
    else:
        print(f"warning: {what} answers at chance level (top-1 {top1:.2%}, {classes} classes): "
              f"this compression destroyed the model; {remedy}", file=sys.stderr)


def _load_trained(path: str, data: str | None):
    from ..compress import load_trained
    from ..train import load_checkpoint

    try:
        return load_trained(path, data)
    except CnnspaceError as failed:
        # asked only once loading failed: reading the checkpoint again costs its size
        try:
            recorded = load_checkpoint(path).payload.get("data")
        except CnnspaceError:
            raise failed from None  # not a checkpoint at all: the first error says so
        refuse_detector(path, recorded, "`cnnspace compress` measures and retrains classifiers, "
                        "not detectors")
        raise


def _table(args, trained, options, out: Path, note) -> int:
    from ..compress import compression_table
    from ..compress._table import APPROACHES
    baseline = 1 if args.baseline is None else args.baseline
    if not 1 <= baseline <= len(trained):
        raise CnnspaceError(f"--baseline must be 1..{len(trained)}, got {baseline}")
    try:
        rows = compression_table(trained, options, out, baseline - 1, note=note,
                                 **_set(svd_keep=args.svd_keep, svd_layers=args.svd_layers))
    except (KeyboardInterrupt, CnnspaceError, OSError) as stop:
        measured = getattr(stop, "measured_rows", None)
        if measured:  # their files are written: a Ctrl-C in the last model lost every row
            print(f"the table stopped after {len(measured)} of "
                  f"{len(APPROACHES) * len(trained)} rows; those measured follow and go to "
                  f"{out / 'table.json'}", file=sys.stderr)
            try:
                _save_table(args, measured, baseline, out)
            except CnnspaceError as failed:  # shown already; what stopped the table comes next
                print(f"cnnspace compress: {failed}", file=sys.stderr)
        raise
    _save_table(args, rows, baseline, out)
    per_model = len(rows) // len(trained)
    for i, r in enumerate(rows):  # each checkpoint's rows in turn, each against its own classes
        if i % per_model:  # the first row of each model is its uncompressed baseline
            _warn_if_destroyed(r.top1, rows[i - i % per_model].top1,
                               trained[i // per_model].data.num_classes,
                               f"{r.model} {r.approach}", REMEDIES[i % per_model])
    return 0


def _save_table(args, rows, baseline: int, out: Path) -> None:
    """Shows the rows, then writes table.json: a disk that filled would otherwise lose every
    row measured (their files are written already)."""
    from ..compress._table import APPROACHES
    data = [r.to_json() for r in rows]
    if args.format == "json":
        print(dump_json(data), end="")
    else:
        first = (baseline - 1) * len(APPROACHES)  # each model's rows, its baseline first
        _print_table(rows, rows[first].model if first < len(rows) else None, out)
    sys.stdout.flush()
    write_text_atomic(out / "table.json", json.dumps(data, indent=2) + "\n")


def _print_table(rows, baseline: str | None, out: Path) -> None:
    against = f"ratios against {baseline}'s baseline" if baseline else \
        "no ratios: the baseline was not measured"
    table = Table(title=f"compression ({against}); files in {out}")
    for col in ("model", "approach", "size", "ratio", "top-1", "top-5", "how"):
        table.add_column(col, justify="left" if col in ("model", "approach", "how") else "right")
    for r in rows:
        table.add_row(r.model, r.approach, _size(r.bytes),
                      f"{r.ratio:.1f}x" if r.ratio else "-", _pct(r.top1), _pct(r.top5),
                      r.note)
    table_console().print(table)


def _predict(args, schedule: Schedule, bits: dict) -> int:
    spec = load_spec(args.predict, args.settings, args.input)
    prediction = predict(spec, schedule, bits, args.index_bits)
    if args.format == "json":
        print(dump_json(prediction.to_json()), end="")
        return 0
    table = Table(title=f"{spec.name}: predicted .cnnz payload ({schedule.source}, "
                        f"{args.index_bits}-bit relative indices, no Huffman)",
                  show_footer=True)
    for col, footer in (("layer", "total"), ("weights", ""),
                        ("kept", f"{prediction.params_kept:,}"), ("density", ""), ("bits", ""),
                        ("bytes", f"{prediction.bytes:,}")):
        table.add_column(col, footer=footer, justify="left" if col == "layer" else "right")
    for m in prediction.layers:
        table.add_row(m.name, f"{m.weights:,}", f"{m.kept:,}", f"{m.kept / m.weights:.0%}",
                      str(m.bits), f"{m.bytes:,}")
    console = table_console()
    console.print(table)
    console.print(f"parameters kept {prediction.params_kept:,} (biases included); "
                  f"{prediction.bytes:,} bytes = {prediction.bytes / 1e6:.3f} MB = "
                  f"{prediction.bytes / 2**20:.3f} MiB; "
                  f"{_versus(prediction.dense_bytes / prediction.bytes, 'float32')} "
                  f"({prediction.dense_bytes:,} bytes). Codebooks are counted "
                  "full; the container header is not included.")
    return 0


def _versus(ratio: float, what: str) -> str:
    """The ratio of ``what``'s bytes to the compressed ones, in words that stay true below 1:
    raw values plus their indices, or a dense file's header, can outweigh what was removed."""
    return f"{ratio:.1f}x smaller than {what}" if ratio >= 1.05 else \
        f"{1 / ratio:.3f}x the size of {what}"


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.3f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2%}"


def _print_report(report: dict, out: Path) -> None:
    table = Table(title=f"{report['model']} -> {out / report['file']}", show_footer=True)
    # Rows hold each layer's weights (biases travel uncoded, with the other tensors), so the
    # footer sums the rows, not the model's whole parameter count.
    weights = sum(r["params"] for r in report["layers"])
    kept = sum(r["kept"] for r in report["layers"])
    columns = (("layer", "total"), ("weights", f"{weights:,}"),
               ("density", f"{kept / max(weights, 1):.1%}"),
               ("bits", ""), ("before", f"{sum(r['bytes_before'] for r in report['layers']):,}"),
               ("after", f"{sum(r['bytes_after'] for r in report['layers']):,}"),
               ("Huffman saved", f"{report['huffman_saved_bytes']:,}"))
    for col, footer in columns:
        table.add_column(col, footer=footer, justify="left" if col == "layer" else "right")
    for r in report["layers"]:
        table.add_row(r["layer"], f"{r['params']:,}", f"{r['density']:.1%}", str(r["bits"]),
                      f"{r['bytes_before']:,}", f"{r['bytes_after']:,}",
                      f"{r['huffman_saved_bytes']:,}")
    console = table_console()
    console.print(table)
    acc = report["accuracy"]
    console.print(
        f"file {report['file_bytes']:,} bytes on disk (layers + other tensors "
        f"{report['other_tensors_bytes']:,} + header {report['header_bytes']:,} + framing "
        f"{report['framing_bytes']}), "
        f"{_versus(report['ratio'], 'the float32 model')} ({report['float32_bytes']:,} bytes)\n"
        f"top-1 {acc['before']['top1']:.2%} -> {acc['after']['top1']:.2%}, top-5 "
        f"{acc['before']['top5']:.2%} -> {acc['after']['top5']:.2%} (after: the model "
        f"decompressed from the file)")
