"""Review of training's files: run folders given as paths, checkpoints damaged after writing."""
from __future__ import annotations

import pytest

from cnnspace.spec import loads
from cnnspace.train import ConfigError, TrainConfig, read_metrics, train
from _nets import tiny_yaml
from _training import quick


def test_a_run_folder_given_as_a_path_is_written_and_resumed(tmp_path, digits8):
    out = tmp_path / "run"
    config = quick(epochs=1, out=out)
    assert config.out == str(out)  # config.yaml holds it as text (a Path was a YAML error)
    train(loads(tiny_yaml()), digits8, config)
    assert (out / "config.yaml").read_text().count(f"out: {out}") == 1
    resumed = train(loads(tiny_yaml()), digits8, config.with_options(resume=True))
    assert resumed.history == read_metrics(out)


def test_an_out_that_is_no_path_is_refused_naming_the_option():
    with pytest.raises(ConfigError, match="option 'out': expected the path of a run folder"):
        TrainConfig(out=3)
