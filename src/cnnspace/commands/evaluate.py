"""`cnnspace evaluate`: top-1/top-5 of a trained checkpoint or of a compressed `.cnnz` model
(run decompressed) on a dataset's test split."""
from __future__ import annotations

import math
import sys
from pathlib import Path

from ..compress import is_cnnz
from ..compress._preprocess import as_trained, check_input, trained_data
from ..errors import CnnspaceError
from ._checkpoints import checked_preprocessing, refuse_detector
from ._common import dump_json, names_checkpoint


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy of a checkpoint or .cnnz model on a dataset",
                       description="Top-1/top-5 and loss on the test split. A .cnnz file runs "
                       "decompressed: its dense weights are restored bit for bit.")
    p.add_argument("model", metavar="MODEL_FILE",
                   help="a .cnnz file of `cnnspace compress` or a checkpoint of `cnnspace train`")
    p.add_argument("--data", metavar="DATASET",
                   help="dataset (default: the one the model was trained on)")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="default 256")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    p.set_defaults(run=run)


def _load(path: str):
    """(spec, module, dataset it was trained on, its preprocessing, size on disk)."""
    if is_cnnz(path):
        from ..compress import decompress
        model, container = decompress(path)
        return (container.spec, model, container.meta.get("data"),
                container.meta.get("preprocessing"), container.size)
    if names_checkpoint(path):
        from ..train import load_checkpoint
        checkpoint = load_checkpoint(path)
        if checkpoint.spec is None:
            raise CnnspaceError(f"{path}: this checkpoint has no spec (trained from a plain "
                                "nn.Module)")
        return (checkpoint.spec, checkpoint.build_model(), checkpoint.payload.get("data"),
                checked_preprocessing(path, checkpoint), Path(path).stat().st_size)
    raise CnnspaceError(f"{path}: expected a .cnnz file or a .pt/.pth checkpoint")


def run(args) -> int:
    if args.batch_size < 1:
        raise CnnspaceError(f"--batch-size must be positive, got {args.batch_size}")
    import torch

    from ..metrics import memory_shortfall
    from ..train import evaluate, fit_spec

    spec, model, trained_on, preprocessing, size = _load(args.model)
    refuse_detector(args.model, trained_on, "`cnnspace evaluate` measures classifiers")
    data = trained_data(args.model, trained_on, args.data, spec.input[1])
    check_input(args.model, data, spec.input)  # the weights are the trained input's
    as_trained(args.model, data, preprocessing)
    fit_spec(spec, data)  # a clear error if the classes do not fit the model
    too_large = memory_shortfall(spec, torch.device("cpu"),
                                 batch=min(args.batch_size, len(data.test)))
    if too_large:
        raise CnnspaceError(f"--batch-size {args.batch_size}: {too_large}")
    result = evaluate(model, data.test, batch_size=args.batch_size, device="cpu")
    out = {"model": args.model, "data": data.name, "bytes": size, "classes": data.num_classes,
           **result.to_dict()}
    # with 5 classes or fewer every class is in the top 5: a top-5 of 100% says nothing
    trivial = f" (all {data.num_classes} classes)" if data.num_classes <= 5 else ""
    if args.format == "json":
        print(dump_json(out), end="")
    else:
        print(f"{args.model} ({size:,} bytes) on {data.name}: top-1 {result.top1:.2%}, top-5 "
              f"{result.top5:.2%}{trivial}, loss {result.loss:.4f} over {result.images:,} test "
              "images")
    if not math.isfinite(result.loss):
        print(f"warning: the loss is {result.loss}: {args.model} computes NaN or infinity, so "
              "its weights or its outputs are broken", file=sys.stderr)
    return 0
