"""benchmark(spec, module) refuses in one line what is no module to time: anything but a torch
module failed in an AttributeError ('str' object has no attribute 'to'), and a module on the
meta device (from_torch reads those) in torch's NotImplementedError from its first copy."""
import pytest
import torch

from cnnspace import CnnspaceError, get_spec
from cnnspace.metrics import _measured, benchmark
from cnnspace.nn import build

NET = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))


@pytest.mark.parametrize("module, message", [
    ("squeezenet1_1", "expected a torch.nn.Module, got str"),
    (NET, "expected a torch.nn.Module, got NetSpec: cnnspace.nn.build(spec) makes its module"),
    ("meta", "the module is on the meta device: it holds no weights to time")])
def test_what_is_no_module_to_time_is_refused_by_name(monkeypatch, module, message):
    monkeypatch.setattr(_measured, "gemm_peak", lambda *a, **k: pytest.fail("ran"))
    if module == "meta":
        with torch.device("meta"):
            module = build(NET)
    with pytest.raises(CnnspaceError) as refused:
        benchmark(NET, module, backends="torch", train_batch=0, min_time_s=0.02)
    assert str(refused.value) == message
