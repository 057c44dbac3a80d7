"""`cnnspace import`: a Caffe network definition (.prototxt) or an ONNX model as a cnnspace
spec."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import CnnspaceError
from ..metrics import analyze
from ..spec import dumps, load, save
from .._units import with_prefix
from ._common import plural


def register(sub) -> None:
    p = sub.add_parser("import", help="convert a Caffe .prototxt or an ONNX model to a spec",
                       description="Reads a Caffe deploy .prototxt (Convolution, Pooling, ReLU, "
                       "Sigmoid, TanH, LRN, Concat, Eltwise (SUM, PROD), Dropout, InnerProduct, "
                       "Softmax, BatchNorm+Scale, Flatten; input_shape, input_dim or an Input "
                       "layer) or an .onnx model (Conv, Gemm, MatMul, BatchNormalization, pooling, "
                       "ReduceMean, activations, Concat, Add, Mul, Flatten, Reshape, Squeeze...; "
                       "an input of fixed image size; weights are read for their shapes only) "
                       "and writes the spec as YAML. "
                       "Every command also reads .prototxt and .onnx files directly.")
    p.add_argument("source", metavar="MODEL.prototxt|MODEL.onnx",
                   help="the Caffe network definition or ONNX model")
    p.add_argument("-o", "--output", metavar="SPEC.yaml",
                   help="write here (.yaml or .json) instead of stdout")
    p.set_defaults(run=run)


def run(args) -> int:
    source = Path(args.source)
    if source.suffix.lower() not in (".prototxt", ".onnx"):
        weights = source.suffix.lower() == ".caffemodel"
        raise CnnspaceError(f"{source}: expected a Caffe .prototxt or an .onnx file" + (
            " (a .caffemodel holds trained weights, which cnnspace does not read: import the "
            "network's deploy .prototxt)" if weights else ""))
    spec = load(source)
    totals = analyze(spec).totals
    summary = (f"imported {source.name}: {plural(len(spec.layers), 'layer')}, input "
               f"{'x'.join(map(str, spec.input))}, {totals.params:,} parameters, "
               f"{with_prefix(totals.macs, 'MACs')}")
    renamed = spec.meta.get("renamed", {})
    if renamed:  # '/' and '.' are reserved in spec names, and names must be unique
        shown = ", ".join(f"{old} -> {new}" for new, old in list(renamed.items())[:3])
        summary += (f"; {plural(len(renamed), 'layer name')} changed ({shown}"
                    f"{', ...' if len(renamed) > 3 else ''}; all in the spec's meta.renamed)")
    if args.output:
        save(spec, args.output)
        print(f"{summary}; wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(dumps(spec))
        print(summary, file=sys.stderr)
    return 0
