"""Family settings as a user gives them (`--set KEY=VALUE`): every one reaches its builder, and a
bad value is one line naming the setting."""
import pytest

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.spec import SpecError


def test_a_setting_called_name_reaches_the_builder():
    # get_spec's own first parameter is the model: a setting of the same name is the network's
    assert get_spec("firenet", name="fn_small").name == "fn_small"
    with pytest.raises(SpecError, match="field 'name': expected a non-empty printable string"):
        get_spec("firenet", name="")


@pytest.mark.parametrize("value", ["", "[1]"])
def test_a_bad_name_setting_is_one_line(capsys, value):
    assert main(["analyze", "firenet", "--set", f"name={value}"]) == 2
    err = capsys.readouterr().err
    assert "field 'name'" in err and len(err.strip().splitlines()) == 1


def test_a_default_that_no_longer_fits_says_it_is_the_default():
    with pytest.raises(SpecError, match=r"field 'pool_after': .*fire8.*the default; set "
                                        r"pool_after for num_fire=3"):
        get_spec("firenet", num_fire=3)
    assert [n for n in get_spec("firenet", num_fire=3, pool_after=["conv1"]).resolve().nodes
            if n.type == "maxpool"][0].name == "pool1"


def test_an_unknown_pool_layer_is_named_and_the_list_written_as_a_list(capsys):
    assert main(["analyze", "firenet", "--set", "pool_after=conv1,fire4,fire10"]) == 2
    err = capsys.readouterr().err
    assert "got ['conv1', 'fire4', 'fire10']: no layer 'fire10'" in err
    with pytest.raises(SpecError, match=r"got \['conv1', 'fire4', 'fire8'\]: no layer 'fire8' "
                                        r"\(the default"):
        get_spec("firenet", num_fire=4)


def test_numpy_values_are_settings_like_any_other():
    # sweeps are often written with numpy grids (np.arange, np.linspace)
    import numpy as np
    plain = get_spec("firenet", base_e=96, num_classes=10, sr=0.25, batchnorm=True,
                     pool_after=["conv1", "fire4"])
    numpy = get_spec("firenet", base_e=np.int64(96), num_classes=np.int32(10),
                     sr=np.float32(0.25), batchnorm=np.bool_(True),
                     pool_after=np.array(["conv1", "fire4"]))
    assert numpy.layers == plain.layers
