"""commbench (real gloo collectives among 2 local processes), the alpha-beta fit, and a smoke test
of the DDP measurement harness behind benchmarks/ddp_prediction.py."""
import json

import pytest

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.errors import CnnspaceError
from cnnspace.scale import (CommBench, comm_coefficients, fit_alpha_beta, measure_preset,
                            parse_sizes_mb, run_commbench, time_ddp_step, time_train_step)

TINY = get_spec("squeezenet1_1", input="3x32x32", num_classes=10)


def test_fit_recovers_alpha_beta_and_stays_non_negative():
    sizes = [10_000, 100_000, 1_000_000, 10_000_000]
    a, b = 50e-6, 0.8e-9
    assert fit_alpha_beta(sizes, [a + b * n for n in sizes]) == pytest.approx((a, b))
    # a line that would need a negative latency is refitted through the origin
    intercept, slope = fit_alpha_beta(sizes, [b * n - 5e-6 if n > 10_000 else 1e-6 for n in sizes])
    assert intercept == 0.0 and slope > 0
    with pytest.raises(CnnspaceError, match="two different"):
        fit_alpha_beta([1000, 1000], [1e-3, 1e-3])
    with pytest.raises(CnnspaceError, match="grow"):
        fit_alpha_beta([1000, 10_000], [1e-3, 1e-4])


def test_sizes_are_megabytes_of_float32():
    assert parse_sizes_mb(["0.5", 5, "0.5"]) == [500_000, 5_000_000]
    for bad in ("x", "0", "-1"):
        with pytest.raises(CnnspaceError, match="--sizes"):
            parse_sizes_mb([bad, "1"])
    # from Python, a string or one number is sizes, not characters or an iteration error
    assert parse_sizes_mb("0.1 1,5") == [100_000, 1_000_000, 5_000_000]
    with pytest.raises(CnnspaceError, match="two different sizes, got 5 MB"):
        parse_sizes_mb(5)
    # one size (or two that round to one) cannot give a line: refused before anything runs
    with pytest.raises(CnnspaceError, match="--sizes: .* two different sizes, got 5 MB"):
        parse_sizes_mb(["5", "5.0000001"])


def saved(sizes_mb, times_ms, nproc=2, pattern="allreduce") -> dict:
    return {"nproc": nproc, "backend": "gloo", "threads": 1, "repeats": 3,
            "patterns": {pattern: {"sizes_bytes": [round(s * 1e6) for s in sizes_mb],
                                   "times_s": [t / 1e3 for t in times_ms]}}}


def test_a_fit_through_two_sizes_says_its_errors_prove_nothing():
    # two timings, however noisy, are fitted exactly: the 0% errors must not pass for a good fit
    two = CommBench.from_json(saved([0.01, 16], [0.2, 40.0]))
    assert two.fit("allreduce").relative_errors == pytest.approx((0, 0), abs=1e-9)
    [note] = two.notes()
    assert note.startswith("only 2 message sizes") and "at least 3 --sizes" in note
    assert two.to_json()["notes"] == [note]
    linear = CommBench.from_json(saved([0.1, 1, 5, 20, 50], [0.2 + 0.8 * s for s in
                                                             (0.1, 1, 5, 20, 50)]))
    assert linear.notes() == ()
    # enough sizes, but timings no line describes: the worst miss is named
    noisy = CommBench.from_json(saved([0.1, 1, 5, 20], [0.45, 2.1, 2.6, 33.0]))
    [note] = noisy.notes("allreduce")
    assert note.startswith("allreduce: the fitted line is off by") and "at 20 MB" in note


def test_commbench_prints_the_notes_beside_its_table(capsys, monkeypatch):
    import cnnspace.scale
    monkeypatch.setattr(cnnspace.scale, "run_commbench",
                        lambda *args, **kwargs: CommBench.from_json(saved([0.01, 16], [0.2, 40])))
    assert main(["commbench", "--sizes", "0.01", "16"]) == 0
    out, err = capsys.readouterr()
    assert "measured vs fitted" in out
    assert err.startswith("note: only 2 message sizes") and err.count("\n") == 1
    assert main(["commbench", "--sizes", "0.01", "16", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("pattern,nproc,size_bytes,time_s,fitted_s,relative_error,alpha_s,"
                        "beta_s_per_byte")
    assert lines[1].startswith("allreduce,2,10000,0.0002,") and len(lines) == 3
    # more processes than cores: they take turns on a core, which the timings include
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})  # pinned to 1 of its cores
    assert main(["commbench", "--sizes", "0.01", "16"]) == 0
    assert "note: 2 processes share 1 CPU core: the timings" in capsys.readouterr().err


@pytest.mark.parametrize("data, message", [
    ([1, 2], "expected a JSON object, got list"),
    ({"nproc": 2}, "no field 'backend', 'threads', 'repeats', 'patterns'"),
    (saved([1, 10], [1.1, 10.1], nproc=1), "field 'nproc': expected an integer >= 2, got 1"),
    (saved([1, 10], [1.1, 10.1], nproc="2"), "field 'nproc': expected an integer >= 2, got '2'"),
    ({**saved([1, 10], [1.1, 10.1]), "patterns": []}, "field 'patterns': expected an object"),
    (saved([1, 10], [1.1, 10.1], pattern="gossip"), "'patterns.gossip': unknown pattern"),
    ({**saved([1, 10], [1.1, 10.1]), "patterns": {"allreduce": None}},
     "'patterns.allreduce': expected 'sizes_bytes' and 'times_s'"),
    (saved([-1, 10], [1.1, 10.1]), "'sizes_bytes' must be positive integers, got -1000000"),
    (saved([1, 10], [1.1, float("nan")]), "allreduce: measured times must be finite numbers"),
    (saved([1, 10], [10, 1]), "allreduce: measured times do not grow with message size "
                              "\\(1 MB 10 ms, 10 MB 1 ms\\)"),
])
def test_a_saved_result_that_is_no_commbench_result_is_named(data, message):
    with pytest.raises(CnnspaceError, match=f"^x.json: .*{message}"):
        CommBench.from_json(data, "x.json")


def test_a_size_the_processes_cannot_hold_is_refused_before_they_start(monkeypatch):
    from cnnspace.scale import _commbench
    measured = _commbench.available_memory()  # this machine's, read from /proc/meminfo
    assert measured is None or measured > 0
    monkeypatch.setattr(_commbench, "available_memory", lambda: 1_000_000_000)

    def spawn(*args, **kwargs):
        raise AssertionError("no process may start")
    monkeypatch.setattr(_commbench._spawn, "run", spawn)
    # 2 processes: 5 x 400 MB = 2 GB and 2 x 150 MB of torch against 1 GB available
    with pytest.raises(CnnspaceError, match=r"--nproc 2 --sizes 400 MB: the processes would hold "
                                            r"about 2.3 GB \(0.3 GB of torch, 2.0 GB for the "
                                            r"messages\), and this machine has 1.0 GB available"):
        run_commbench(2, [0.1, 400], backend="gloo")


def test_a_pattern_whose_timings_do_not_grow_is_left_out_and_the_rest_kept(monkeypatch, capsys,
                                                                          tmp_path):
    # A disturbed parameter-server run stopped the whole command: the allreduce fit and the
    # -o file were lost with it.
    from cnnspace.scale import _commbench
    timings = {"allreduce": [1e-3, 2e-3, 11e-3], "parameter_server": [4e-3, 0.6e-3, 0.5e-3]}
    monkeypatch.setattr(_commbench._spawn, "run", lambda *args, **kwargs: timings)
    out = tmp_path / "bench.json"
    assert main(["commbench", "--sizes", "0.1", "1", "10", "--format", "json", "-o",
                 str(out)]) == 0
    saved = json.loads(out.read_text())
    assert list(saved["patterns"]) == ["allreduce"]
    assert any(n.startswith("no fit: parameter_server: measured times do not grow")
               for n in saved["notes"])
    assert "note: no fit: parameter_server" in capsys.readouterr().err
    assert CommBench.from_json(saved, str(out)).fit("allreduce").beta_s_per_byte > 0
    timings["allreduce"] = [5e-3, 1e-3, 0.9e-3]  # neither grows: nothing to keep
    with pytest.raises(CnnspaceError, match="allreduce: measured times do not grow.*; "
                                            "parameter_server: measured times do not grow"):
        run_commbench(2, [0.1, 1, 10], backend="gloo")


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory):
    """One real run through the CLI: 2 gloo processes, a small and a 16 MB message."""
    out = tmp_path_factory.mktemp("commbench") / "bench.json"
    assert main(["commbench", "--nproc", "2", "--sizes", "0.01", "16", "--repeats", "3",
                 "--format", "json", "-o", str(out)]) == 0
    return json.loads(out.read_text())


def test_commbench_measures_and_fits_both_patterns(bench_json):
    assert bench_json["nproc"] == 2 and bench_json["backend"] == "gloo"
    assert set(bench_json["patterns"]) == {"allreduce", "parameter_server"}
    assert bench_json["notes"][0].startswith("only 2 message sizes")
    for pattern in bench_json["patterns"].values():
        small, large = pattern["times_s"]
        assert 0 < small < large  # 1600x the bytes takes longer on any machine
        assert len(pattern["relative_errors"]) == 2
        assert pattern["slope_s_per_byte"] > 0 and pattern["intercept_s"] >= 0
    bench = CommBench.from_json(bench_json)
    allreduce = bench.fit("allreduce")
    m, k = comm_coefficients("ring", 2)  # 2 processes: ring cost = 2 alpha + beta x bytes
    assert allreduce.alpha_s * m == pytest.approx(allreduce.intercept_s)
    assert allreduce.beta_s_per_byte * k == pytest.approx(allreduce.slope_s_per_byte)
    server = bench.fit("parameter_server")  # 2 processes: 2 messages of |W| through the server
    assert server.beta_s_per_byte == pytest.approx(server.slope_s_per_byte / 2)


def test_commbench_rejects_bad_input(capsys, tmp_path):
    assert main(["commbench", "--nproc", "1"]) == 2
    assert "--nproc" in capsys.readouterr().err
    with pytest.raises(CnnspaceError, match="not a commbench result"):
        CommBench.from_json({"nproc": 2}, "x.json")
    assert main(["commbench", "--sizes", "5"]) == 2
    assert "--sizes" in capsys.readouterr().err
    # an output that cannot be written is refused before the measurements, not after
    assert main(["commbench", "-o", str(tmp_path)]) == 2
    assert f"-o {tmp_path} is a folder" in capsys.readouterr().err
    # each count named alone, not 'repeats must be >= 1 and warmup >= 0, got 0, 1', in one line
    # (the progress bar's end left an empty one before it)
    assert main(["commbench", "--repeats", "0"]) == 2
    assert capsys.readouterr().err == ("cnnspace commbench: error: --repeats must be an integer "
                                       ">= 1, got 0\n")
    assert main(["commbench", "--warmup", "-1"]) == 2
    assert "--warmup must be an integer >= 0, got -1" in capsys.readouterr().err


def test_measured_preset_and_ddp_harness(bench_json):
    step = time_train_step(TINY, batch=4, threads=1, steps=1, warmup=1)
    assert step.wall_s > 0 and step.cpu_s > 0
    preset = measure_preset(TINY, CommBench.from_json(bench_json), batch_per_worker=4, steps=1,
                            warmup=1)
    assert preset.name == "measured" and preset.device.flops > 0
    allreduce = CommBench.from_json(bench_json).fit("allreduce")
    assert preset.link.beta_s_per_byte == allreduce.beta_s_per_byte
    with pytest.raises(CnnspaceError, match="bench must be a CommBench .* got dict"):
        measure_preset(TINY, bench_json, batch_per_worker=4)
    ddp = time_ddp_step(TINY, batch_per_worker=4, nproc=2, threads=1, steps=1, warmup=1)
    assert ddp.wall_s > 0 and ddp.cpu_s > 0
