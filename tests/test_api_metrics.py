"""cnnspace.metrics results print short and serialise to JSON."""
import json

from cnnspace.metrics import BenchResult, Peak, Timing
from cnnspace.metrics._measured import BackendResult


def _result():
    backend = BackendResult("torch", Timing((0.002, 0.003, 0.004), True), {1: 300.0, 8: 500.0},
                            1e9, 5.0, None)
    peak = Peak(2e10, "torch.mm", 1024, "cpu", "float32", 2, {"torch.mm": 2e10})
    return BenchResult("tiny", (3, 32, 32), "cpu", 2, 1000, peak, (backend,), {}, None, (),
                       None, "no training", None, "no meter")


def test_bench_result_repr_is_its_headline():
    assert repr(_result()) == ("BenchResult(model='tiny', input=(3, 32, 32), device='cpu', "
                               "threads=2, fastest='torch' 3 ms, backends=<1>, "
                               "layers=<0 LayerTiming>)")
    json.dumps(_result().to_json())


def test_benchmark_takes_one_batch_or_backend_and_checks_them_before_measuring():
    import pytest

    from cnnspace import CnnspaceError, get_spec
    from cnnspace.metrics import benchmark
    spec = get_spec("squeezenet1_1", input="3x32x32")
    with pytest.raises(CnnspaceError, match="unknown backend 'tensorrt'"):  # not 't'
        benchmark(spec, batches=8, backends="tensorrt")
    for batches in (None, "8", [0]):
        with pytest.raises(CnnspaceError, match="batches must be positive integers"):
            benchmark(spec, batches=batches)
