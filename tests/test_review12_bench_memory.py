"""bench holds the weights once per backend (each makes its own copy): the memory check asks for
each copy before it is made, a backend not kept for the layers and the training step lets its
copy go, and the training step trains the kept copy rather than one more. Counted once, a
network whose weights took a quarter of free memory passed the check, and an overcommitting
kernel then killed the process without a word (`bench vgg16` peaked at 4 copies here)."""
from __future__ import annotations

import gc
import weakref

import pytest
import torch

from cnnspace import CnnspaceError, analyze, get_spec
from cnnspace.metrics import _measured, _memory_need, benchmark
from cnnspace.metrics._memory_need import batch_memory
from cnnspace.nn import build

FAST = {"min_time_s": 0.02, "peak_sizes": (128,)}
NET = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))


def test_a_backends_copy_of_the_weights_is_asked_for_before_it_is_made(monkeypatch):
    weights = analyze(NET).totals.params * 4
    free = {"bytes": 10 ** 12}
    monkeypatch.setattr(_memory_need, "available_memory", lambda: free["bytes"])
    real_peak = _measured.gemm_peak

    def peak_then_less_free(*args, **kwargs):  # as if the copies before took the rest
        peak = real_peak(*args, **kwargs)
        free["bytes"] = batch_memory(NET, 1, training=False) + weights - 1
        return peak
    monkeypatch.setattr(_measured, "gemm_peak", peak_then_less_free)
    with pytest.raises(CnnspaceError, match=r"a forward pass of 1 image of squeezenet1_1 .* "
                                            r"for its weights .* give a smaller batch"):
        benchmark(NET, batches=1, backends="torch", train_batch=0, **FAST)
    free["bytes"] = 10 ** 12
    with pytest.raises(CnnspaceError, match=r"no backend could run: .*; torch: a forward pass"):
        benchmark(NET, batches=1, train_batch=0, **FAST)


def test_a_backend_once_timed_lets_its_copy_go_unless_it_is_the_fastest_torch_one(monkeypatch):
    alive_when_made, made = [], []
    real = _measured.make_runner

    def tracked(*args, **kwargs):
        gc.collect()
        alive_when_made.append(sum(r() is not None for r in made))
        runner = real(*args, **kwargs)
        made.append(weakref.ref(runner))
        return runner

    monkeypatch.setattr(_measured, "make_runner", tracked)
    result = benchmark(NET, batches=1, backends=("torch", "torch_channels_last", "onnxruntime"),
                       per_layer=False, train_batch=0, **FAST)
    assert len(result.backends) == 3
    assert alive_when_made == [0, 1, 1]  # only the faster torch backend's, for layers and step


def test_the_training_step_trains_the_kept_backends_copy_not_one_more(monkeypatch):
    runners, stepped = [], []
    real_runner, real_sgd = _measured.make_runner, torch.optim.SGD
    monkeypatch.setattr(_measured, "make_runner",
                        lambda *a, **k: runners.append(real_runner(*a, **k)) or runners[-1])
    monkeypatch.setattr(torch.optim, "SGD",
                        lambda params, **k: stepped.append(list(params)) or real_sgd(stepped[-1],
                                                                                     **k))
    result = benchmark(NET, batches=(1, 2), backends="torch", per_layer=False, **FAST)
    assert result.train is not None and result.train.batch == 2
    kept = {p.data_ptr() for p in runners[0].module.parameters()}
    assert {p.data_ptr() for p in stepped[0]} == kept


def test_a_module_passed_in_is_refused_before_its_first_copy_when_that_cannot_fit(monkeypatch):
    weights = analyze(NET).totals.params * 4
    monkeypatch.setattr(_memory_need, "available_memory",
                        lambda: batch_memory(NET, 1, training=False) + weights - 1)
    monkeypatch.setattr(_measured, "copy_module", lambda module: pytest.fail("copied first"))
    with pytest.raises(CnnspaceError, match=r"a forward pass of 1 image .* for its weights"):
        benchmark(NET, build(NET), batches=1, backends="torch", train_batch=0, **FAST)


def test_on_a_gpu_memory_torch_caches_unused_counts_as_free(monkeypatch):
    # a backend's copy let go stays reserved by torch's allocator, out of the driver's count:
    # the next backend would be refused memory that torch gives it at once
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (3 * 2 ** 30, 80 * 2 ** 30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 50 * 2 ** 30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 20 * 2 ** 30)
    assert _memory_need.free_memory(torch.device("cuda")) == 33 * 2 ** 30
