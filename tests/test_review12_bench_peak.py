"""bf16's peak on a CPU without bfloat16 GEMM instructions: torch.mm in bfloat16 there takes a
scalar path (0.27 GFLOP/s at n = 1024 on this AVX2 EPYC, against 21.6 in float32) while the
network's bfloat16 convolutions run on the float32 units, so `bench --precision bf16` reported
449% of "peak", advised rerunning on an idle machine, and spent minutes on the 2048^3 GEMM."""
import torch

from cnnspace.metrics import _peak, gemm_peak


def test_bf16_work_on_a_cpu_without_bf16_gemm_is_set_against_its_float32_gemm(monkeypatch):
    timed = []
    real = _peak._torch_gemm
    monkeypatch.setattr(_peak, "_torch_gemm",
                        lambda n, device, dtype: timed.append(dtype) or real(n, device, dtype))
    for native, dtype, named in ((False, torch.float32, " float32 (no bfloat16 GEMM on this CPU)"),
                                 (True, torch.bfloat16, "")):
        monkeypatch.setattr(_peak, "_cpu_has_bf16_gemm", lambda: native, raising=False)
        timed.clear()
        peak = gemm_peak("cpu", torch.bfloat16, threads=1, sizes=(64,), min_time_s=0.01)
        assert timed == [dtype]
        assert "torch.mm" + named in peak.by_engine and peak.engine in peak.by_engine
        assert all(engine.endswith(named) for engine in peak.by_engine)
        assert peak.dtype == "bfloat16"  # the network's, which the peak is set against
