"""cnnspace.scale from Python with numpy's numbers (a sweep written with np.arange), and misuse
that must be one CnnspaceError, not a KeyError, TypeError or ZeroDivisionError."""
import json

import numpy as np
import pytest

from cnnspace import CnnspaceError, get_spec
from cnnspace._cpus import available_cpus
from cnnspace.scale import (Device, Interconnect, NetworkCosts, Recipe, _spawn,
                            calibrate_efficiency, check_workers_share_batch, comm_coefficients,
                            comm_time, fit_alpha_beta, fit_pattern, get_preset, parallelism_comm,
                            parse_sizes_mb, predict, run_commbench, time_ddp_step,
                            time_train_step)

TITAN = get_preset("titan-k20x")
SPEC = get_spec("squeezenet1_1")
COSTS = NetworkCosts.of(SPEC)
TINY = get_spec("squeezenet1_1", input="3x32x32", num_classes=10)


def titan(workers, recipe=TITAN.recipe):
    return predict(COSTS, TITAN.device, TITAN.link, recipe, TITAN.baseline, workers)


@pytest.mark.parametrize("workers", [
    [2**i for i in np.arange(8)],  # np.int64 counts in a list
    2 ** np.arange(8),             # an array
    np.array([1, 2, 4, 8, 16, 32, 64, 128], dtype=np.int32),
])
def test_numpy_worker_counts_predict_what_python_ints_do(workers):
    expected = titan([1, 2, 4, 8, 16, 32, 64, 128])
    result = titan(workers)
    assert result.rows == expected.rows
    assert all(type(r.workers) is int for r in result.rows)
    json.dumps(result.to_json())  # np.int64 is no JSON


def test_one_numpy_worker_count_is_one_prediction():
    assert titan(np.int64(32)).rows == titan(32).rows
    assert comm_coefficients("reduction_tree", np.int32(5)) == (6.0, 6.0)
    assert comm_time("ring", np.int64(4), 1e6, TITAN.link) == comm_time("ring", 4, 1e6,
                                                                         TITAN.link)
    check_workers_share_batch([np.int64(8)], 8)
    with pytest.raises(CnnspaceError, match="workers 16: 16 workers cannot share"):
        check_workers_share_batch([np.int64(16)], 8)


def test_numpy_numbers_make_the_same_recipe_device_link_and_costs():
    recipe = Recipe(np.int64(1024), np.float32(72), np.int64(1_281_167))
    assert recipe == TITAN.recipe and type(recipe.batch) is int and type(recipe.epochs) is float
    assert Interconnect(np.float32(0.5), np.float64(0.25)) == Interconnect(0.5, 0.25)
    assert Device("d", np.float32(2e12), np.float32(0.5)).flops == pytest.approx(1e12)
    # an np.int64 gradient size was "the network has no parameters"
    assert NetworkCosts("n", np.int64(4000), np.int64(9000)) == NetworkCosts("n", 4000, 9000)
    json.dumps(titan([1, 32], recipe).to_json())


def test_numpy_batch_gives_a_parallelism_comparison_json_can_write():
    comm = parallelism_comm(SPEC, np.int64(1024), np.int64(32))
    assert comm == parallelism_comm(SPEC, 1024, 32)
    assert type(comm.model_parallel_bytes_layer_inputs) is int
    json.dumps(comm.to_json())


def test_numpy_sizes_and_timings_fit_as_python_ones():
    sizes = np.array([100_000, 1_000_000, 5_000_000])
    times = (20e-6 + 1e-9 * sizes).astype(np.float32)  # timings kept as float32
    fit = fit_pattern("allreduce", np.int64(2), sizes, times)
    assert fit.beta_s_per_byte == pytest.approx(1e-9, rel=1e-3)
    assert fit.alpha_s == pytest.approx(10e-6, rel=1e-2)  # the ring's 2 (N - 1) = 2 latencies
    assert parse_sizes_mb(np.array([0.1, 1.0])) == [100_000, 1_000_000]
    # one numpy number is one size (it was iterated: TypeError)
    with pytest.raises(CnnspaceError, match="two different sizes, got 5 MB"):
        parse_sizes_mb(np.float32(5))


def test_numpy_counts_time_a_training_step():
    step = time_train_step(TINY, np.int64(2), np.int64(1), steps=np.int64(1), warmup=np.int64(0))
    assert step.wall_s > 0


@pytest.mark.parametrize("call, message", [
    (lambda: fit_pattern("ps", 2, [1000, 2000, 4000], [1e-3, 2e-3, 4e-3]),
     "unknown pattern 'ps'; choose from allreduce, parameter_server"),  # was a KeyError
    (lambda: fit_pattern("allreduce", 1, [1000, 2000, 4000], [1e-3, 2e-3, 4e-3]),
     "nproc must be an integer from 2 to 2,147,483,647, got 1"),  # was a ZeroDivisionError
    (lambda: fit_alpha_beta([1000, 2000, 4000], [1e-3, 2e-3]), "of equal length"),
    (lambda: fit_alpha_beta([1000, -2000, 4000], [1e-3, 2e-3, 4e-3]),
     "message sizes must be finite numbers of bytes > 0, got -2000"),
    (lambda: parse_sizes_mb(None), "--sizes takes sizes in MB, got None"),  # was a TypeError
    (lambda: parse_sizes_mb([True, 2]), "--sizes takes sizes in MB, got True"),  # was 1 MB
    (lambda: predict(COSTS, TITAN.device, TITAN.link, TITAN.recipe, TITAN.baseline, [1], 3),
     "strategies must be a list of names"),  # was a TypeError
    (lambda: calibrate_efficiency(COSTS, TITAN.baseline, 0, 1e12),
     "seconds must be a finite number > 0, got 0"),  # was a ZeroDivisionError
    (lambda: comm_time("ring", 4, "1e6", TITAN.link),
     "nbytes must be a finite number of bytes >= 0, got '1e6'"),  # was a TypeError
    (lambda: Interconnect(True, 1e-9), "alpha must be a finite number"),  # was 1 s a message
])
def test_misuse_is_one_clear_error(call, message):
    with pytest.raises(CnnspaceError, match=message.replace("(", "\\(").replace(")", "\\)")):
        call()


@pytest.fixture
def no_spawning(monkeypatch):
    def spawn(*args, **kwargs):
        raise AssertionError("no process may start")
    monkeypatch.setattr(_spawn.mp, "spawn", spawn)


def test_thread_counts_that_would_crash_every_process_are_refused_before_spawning(no_spawning):
    # the command's --threads is checked; from Python, 100,000 threads reached every process
    too_many = available_cpus() + 1
    with pytest.raises(CnnspaceError, match=f"threads: expected .*, got {too_many}"):
        run_commbench(2, [0.001, 0.002], repeats=1, threads=too_many)
    with pytest.raises(CnnspaceError, match=f"threads: expected .*, got {too_many}"):
        time_ddp_step(TINY, 2, 2, threads=too_many)


def test_recipe_check_takes_numpy_numbers_as_the_recipe_does():
    # the check the command line runs on its flags, called from Python with a numpy sweep
    Recipe.check(np.int64(1024), np.float32(72), np.int64(1_281_167))
    with pytest.raises(CnnspaceError, match="batch must be a positive integer, got 0"):
        Recipe.check(np.int64(0), 72, 1000)


@pytest.mark.parametrize("sizes", [[], "", " , "])
def test_no_sizes_at_all_are_said_to_be_none(sizes):
    with pytest.raises(CnnspaceError, match="two different sizes, got none \\(default"):
        parse_sizes_mb(sizes)  # it said "got  MB"


@pytest.mark.parametrize("images, seconds, message", [
    (64, 0, "seconds must be a finite number > 0, got 0"),  # was a ZeroDivisionError
    ("64", 1.0, "images must be a positive integer, got '64'"),  # was a TypeError
    (0, 1.0, "images must be a positive integer, got 0"),  # was "device FLOP/s ... got 0.0"
])
def test_a_timed_device_names_the_bad_timing(images, seconds, message):
    with pytest.raises(CnnspaceError, match=f"Device.timed: {message}"):
        Device.timed("step", COSTS, images, seconds)
    assert Device.timed("step", COSTS, np.int64(64), np.float32(0.5)).flops \
        == pytest.approx(COSTS.train_flops_per_image * 128)


def test_default_threads_share_the_cpus_this_process_may_use(monkeypatch, no_spawning):
    # a 16-core machine, this process pinned to 2 of them (taskset, a container's cpuset): 8
    # threads for each of 2 processes was the default, which the thread check now refuses
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert _spawn.default_threads(2) == 1
    with pytest.raises(AssertionError, match="no process may start"):  # not refused: spawned
        run_commbench(2, [0.001, 0.002], repeats=1)
