"""`cnnspace export`: a model as ONNX, checked against torch with onnxruntime."""
from __future__ import annotations

from ..errors import CnnspaceError
from ._checkpoints import CHECKPOINT_NOTE, load_model_or_checkpoint
from ._common import add_model_args

TOLERANCE = 1e-4  # max relative error between onnxruntime's and torch's outputs


def register(sub) -> None:
    p = sub.add_parser("export", help="export a model to ONNX (checked with onnxruntime)",
                       description="Writes an ONNX model (opset >= 17) and, when onnxruntime "
                       "is installed, checks that it computes torch's outputs (relative error "
                       f"< {TOLERANCE:g}). " + CHECKPOINT_NOTE)
    add_model_args(p)
    p.add_argument("--onnx", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--dynamic-batch", action="store_true",
                   help="let the batch dimension vary (default: batch 1)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (at least 17; default 17)")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")
    p.set_defaults(run=run)


def run(args) -> int:
    spec, module = load_model_or_checkpoint(args.model, args.settings, args.input)
    from ..nn import build, check_onnx, export_onnx  # torch only once the model is known

    module = module if module is not None else build(spec)
    path = export_onnx(module, args.onnx, spec.input, args.dynamic_batch, args.opset)
    line = f"wrote {path} ({path.stat().st_size:,} bytes, opset {args.opset}"
    line += ", dynamic batch)" if args.dynamic_batch else ", batch 1)"
    if args.no_check:
        print(line)
        return 0
    try:
        check = check_onnx(path, module, spec.input, batch=2 if args.dynamic_batch else 1)
    except CnnspaceError as e:  # onnxruntime missing: the file is still good to use
        print(f"{line}; not checked: {e}")
        return 0
    if check.max_relative_error >= TOLERANCE:
        raise CnnspaceError(f"{path}: onnxruntime's outputs differ from torch's (max relative "
                            f"error {check.max_relative_error:.2e} >= {TOLERANCE:g})")
    print(f"{line}; onnxruntime matches torch: max relative error "
          f"{check.max_relative_error:.1e}")
    return 0
