"""A J/frame figure in bench's table says where it comes from and what it covers: RAPL and NVML
count the whole package or GPU (idle power and other processes included), and the table gave
the number with no source, where the JSON said only energy_source "RAPL"."""
import json
import time

import pytest

from cnnspace.cli import main


@pytest.mark.parametrize("source, covers", [
    ("RAPL", "the CPU packages' RAPL counters: whole packages, idle power and other processes' "
             "work included"),
    ("NVML", "the GPU's NVML counter: the whole GPU, idle power and other processes' work "
             "included")])
def test_the_table_says_what_a_joules_per_frame_figure_measured(capsys, monkeypatch, source,
                                                                covers):
    import cnnspace.metrics._measured as measured

    class Meter:  # 10 W: joules grow with the time spent
        name = source
        joules = staticmethod(lambda: 10 * time.perf_counter())
    monkeypatch.setattr(measured, "energy_meter", lambda device: (Meter(), None))
    assert main(["bench", "squeezenet1_1", "--input", "3x32x32", "--backend", "torch",
                 "--batch", "1", "--train-batch", "0", "--min-time", "0.02", "--peak-size", "64",
                 "--threads", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"J/frame: measured (never estimated) while batch 1 ran, from {covers}" in out
    assert "energy per frame: unavailable" not in out


def test_json_says_what_the_energy_counter_covers(capsys, monkeypatch):
    import cnnspace.metrics._measured as measured

    class Meter:
        name = "RAPL"
        joules = staticmethod(lambda: 10 * time.perf_counter())
    monkeypatch.setattr(measured, "energy_meter", lambda device: (Meter(), None))
    assert main(["bench", "squeezenet1_1", "--input", "3x32x32", "--backend", "torch",
                 "--batch", "1", "--train-batch", "0", "--min-time", "0.02", "--peak-size", "64",
                 "--threads", "1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["energy_source"] == "RAPL" and data["energy_j_per_frame"] > 0
    assert data["energy_covers"].startswith("the CPU packages' RAPL counters: whole packages")


def test_energy_is_read_over_long_enough_for_the_counters_steps(monkeypatch):
    # NVML's counter advances about every 10 ms: read over --min-time 0.02, one step more or
    # less was half the reading, and J/frame came out anywhere from 0.5x to 1.5x
    import cnnspace.metrics._measured as measured
    from cnnspace import get_spec
    from cnnspace.metrics import benchmark

    reads = []

    class Stepped:  # 10 W, in 10 ms steps
        name = "NVML"

        @staticmethod
        def joules():
            reads.append(time.perf_counter())
            return 10 * (reads[-1] // 0.01) * 0.01
    monkeypatch.setattr(measured, "energy_meter", lambda device: (Stepped(), None))
    result = benchmark(get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32)),
                       batches=1, backends="torch", per_layer=False, train_batch=0,
                       min_time_s=0.02, peak_sizes=(64,))
    assert result.fastest.energy_j_per_frame > 0
    assert len(reads) == 2 and reads[1] - reads[0] >= 0.5  # a step is at most 2% of it
