"""Review of measured metrics: benchmarking leaves the caller's state alone, its headline figures
say when they did not settle, and a module is only timed against FLOPs that are its own."""
import json

import pytest
import torch
from torch import nn

from cnnspace import CnnspaceError, analyze, from_torch, get_spec
from cnnspace.cli import main
from cnnspace.metrics import benchmark, time_calls
from cnnspace.nn import build

FAST = {"min_time_s": 0.02, "peak_sizes": (64,), "threads": 1}
SPEC = get_spec("squeezenet1_1", input="3x32x32")


def test_benchmarking_does_not_move_the_callers_random_numbers():
    # A seeded script that benchmarks and then trains must train the network it would have
    # trained without the benchmark: random inputs and weights come from a private generator.
    torch.manual_seed(0)
    unbenchmarked = torch.rand(3)
    torch.manual_seed(0)
    benchmark(SPEC, batches=(1, 2), train_batch=2, **FAST)
    assert torch.equal(torch.rand(3), unbenchmarked)


def test_json_headline_throughput_says_whether_its_timing_settled(capsys, monkeypatch):
    # The best frames/s of any backend and batch was printed as a settled figure even when its
    # batch is listed as unsettled.
    import cnnspace.metrics._measured as measured

    def unsettled_above_batch_1(fn, *args, **kwargs):
        timing = time_calls(fn, *args, **kwargs)
        return type(timing)(timing.samples_s, kwargs.get("warmup", 3) == 3)
    monkeypatch.setattr(measured, "time_calls", unsettled_above_batch_1)
    argv = ["bench", "squeezenet1_1", "--input", "3x32x32", "--backend", "torch", "--batch",
            "1,8", "--min-time", "0.02", "--peak-size", "64", "--train-batch", "0",
            "--threads", "1", "--format", "json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    backend = data["backends"][0]
    assert data["throughput_stable"] is (data["throughput_batch"] not in
                                         backend["unsettled_batches"])
    assert backend["unsettled_batches"] == [8]


class _Small(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(
            torch.relu(self.conv(x)), 1), 1))


def test_a_plain_module_of_another_network_is_refused_not_timed_against_the_specs_flops():
    spec = from_torch(_Small(8), (3, 16, 16))
    with pytest.raises(CnnspaceError, match="not the network of spec '_Small'.*MACs"):
        benchmark(spec, _Small(64), backends="torch", train_batch=0, **FAST)


def test_a_plain_module_that_does_not_take_the_specs_input_is_refused_in_one_line():
    spec = from_torch(_Small(8), (3, 16, 16))
    wrong_channels = _Small(8)
    wrong_channels.conv = nn.Conv2d(1, 8, 3, padding=1)
    with pytest.raises(CnnspaceError,
                       match=r"cannot run on the input of spec '_Small' \(3x16x16\): Given groups"):
        benchmark(spec, wrong_channels, backends="torch", train_batch=0, **FAST)


def test_a_built_module_for_other_classes_is_refused_though_its_layer_names_agree():
    spec = get_spec("squeezenet1_1", input="3x32x32", num_classes=7)
    with pytest.raises(CnnspaceError, match=f"spec counts {analyze(spec).totals.macs:,},"):
        benchmark(spec, build(SPEC), backends="torch", train_batch=0, **FAST)


def test_a_plain_module_that_is_the_specs_network_is_timed_and_left_as_it_was():
    module = _Small(8).train()
    spec = from_torch(module, (3, 16, 16))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    result = benchmark(spec, module, backends="torch", train_batch=2, **FAST)
    assert result.fastest.latency.median_s > 0 and result.train is not None
    assert module.training
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
