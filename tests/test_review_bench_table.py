"""Review of `cnnspace bench`'s table: every time it prints says which statistic it is."""
import json

import pytest

from cnnspace.cli import main


def test_the_table_names_the_statistic_of_every_time(capsys):
    # The layer table's "ms" and the training step's "21.6 ms" were medians without saying so,
    # and the peak is a GEMM's fastest run, where the network's figures are medians.
    assert main(["bench", "squeezenet1_1", "--input", "3x32x32", "--backend", "torch",
                 "--batch", "1,2", "--train-batch", "2", "--min-time", "0.02",
                 "--peak-size", "64", "--threads", "1", "--top", "3"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # as wrapped to any console width
    assert "frames/s = batch / median time" in out
    assert "64^3 GEMM, fastest run)" in out
    assert "┃ median ms ┃ % time ┃" in out
    assert "training step at batch 2 (torch): median " in out


@pytest.mark.parametrize("scale, warning", [
    (100.0, "! layers: their times add up to"), (0.01, "! layers: the median latency of torch is")])
def test_layer_times_far_from_the_pass_are_flagged(capsys, monkeypatch, scale, warning):
    # On this shared machine the layers' times once added up to 221 ms for a 4.3 ms forward
    # pass, and another time to 4.0 ms for a 12.3 ms one ("stable", three runs in a row), and
    # the table showed them as they were. On an idle machine the sum is about the whole (hooks
    # enclose each layer): 0.82-1.06x.
    import cnnspace.metrics._measured as measured
    real = measured.layer_times
    monkeypatch.setattr(measured, "layer_times", lambda *args, **kwargs: {
        name: seconds * scale for name, seconds in real(*args, **kwargs).items()})
    argv = ["bench", "squeezenet1_1", "--input", "3x32x32", "--backend", "torch",
            "--train-batch", "0", "--min-time", "0.02", "--peak-size", "64", "--threads", "1"]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    for flag in ("! layers: their times add up to", "! layers: the median latency of torch is"):
        assert (flag in out) is (flag == warning)
    assert "the median latency of torch" in out and "rerun it on an idle machine" in out
    assert main([*argv, "--format", "json"]) == 0
    ratio = json.loads(capsys.readouterr().out)["layers_over_latency"]
    assert (ratio > 2, ratio < 0.5) == (scale > 1, scale < 1)


@pytest.mark.parametrize("batch_8_s, warned", [(1e-6, True), (10.0, False)])
def test_a_batch_timed_faster_than_one_frame_is_flagged(capsys, monkeypatch, batch_8_s, warned):
    # Here a tiny network's batch 1 was timed at 17.5 ms ("settled") and its batch of 8 at
    # 0.33 ms: the machine was busy while batch 1 ran, and nothing said so.
    import cnnspace.metrics._measured as measured
    from cnnspace.metrics import time_calls

    def batch_8_at(fn, *args, **kwargs):
        timing = time_calls(fn, *args, **kwargs)
        if kwargs.get("warmup", 3) == 3:  # batch 1 keeps the default warm-up
            return timing
        return type(timing)((batch_8_s,) * len(timing.samples_s), True)
    monkeypatch.setattr(measured, "time_calls", batch_8_at)
    argv = ["bench", "squeezenet1_1", "--input", "3x32x32", "--backend", "torch", "--batch",
            "1,8", "--train-batch", "0", "--min-time", "0.02", "--peak-size", "64", "--threads",
            "1"]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("! torch: a batch of 8 took" in out) is warned
    if warned:
        assert "took 0.00 ms, less than half of one frame's" in out
    assert main([*argv, "--format", "json"]) == 0
    backend = json.loads(capsys.readouterr().out)["backends"][0]
    assert backend["batches_faster_than_a_frame"] == ([8] if warned else [])


def test_layers_above_the_peak_that_the_table_leaves_out_are_said_to_be_left_out():
    # "layers above 100% of peak" was printed under a --top table in which no layer was above
    from types import SimpleNamespace

    from rich.console import Console

    from cnnspace.commands.bench import ABOVE_PEAK, _print_layers

    def layer(name, ms, pct):
        return SimpleNamespace(name=name, type="conv2d", flops=1e6, time_ms=ms,
                               achieved_flops=1e9, pct_of_peak=pct)
    result = SimpleNamespace(layers=[layer("slow", 2.0, 50.0), layer("fast", 0.1, 180.0)],
                             layers_backend="torch", layers_over_latency=1.0, threads=1)
    for top, said in ((1, "layers (1 of them not among the 1 shown) above 100% of peak"),
                      (0, "layers above 100% of peak")):
        console = Console(record=True, width=300)
        _print_layers(console, result, top, ABOVE_PEAK)
        assert said in console.export_text()
