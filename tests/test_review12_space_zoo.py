"""`cnnspace zoo` lists what `--set` and a design space's axes can change, with the defaults,
written as `--set` reads them back: the table gave names and descriptions only, so the
FireNet metaparameters were found in the docs or by a wrong guess."""
from __future__ import annotations

import pytest

from _cli import run


def _text(out: str) -> str:  # the table wraps cells; the words are what matter
    return " ".join(out.replace("│", " ").split())


def test_the_table_lists_the_firenet_metaparameters_and_defaults(capsys):
    code, out, err = run(capsys, "zoo", "firenet")
    assert code == 0, err
    cells = _text(out)
    for setting in ("base_e=128", "incr_e=128", "freq=2", "pct3x3=0.5", "sr=0.125",
                    "input=3x227x227", "batchnorm=false"):
        assert setting in cells
    assert "pool_after=[conv1, fire4, fire8]" in cells  # not swallowed as rich markup


@pytest.mark.parametrize("setting", ["input=3x227x227", "pool_after=[conv1, fire4, fire8]",
                                     "batchnorm=false", "sr=0.125"])
def test_each_listed_default_is_accepted_by_set_and_changes_nothing(capsys, setting):
    _, plain, _ = run(capsys, "analyze", "firenet", "--format", "csv")
    code, out, err = run(capsys, "analyze", "firenet", "--set", setting, "--format", "csv")
    assert code == 0, err
    assert out == plain and f"{setting}" in _text(run(capsys, "zoo", "firenet")[1])
