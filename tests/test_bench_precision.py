"""`bench --precision bf16`: forward passes in bfloat16 against the peak of bfloat16 GEMMs, the
training step under autocast as `train --precision bf16` runs it, the caller's model unchanged."""
import json

import pytest
import torch

from cnnspace import CnnspaceError, analyze, get_spec
from cnnspace.cli import main
from cnnspace.metrics import benchmark
from cnnspace.nn import build

FAST = {"min_time_s": 0.02, "peak_sizes": (128,)}
TINY = get_spec("firenet", num_classes=5, input=(3, 24, 24), base_e=16, incr_e=16, num_fire=2,
                conv1_filters=16, pool_after=["conv1"], batchnorm=True)


class DtypeLog:
    """The dtypes conv1 computed in, in eval and in training mode."""

    def __init__(self):
        self.seen: set[tuple[bool, torch.dtype]] = set()

    def __call__(self, module, inputs, output):
        self.seen.add((module.training, output.dtype))


def test_bf16_runs_forward_passes_and_the_training_step_in_bfloat16(monkeypatch):
    log = DtypeLog()
    real_deepcopy = __import__("copy").deepcopy

    def deepcopy_logging(obj, *args):  # every copy the benchmark times reports its conv1
        copied = real_deepcopy(obj, *args)
        if hasattr(copied, "layers") and "conv1" in getattr(copied, "layers", {}):
            copied.layers["conv1"].register_forward_hook(log)
        return copied
    monkeypatch.setattr("copy.deepcopy", deepcopy_logging)
    module = build(TINY)
    result = benchmark(TINY, module, batches=(2,), threads=1, train_batch=2, precision="bf16",
                       backends=("torch", "torch_channels_last"), **FAST)
    assert log.seen == {(False, torch.bfloat16), (True, torch.bfloat16)}
    assert result.peak.dtype == "bfloat16" and result.to_json()["dtype"] == "bfloat16"
    assert result.train is not None and result.layers
    flops = analyze(TINY).totals.flops
    for b in result.backends:
        assert b.pct_of_peak == pytest.approx(100 * flops / b.latency.median_s / result.peak.flops)
    # The caller's module is untouched.
    assert {p.dtype for p in module.parameters()} == {torch.float32}


def test_onnxruntime_is_fp32_only():
    with pytest.raises(CnnspaceError, match="backend onnxruntime: onnxruntime runs the fp32 "
                                            "export only"):
        benchmark(TINY, backends="onnxruntime", precision="bf16", **FAST)
    result = benchmark(TINY, train_batch=0, per_layer=False, precision="bf16", **FAST)
    assert result.unavailable["onnxruntime"] == "onnxruntime runs the fp32 export only"
    assert [b.name for b in result.backends] == ["torch", "torch_channels_last"]


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(CnnspaceError, match="precision must be one of fp32, bf16, got 'fp16'"):
        benchmark(TINY, backends="torch", precision="fp16", **FAST)


def test_the_cli_table_and_json_say_bfloat16(capsys):
    args = ["bench", "squeezenet1_1", "--input", "3x32x32", "--backend", "torch", "--batch", "1",
            "--train-batch", "0", "--min-time", "0.02", "--peak-size", "128", "--precision",
            "bf16"]
    assert main(args + ["--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["dtype"] == "bfloat16"
    assert main(args) == 0
    assert "bfloat16" in capsys.readouterr().out
