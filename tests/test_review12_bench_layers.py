"""Per-layer times that add up to far less than the whole forward pass are flagged, as those
adding up to far more were: on this shared machine squeezenet1_1 at 64x64 was timed at 12.3 ms
("stable") while its layers summed to 4.0 ms (0.32x), three runs in a row, and the table showed
both without a word (on an idle machine the sum is about the whole: hooks enclose each layer)."""
import json

import pytest

from cnnspace.cli import main


@pytest.mark.parametrize("scale, warned", [(0.01, True), (100.0, False)])
def test_layer_times_far_below_the_pass_are_flagged(capsys, monkeypatch, scale, warned):
    import cnnspace.metrics._measured as measured
    real = measured.layer_times
    monkeypatch.setattr(measured, "layer_times", lambda *args, **kwargs: {
        name: seconds * scale for name, seconds in real(*args, **kwargs).items()})
    argv = ["bench", "squeezenet1_1", "--input", "3x32x32", "--backend", "torch",
            "--train-batch", "0", "--min-time", "0.02", "--peak-size", "64", "--threads", "1"]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("! layers: the median latency of torch is" in out) is warned
    if warned:
        assert "x their summed times: the machine was busier while the whole network was " \
               "timed; rerun it on an idle machine" in out
    assert main([*argv, "--format", "json"]) == 0
    assert (json.loads(capsys.readouterr().out)["layers_over_latency"] < 0.5) is warned
