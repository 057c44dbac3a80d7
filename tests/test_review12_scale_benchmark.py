"""benchmarks/ddp_prediction.py refuses a run that cannot give a median, before measuring."""
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "ddp_prediction.py"


@pytest.fixture
def ddp_prediction(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts benchmarks/ on it
    spec = importlib.util.spec_from_file_location("ddp_prediction", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def measured(*args, **kwargs):
        raise AssertionError("measured before the arguments were checked")
    for name in ("wait_for_quiet", "run_commbench", "time_train_step", "time_ddp_step"):
        monkeypatch.setattr(module, name, measured)
    return module


@pytest.mark.parametrize("flag", ["--rounds", "--steps"])
def test_no_rounds_or_steps_is_refused_in_one_line(ddp_prediction, monkeypatch, capsys, flag):
    # --rounds 0 ended in a StatisticsError traceback (the median of no round), --steps 0 in a
    # CnnspaceError traceback after commbench had run
    monkeypatch.setattr(sys, "argv", ["ddp_prediction.py", flag, "0"])
    with pytest.raises(SystemExit) as exit_:
        ddp_prediction.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(f"error: {flag} must be at least 1, got 0")
