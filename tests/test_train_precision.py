"""Training under bfloat16 autocast (--precision bf16): the forward pass in bfloat16; weights,
gradients, the loss and evaluation in fp32; the choice recorded and held across a resume."""
from __future__ import annotations

import math

import pytest
import torch
import yaml

from cnnspace.cli import main
from cnnspace.spec import loads
from cnnspace.train import CheckpointError, ConfigError, TrainConfig, train
from _nets import tiny_yaml
from _training import quick

TINY = tiny_yaml()


class DtypeLog:
    """The dtypes conv1 computed in, and the gradients' dtypes, split by training and
    evaluation."""

    def __init__(self, module: torch.nn.Module):
        self.training: set[torch.dtype] = set()
        self.evaluation: set[torch.dtype] = set()
        module.register_forward_hook(self._output)

    def _output(self, module, inputs, output):
        (self.training if module.training else self.evaluation).add(output.dtype)


def _train_logging_dtypes(data, **options):
    from cnnspace.nn import build

    torch.manual_seed(0)
    module = build(loads(TINY).with_input(data.input_shape))
    log = DtypeLog(module.layers["conv1"])
    result = train(module, data, quick(epochs=1, **options))
    return result, log


@pytest.mark.parametrize("precision, forward", [("fp32", torch.float32),
                                                ("bf16", torch.bfloat16)])
def test_the_forward_pass_runs_in_the_chosen_precision_and_the_rest_in_fp32(digits8, precision,
                                                                            forward):
    result, log = _train_logging_dtypes(digits8, precision=precision)
    assert log.training == {forward}
    assert log.evaluation == {torch.float32}  # the accuracy of the fp32 weights it keeps
    params = list(result.model.parameters())
    assert {p.dtype for p in params} == {torch.float32}
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in params)
    assert math.isfinite(result.history[0]["loss"])
    assert 0 < result.final["top5"] <= 1


def test_bf16_training_learns_the_digits_as_fp32_does(digits8):
    net = loads(tiny_yaml(hidden=16))
    fp32 = train(net, digits8, quick(epochs=5, lr=0.05))
    bf16 = train(net, digits8, quick(epochs=5, lr=0.05, precision="bf16"))
    # 10 classes: chance is 10% (both reached 48% when this was written); bfloat16's rounding
    # costs little here.
    assert bf16.final["top1"] > 0.3
    assert abs(bf16.final["top1"] - fp32.final["top1"]) < 0.1


def test_other_precisions_are_refused_naming_the_option():
    with pytest.raises(ConfigError, match="option 'precision': expected one of fp32, bf16, "
                                          "got 'fp16'"):
        TrainConfig(precision="fp16")


def test_a_resume_in_another_precision_is_refused(tmp_path, digits8):
    train(loads(TINY), digits8, quick(out=str(tmp_path), epochs=1))
    with pytest.raises(CheckpointError, match="precision: 'fp32' -> 'bf16'"):
        train(loads(TINY), digits8, quick(out=str(tmp_path), epochs=2, precision="bf16",
                                          resume=True))


def test_the_cli_option_is_recorded_in_the_run_folder(tmp_path, capsys):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out = tmp_path / "run"
    assert main(["train", str(spec), "--data=digits", "--image-size=8", "--epochs=1",
                 "--precision=bf16", "--no-progress", f"--out={out}"]) == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["train"]["precision"] == "bf16"
    assert config["recipe_overrides"]["precision"] == "bf16"
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(spec), "--precision=fp16"])
    assert exit_.value.code == 2
    assert "invalid choice: 'fp16'" in capsys.readouterr().err
