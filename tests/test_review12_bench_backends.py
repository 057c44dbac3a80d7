"""A misspelt backend name beside auto is refused, as it is alone: `--backend auto,onnxrutime`
ran every backend and never said the second name meant nothing."""
import pytest

from cnnspace import CnnspaceError, get_spec
from cnnspace.cli import main
from cnnspace.metrics import _measured, benchmark

NET = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))


def test_an_unknown_backend_beside_auto_is_refused_before_anything_runs(monkeypatch, capsys):
    monkeypatch.setattr(_measured, "gemm_peak", lambda *a, **k: pytest.fail("ran"))
    with pytest.raises(CnnspaceError, match=r"unknown backend 'onnxrutime'; choose from auto, "):
        benchmark(NET, backends=("auto", "onnxrutime"), train_batch=0, min_time_s=0.02)
    assert main(["bench", "squeezenet1_1", "--input", "3x32x32", "--backend",
                 "auto,onnxrutime"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown backend 'onnxrutime'" in err


def test_a_cpu_index_is_refused_rather_than_named_in_results_it_does_not_describe(capsys):
    # `bench --device cpu:1` ran on every core and reported "cpu:1" in its title and JSON
    assert main(["bench", "squeezenet1_1", "--input", "3x32x32", "--device", "cpu:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "device 'cpu:1': torch numbers no CPUs" in err
