"""commbench: the memory of its processes, and what one timing of a collective is."""
import queue
import threading
from types import SimpleNamespace

import pytest
import torch

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.errors import CnnspaceError
from cnnspace.scale import CommBench, _commbench, _measure

TINY = get_spec("squeezenet1_1", input="3x32x32", num_classes=10)


@pytest.fixture
def eight_gb_and_no_spawning(monkeypatch):
    monkeypatch.setattr(_commbench, "available_memory", lambda: 8_000_000_000)

    def spawn(*args, **kwargs):
        raise AssertionError("no process may start")
    monkeypatch.setattr(_commbench._spawn, "run", spawn)


def test_many_processes_with_small_messages_are_refused_before_they_start(
        capsys, eight_gb_and_no_spawning):
    # 64 processes of torch (150 MB each) need 9.6 GB; their 1 MB messages 0.13 GB. Only the
    # messages were counted, so all 64 started, on a machine shared with other jobs.
    assert main(["commbench", "--nproc", "64", "--sizes", "0.1", "1"]) == 2
    err = capsys.readouterr().err
    assert ("--nproc 64 --sizes 1 MB: the processes would hold about 9.7 GB (9.6 GB of torch, "
            "0.1 GB for the messages), and this machine has 8.0 GB available") in err
    assert err.count("\n") == 1


class _Clock:
    """perf_counter for rank threads: each rank's repetitions last the durations it was given."""

    def __init__(self, durations_by_rank):
        self.durations, self.now = durations_by_rank, threading.local()

    def perf_counter(self):
        state = self.now.__dict__.setdefault("state", {"t": 0.0, "calls": 0})
        rank, calls = threading.current_thread().rank, state["calls"]
        if calls % 2:  # the end of a repetition
            durations = self.durations[rank]
            state["t"] += durations[(calls // 2) % len(durations)]
        state["calls"] += 1
        return state["t"]


def test_a_time_is_the_best_repetition_of_the_slowest_rank_not_each_ranks_best(monkeypatch):
    # rank 0 was fast in the first repetition, rank 1 in the second: no repetition took 1 ms on
    # both, so the best collective took 5 ms (each rank's best, 1 ms, was reported)
    durations = {0: [1e-3, 5e-3, 5e-3], 1: [5e-3, 1e-3, 5e-3]}
    exchange, met = {}, threading.Barrier(2)

    def slowest(seconds, device):  # torch.distributed's all_reduce(MAX) between the two threads
        exchange[threading.current_thread().rank] = list(seconds)
        met.wait()
        result = [max(pair) for pair in zip(exchange[0], exchange[1])]
        met.wait()
        return result
    monkeypatch.setattr(_commbench, "time", _Clock(durations))
    monkeypatch.setattr(_commbench._spawn, "slowest", slowest)
    monkeypatch.setattr(_commbench, "dist", SimpleNamespace(
        barrier=lambda: None, all_reduce=lambda t: None, send=lambda t, dst: None,
        recv=lambda t, src: None))
    results = queue.SimpleQueue()
    channel = SimpleNamespace(put=results.put)
    ranks = []
    for rank in (0, 1):
        thread = threading.Thread(target=_commbench._bench_worker,
                                  args=(rank, 2, torch.device("cpu"), channel, [4], 3, 0))
        thread.rank = rank
        ranks.append(thread)
        thread.start()
    for thread in ranks:
        thread.join(timeout=30)
    messages = [results.get_nowait() for _ in range(results.qsize())]
    [times] = [value for kind, value in messages if kind == "result"]
    assert times == {"allreduce": [pytest.approx(5e-3)], "parameter_server": [pytest.approx(5e-3)]}


def _saved_bench(backend: str) -> CommBench:
    return CommBench.from_json({"nproc": 2, "backend": backend, "threads": 1, "repeats": 3,
                                "patterns": {"allreduce": {"sizes_bytes": [1_000_000, 10_000_000],
                                                           "times_s": [0.0011, 0.0101]}}})


@pytest.mark.parametrize("backend, device", [("gloo", "cpu"), ("nccl", "cuda")])
def test_the_compute_step_is_timed_on_what_the_link_was_measured_between(monkeypatch, backend,
                                                                          device):
    # an NCCL link between GPUs beside a compute step timed on the CPU was no machine at all
    timed_on = []

    def step(spec, batch, threads, steps, warmup, device="cpu"):
        timed_on.append(device)
        return _measure.StepTime(0.01, 0.01)
    monkeypatch.setattr(_measure, "time_train_step", step)
    monkeypatch.setattr(_measure.torch.cuda, "is_available", lambda: True)
    preset = _measure.measure_preset(TINY, _saved_bench(backend), 4)
    assert timed_on == [device]
    assert f"images on {device}" in preset.device_sources[0]


def test_an_nccl_result_on_a_machine_without_gpus_is_refused_by_name(monkeypatch):
    monkeypatch.setattr(_measure.torch.cuda, "is_available", lambda: False)
    with pytest.raises(CnnspaceError, match="measured NCCL between GPUs, and this machine has no "
                                            "GPU to time the compute step on"):
        _measure.measure_preset(TINY, _saved_bench("nccl"), 4)
