"""Review 13 of what training says while it runs: its notes print the user's paths as written."""
from __future__ import annotations

from cnnspace.spec import loads
from cnnspace.train import train
from _nets import tiny_yaml
from _training import quick


def test_a_run_folder_with_brackets_is_named_as_written(tmp_path, digits8, capsys):
    # Rich read "[bold]" in the resume note as markup (the path lost it) and "[/x]" as a closing
    # tag with nothing open: a MarkupError traceback instead of the run.
    for name in ("m[bold]y", "q[/x]"):
        out = tmp_path / name / "run"
        config = quick(epochs=1, out=str(out), resume=True, progress=True)
        train(loads(tiny_yaml()), digits8, config)
        assert f"no checkpoint in {out} yet: starting the run" in capsys.readouterr().err
        train(loads(tiny_yaml()), digits8, config)
        assert f"{out} is complete (epochs: 1): nothing to train" in capsys.readouterr().err
