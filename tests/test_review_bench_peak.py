"""Review of the measured peak: on a GPU whose float32 convolutions run on TF32 tensor cores,
% of peak is set against TF32 GEMMs too, not against IEEE float32 ones alone."""
import pytest
import torch

from cnnspace import CnnspaceError
from cnnspace.metrics import gemm_peak
from cnnspace.metrics._peak import _engines, _tf32

CUDA = torch.device("cuda")


def _engine_names(device, dtype):
    return [name for name, _ in _engines(device, dtype, threads=1)]  # makes no matrix


def test_a_gpu_float32_peak_includes_tf32_gemms_where_convolutions_use_tf32():
    # PyTorch's defaults: cuDNN convolutions in TF32, torch.mm in IEEE float32. The H200 run's
    # training step was 36% "of peak" against an IEEE-only torch.mm peak of 51.2 TFLOP/s.
    conv = torch.backends.cudnn.conv
    kept = conv.fp32_precision  # set by hand: its attribute is a property pytest cannot patch
    try:
        conv.fp32_precision = "tf32"
        assert _engine_names(CUDA, torch.float32) == ["torch.mm", "torch.mm TF32"]
        assert "torch.mm TF32" not in _engine_names(CUDA, torch.bfloat16)
        assert "torch.mm TF32" not in _engine_names(torch.device("cpu"), torch.float32)
        conv.fp32_precision = "ieee"
        assert _engine_names(CUDA, torch.float32) == ["torch.mm"]
    finally:
        conv.fp32_precision = kept


def test_tf32_gemm_allows_tf32_only_while_it_runs():
    matmul = torch.backends.cuda.matmul
    before = matmul.fp32_precision
    seen = []
    _tf32(lambda: seen.append(matmul.fp32_precision))()
    assert seen == ["tf32"] and matmul.fp32_precision == before

    def fails():
        raise RuntimeError("out of memory")
    with pytest.raises(RuntimeError):
        _tf32(fails)()
    assert matmul.fp32_precision == before
    torch.get_float32_matmul_precision()  # raises where torch's two TF32 APIs were mixed


def test_gemm_peak_refuses_a_device_it_cannot_time_on_by_name(monkeypatch):
    # gemm_peak("cuda") on a torch without CUDA failed with torch's bare AssertionError.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device, words in (("cuda", "this torch has no usable CUDA device"),
                          ("meta", "unsupported device 'meta'; use cpu or cuda"),
                          ("tpu", "unknown device 'tpu'; use cpu or cuda")):
        with pytest.raises(CnnspaceError, match=words):
            gemm_peak(device, sizes=(8,))
