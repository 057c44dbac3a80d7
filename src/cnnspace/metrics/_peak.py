"""The device's peak FLOP/s, measured: the best of large square GEMMs on the same device, dtype
and thread count the network runs with. Several GEMM engines are tried because they differ by
tens of percent on one CPU (on this project's AVX-512 machine MKL's default dispatch stayed well
below onnxruntime's MLAS), and "peak" means the best this machine is shown to reach."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .._threads import torch_threads
from ..errors import CnnspaceError
from ..nn import INPUT_NAME, ONNX_MAX_BYTES, onnx_bytes, ort_session
from ._backends import timing_device, unavailable_reason
from ._memory_need import free_memory
from ._timing import time_calls

CPU_SIZES = (1024, 2048)
GPU_SIZES = (4096, 8192)


@dataclass(frozen=True)
class Peak:
    """The best measured GEMM speed: ``flops`` in FLOP/s (not a count), by ``engine``."""
    flops: float           # FLOP/s of the best GEMM
    engine: str            # which GEMM reached it, e.g. "torch.mm" or "onnxruntime MatMul"
    size: int              # n of the n x n x n GEMM (2 n^3 FLOPs)
    device: str
    dtype: str
    threads: int
    by_engine: dict[str, float]  # best FLOP/s of each engine tried

    def to_json(self) -> dict:
        return {"flops": self.flops, "engine": self.engine, "size": self.size,
                "device": self.device, "dtype": self.dtype, "threads": self.threads,
                "by_engine": self.by_engine}


def _torch_gemm(n: int, device: torch.device, dtype: torch.dtype):
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    return lambda: torch.mm(a, b, out=out)


class _MatMul(torch.nn.Module):
    outputs = ("output",)  # named: onnx_bytes would otherwise run a whole GEMM to count them

    def __init__(self, n: int):
        super().__init__()
        self.b = torch.nn.Parameter(torch.randn(n, n), requires_grad=False)

    def forward(self, a):
        return a @ self.b


def _ort_gemm(n: int, threads: int):
    """onnxruntime's MatMul with a constant right operand, as an exported network has; None
    where that operand is too large for an ONNX file."""
    if 4 * n * n > ONNX_MAX_BYTES:
        return None
    session = ort_session(onnx_bytes(_MatMul(n), (n, n)), threads)
    a = torch.randn(1, n, n).numpy()
    return lambda: session.run(None, {INPUT_NAME: a})


def _convolutions_use_tf32(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether cuDNN runs this float32 network's convolutions on TF32 tensor cores, as PyTorch
    does by default while its matrix products stay IEEE float32: a peak of IEEE GEMMs alone
    would set TF32 work against a ceiling several times lower, and % of peak would overstate it
    as much."""
    return (device.type == "cuda" and dtype == torch.float32
            and torch.backends.cudnn.conv.fp32_precision == "tf32")


def _tf32(gemm):
    """``gemm`` with TF32 matrix products allowed during each call; torch's setting is put back
    after it (through the same API: mixing torch's two TF32 APIs makes its getters raise)."""
    matmul = torch.backends.cuda.matmul

    def call():
        kept = matmul.fp32_precision
        matmul.fp32_precision = "tf32"
        try:
            return gemm()
        finally:
            matmul.fp32_precision = kept
    return call


def _cpu_has_bf16_gemm() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (oneDNN with AVX512-BF16 or AMX).
    Without, torch.mm in bfloat16 takes a scalar path: 0.27 against 21.6 GFLOP/s in float32 at
    n = 1024 on an AVX2 EPYC, a minute a call at 2048, while oneDNN runs the network's bfloat16
    convolutions on the float32 units, converting (449% of that "peak" here)."""
    is_supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return is_supported is None or is_supported()  # an unknown torch: timed as before


def _engines(device: torch.device, dtype: torch.dtype, threads: int):
    yield "torch.mm", lambda n: _torch_gemm(n, device, dtype)
    if _convolutions_use_tf32(device, dtype):
        yield "torch.mm TF32", lambda n: _tf32(_torch_gemm(n, device, dtype))
    if (device.type == "cpu" and dtype == torch.float32
            and unavailable_reason("onnxruntime", device) is None):
        yield "onnxruntime MatMul", lambda n: _ort_gemm(n, threads)


def _sync(device: torch.device):
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def _gemm(make, n: int, device: torch.device, dtype: torch.dtype):
    """``make(n)``; a failure (its matrices not fitting in memory) names the GEMM's size, since
    the network is not what ran out of memory."""
    size = 3 * n * n * torch.empty((), dtype=dtype).element_size()

    def refuse(reason: str) -> CnnspaceError:
        return CnnspaceError(f"peak size {n}: cannot set up the {n} x {n} GEMM measuring peak "
                             f"FLOP/s on {device} (three matrices, {size / 1e9:.3g} GB): {reason}")

    free = free_memory(device)
    if free is not None and size > free:  # asked first: an overcommitting kernel would kill us
        raise refuse(f"{device} has {free / 1e9:.3g} GB free")
    try:
        return make(n)
    except (MemoryError, RuntimeError) as e:
        raise refuse(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                     ) from None


def gemm_peak(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
              threads: int | None = None, sizes: tuple[int, ...] | None = None,
              min_time_s: float = 0.3) -> Peak:
    """Runs the GEMMs with torch's thread count set to ``threads`` (restored afterwards)."""
    device = timing_device(device)
    sizes = sizes or (GPU_SIZES if device.type == "cuda" else CPU_SIZES)
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        raise CnnspaceError(f"peak GEMM sizes must be positive integers, got {sizes!r}")
    # bfloat16 work where the CPU has no bfloat16 GEMM runs on its float32 units: their GEMMs
    # are its ceiling, and the engines' names say so
    gemm_dtype, named = dtype, ""
    if device.type == "cpu" and dtype == torch.bfloat16 and not _cpu_has_bf16_gemm():
        gemm_dtype, named = torch.float32, " float32 (no bfloat16 GEMM on this CPU)"
    with torch_threads(threads) as threads:
        by_engine: dict[str, tuple[float, int]] = {}
        for engine, make in _engines(device, gemm_dtype, threads):
            engine += named
            for n in sizes:
                gemm = _gemm(make, n, device, gemm_dtype)
                if gemm is None:  # this engine cannot run a GEMM this large
                    continue
                timing = time_calls(gemm, _sync(device), warmup=2, min_repeats=3,
                                    min_time_s=min_time_s, max_time_s=min_time_s)
                flops = 2 * n ** 3 / min(timing.samples_s)  # peak: the fastest run
                if flops > by_engine.get(engine, (0.0, 0))[0]:
                    by_engine[engine] = (flops, n)
    engine, (flops, n) = max(by_engine.items(), key=lambda kv: kv[1][0])
    return Peak(flops, engine, n, str(device), str(dtype).removeprefix("torch."), threads,
                {k: v[0] for k, v in by_engine.items()})
