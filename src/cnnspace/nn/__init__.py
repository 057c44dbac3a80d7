"""Turns specs into torch modules, torch modules into specs (torch.fx), and modules into ONNX."""
from ._export import (INPUT_NAME, ONNX_MAX_BYTES, OnnxCheck, OnnxRuntimeMissing, check_onnx,
                      copy_module, export_onnx, onnx_bytes, ort_session, too_large_for_onnx,
                      with_metadata)
from ._from_torch import from_torch
from ._init import INIT_SCHEMES, initialise
from ._layers import BUILDERS
from ._module import SpecModule, build, state_mismatch, unreached_by_attribute
from ._torch_ops import UnsupportedModuleError

__all__ = ["BUILDERS", "INIT_SCHEMES", "INPUT_NAME", "ONNX_MAX_BYTES", "OnnxCheck", "OnnxRuntimeMissing", "SpecModule", "UnsupportedModuleError",
           "build", "check_onnx", "copy_module", "export_onnx", "from_torch", "initialise", "onnx_bytes",
           "ort_session", "state_mismatch", "too_large_for_onnx", "unreached_by_attribute",
           "with_metadata"]
