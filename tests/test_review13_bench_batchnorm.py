"""bench's training step at batch 1 of a network whose batch norm then sees one value per
channel: torch refuses it with a ValueError, which escaped as a traceback (`cnnspace bench
firenet --set batchnorm=true --input 3x32x32 --batch 1`); the step is left out with the reason."""
from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.metrics import benchmark

FAST = {"min_time_s": 0.02, "peak_sizes": (128,), "per_layer": False}


def test_a_training_step_torch_refuses_is_left_out_with_its_reason(capsys):
    spec = get_spec("firenet", batchnorm=True, num_classes=10, input=(3, 32, 32))
    result = benchmark(spec, batches=1, backends="torch", threads=1, **FAST)
    assert result.train is None
    assert result.train_unavailable_reason.startswith("the training step failed: Expected more than 1 "
                                          "value per channel")
    assert result.backends  # the inference timings are kept
    assert main(["bench", "firenet", "--set", "batchnorm=true", "--set", "num_classes=10",
                 "--input", "3x32x32", "--batch", "1", "--backend", "torch", "--threads", "1",
                 "--min-time", "0.02", "--peak-size", "128", "--format", "json"]) == 0
    assert "Expected more than 1 value per channel" in capsys.readouterr().out
