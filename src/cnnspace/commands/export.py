"""`cnnspace export`: a model as ONNX, checked against torch with onnxruntime."""
from __future__ import annotations

import json
import os

from .._atomic import check_writable, write_atomic
from ..errors import CnnspaceError
from ._checkpoints import CHECKPOINT_NOTE, load_model_or_checkpoint
from ._common import CHECKPOINT_HELP, add_model_args

TOLERANCE = 1e-4  # max relative error between onnxruntime's and torch's outputs
PREPROCESSING_KEY = "cnnspace.preprocessing"  # ONNX metadata: how to prepare an input image


def register(sub) -> None:
    p = sub.add_parser("export", help="export a model to ONNX (checked with onnxruntime)",
                       description="Writes an ONNX model (opset >= 17) and, when onnxruntime "
                       "is installed, checks that it computes torch's outputs (relative error "
                       f"< {TOLERANCE:g}). " + CHECKPOINT_NOTE)
    add_model_args(p, help=CHECKPOINT_HELP)
    p.add_argument("--onnx", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--dynamic-batch", action="store_true",
                   help="let the batch dimension vary (default: batch 1)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (at least 17; default 17)")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")
    p.set_defaults(run=run)


def run(args) -> int:
    if os.path.isfile(args.model) and os.path.exists(args.onnx) \
            and os.path.samefile(args.model, args.onnx):
        # a slip of the shell (export best.pt --onnx best.pt) would replace the trained weights
        raise CnnspaceError(f"--onnx {args.onnx} is the model file itself, which writing would "
                            "replace; give the .onnx file another name")
    # before the export and its check, which take minutes for large networks
    check_writable(args.onnx, "--onnx")
    spec, module, preprocessing = load_model_or_checkpoint(args.model, args.settings, args.input)
    import torch

    from ..metrics import memory_shortfall
    from ..nn import (OnnxRuntimeMissing, build, check_onnx,  # torch only once the model is known
                      onnx_bytes, too_large_for_onnx, with_metadata)

    # exporting and checking run the network, on one image or two (a dynamic batch)
    if reason := memory_shortfall(spec, torch.device("cpu"), batch=2 if args.dynamic_batch else 1,
                                  built=module is not None, smaller="--input"):
        raise CnnspaceError(f"{args.onnx} not written: {reason}")
    module = module if module is not None else build(spec)
    if reason := too_large_for_onnx(module):
        raise CnnspaceError(f"{args.onnx} not written: {spec.name}'s {reason}")
    data = onnx_bytes(module, spec.input, args.dynamic_batch, args.opset)
    if preprocessing and list(spec.input) != preprocessing["input"]:  # exported at another size
        preprocessing = {**preprocessing, "input": list(spec.input),
                         "trained_input": preprocessing["input"]}
    if preprocessing:
        data = with_metadata(data, {PREPROCESSING_KEY: json.dumps(preprocessing)})
    line = f"{len(data):,} bytes, opset {args.opset}"
    line += ", dynamic batch" if args.dynamic_batch else ", batch 1"
    verdict = "not checked (--no-check)"
    if not args.no_check:
        # Checked before it is written: a model that fails never replaces a good file.
        try:
            check = check_onnx(data, module, spec.input, batch=2 if args.dynamic_batch else 1)
        except OnnxRuntimeMissing as e:
            verdict = f"not checked: {e}"  # the file is still good to use
        except CnnspaceError as e:
            raise CnnspaceError(f"{args.onnx} not written: {e}") from None
        else:
            if check.max_relative_error >= TOLERANCE:
                raise CnnspaceError(f"{args.onnx} not written: onnxruntime's outputs differ from "
                                    f"torch's (max relative error {check.max_relative_error:.2e} "
                                    f">= {TOLERANCE:g})")
            verdict = (f"onnxruntime matches torch: max relative error "
                       f"{check.max_relative_error:.1e}")
    write_atomic(args.onnx, lambda f: f.write(data))
    print(f"wrote {args.onnx} ({line}); {verdict}")
    if note := _folded_norms(spec, data):
        print(note)
    if preprocessing:
        print(f"its input: {_preprocessing_line(preprocessing)} (metadata "
              f"{PREPROCESSING_KEY!r})")
        for key in ("channels", "resize"):
            if key in preprocessing:
                print(f"  {key}: {preprocessing[key]}")
    return 0


def _folded_norms(spec, data: bytes) -> str | None:
    """A note where the file holds fewer batch normalisations than the spec: torch's exporter
    folds one that follows a convolution into it (its scale into the weights, its shift into
    the bias), so that the file, read back, counts fewer parameters than the spec."""
    from ..metrics import analyze
    from ..spec import SpecError, from_onnx, resolve

    def norms(s) -> int:
        return sum(n.type == "batchnorm" for n in resolve(s).nodes)

    ours = norms(spec)
    if not ours:
        return None
    try:
        back = from_onnx(data)
    except SpecError:  # no onnx package, or a network the import does not read
        return None
    folded = ours - norms(back)
    if folded <= 0:
        return None
    return (f"note: torch folded {folded} of the {ours} batch normalisations into the "
            f"convolutions before them: read back, the file counts "
            f"{analyze(back).totals.params:,} parameters, the spec "
            f"{analyze(spec).totals.params:,}")


def _preprocessing_line(p: dict) -> str:
    mean = ", ".join(f"{m:.4f}" for m in p["mean"])
    std = ", ".join(f"{s:.4f}" for s in p["std"])
    return (f"{'x'.join(map(str, p['input']))} images, pixels / 255, minus mean [{mean}], "
            f"divided by std [{std}]")
