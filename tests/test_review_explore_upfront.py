"""What every trial would meet on this machine is an error before anything is trained, naming
the study file and the key: weights to start from that cannot be read, a device the machine
lacks. Each trial met them alone: the study ended with every point failed (4 tries each), and a
resumed run kept them failed."""
from __future__ import annotations

import torch
import yaml
from _explore_studies import TINY_FIXED, write_study

from cnnspace.cli import main
from cnnspace.explore import explore, load_study_file


def study_training(tmp_path, axes=None, **options):
    """A tiny study whose `train:` options also hold ``options``."""
    path = write_study(tmp_path, axes=axes)
    study = yaml.safe_load(path.read_text())
    study["train"].update(options)
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def test_weights_that_cannot_be_read_are_refused_before_any_trial(tmp_path, capsys):
    study = study_training(tmp_path, init_from=str(tmp_path / "missing.pt"))
    assert main(["explore", str(study), "--out", str(tmp_path / "out"), "--no-report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"cnnspace explore: error: {study}: key 'train.init_from': ")
    assert "missing.pt" in err[-1] and not any(line.startswith("trial ") for line in err)
    assert not (tmp_path / "out").exists()


def test_a_device_the_machine_lacks_is_refused_before_any_trial(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    study = study_training(tmp_path, device="cuda")
    assert main(["explore", str(study), "--out", str(tmp_path / "out"), "--no-report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"cnnspace explore: error: {study}: key 'train.device': option 'device': "
                       "cuda was asked for but torch sees no CUDA device")
    assert not (tmp_path / "out").exists()


def test_weights_that_can_be_read_still_start_every_trial(tmp_path, digits8):
    from cnnspace.space import DesignSpace
    from cnnspace.train import TrainConfig, train

    space = DesignSpace.from_dict({"base": "firenet", "fixed": {
        **TINY_FIXED, "input": [1, 8, 8], "num_classes": 10}, "axes": {"sr": [0.5]}})
    train(space.spec_for({"sr": 0.5}), digits8,
          TrainConfig(epochs=1, batch_size=64, out=str(tmp_path / "start"), progress=False))
    study = study_training(tmp_path, axes={"sr": [0.5]},
                           init_from=str(tmp_path / "start" / "best.pt"))
    result = explore(load_study_file(study), tmp_path / "out")
    assert result.counts.trained == result.counts.done == 1
