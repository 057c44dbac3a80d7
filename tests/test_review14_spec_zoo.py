"""The zoo against a mistyped model name or setting: a near miss gets the registered name, and a
count of Fire modules far beyond any FireNet is refused by name (10^20 ran out of memory and the
kernel killed the command without a word)."""
import pytest

from cnnspace import analyze, get_spec
from cnnspace.cli import main
from cnnspace.spec import SpecError
from cnnspace.zoo.squeezenet import MAX_FIRE


@pytest.mark.parametrize("typed, meant", [
    ("VGG16", "'vgg16'"), ("squeezenet1.1", "'squeezenet1_1'"),
    ("alexnet-caffe", "'alexnet_caffe'"), ("googlenetaux", "'googlenet_aux'")])
def test_a_near_miss_names_the_model(typed, meant):
    with pytest.raises(SpecError, match=f"unknown model '{typed}' \\(did you mean {meant}"):
        get_spec(typed)


def test_a_name_near_none_gets_no_guess():
    with pytest.raises(SpecError, match=r"unknown model 'resnet50'; registered models: alexnet"):
        get_spec("resnet50")


@pytest.mark.parametrize("num_fire", [MAX_FIRE + 1, 10**20])
def test_a_count_of_fire_modules_beyond_the_bound_is_refused(num_fire, capsys):
    with pytest.raises(SpecError, match=f"field 'num_fire': expected at most {MAX_FIRE:,} Fire "
                                        "modules"):
        get_spec("firenet", num_fire=num_fire)
    assert main(["analyze", "firenet", "--set", f"num_fire={num_fire}"]) == 2
    assert "field 'num_fire': expected at most" in capsys.readouterr().err


def test_a_long_firenet_within_the_bound_is_built():
    spec = get_spec("firenet", num_fire=100, pool_after=["conv1", "fire50"], input="3x64x64")
    assert sum(1 for layer in spec.layers if layer.type == "fire") == 100
    assert analyze(spec).totals.params > 0


def test_a_setting_is_quoted_as_written():
    with pytest.raises(SpecError, match=r"field 'num_classes': expected a positive integer, got "
                                        r"\[10\]$"):
        get_spec("alexnet", num_classes=[10])


def test_the_zoo_table_writes_a_list_of_numbers_as_set_takes_it():
    from cnnspace.commands.zoo import _setting
    assert _setting((3, 227, 227), is_input=True) == "3x227x227"
    # `--set widths=64x128` would be the text '64x128', not the list the builder takes
    assert _setting((64, 128)) == "[64, 128]"
    assert _setting(("conv1", "fire4")) == "[conv1, fire4]"
    assert _setting(None) == "null" and _setting(False) == "false"

