"""Registering models from Python, as with timm."""
import pytest

from cnnspace import Layer, NetSpec, get_spec, list_models
from cnnspace.zoo import model_entry, register_model


@pytest.fixture
def scratch_registry(monkeypatch):
    from cnnspace.zoo import _registry
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))


def test_register_model_used_bare_as_timm_registers_with_the_docstring(scratch_registry):
    @register_model
    def test_bare(num_classes=10, input=(3, 8, 8), width=4):
        """A bare test model.

        More words."""
        return NetSpec("test_bare", input, [Layer("c", "conv2d", attrs={"out_channels": width,
                                                                      "kernel": 1})])

    assert callable(test_bare) and test_bare().name == "test_bare"  # still the function
    assert list_models("test_bare") == ["test_bare"]
    assert model_entry("test_bare").description == "A bare test model."
    assert get_spec("test_bare", width=8).layers[0].attrs["out_channels"] == 8


def test_register_model_refuses_a_description_that_is_no_string():
    with pytest.raises(TypeError, match="expected a str description, got int"):
        register_model(3)
