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
