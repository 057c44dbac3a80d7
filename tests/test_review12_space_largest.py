"""`cnnspace analyze` names the layer holding the largest share of the parameters and of the
MACs: which layer dominates SqueezeNet, and how that moves with the squeeze ratio, without
searching a 66-row table."""
from __future__ import annotations

from _cli import run


def _text(out: str) -> str:
    return " ".join(out.split())  # rich wraps lines at 80 columns in a pipe


def test_conv10_dominates_squeezenets_parameters(capsys):
    code, out, err = run(capsys, "analyze", "firenet", "--set", "sr=0.125")
    assert code == 0, err
    # conv10: 512 x 1000 + 1000 = 513,000 of 1,248,424; conv1: 173,873,952 of 832,667,936
    assert "largest: conv10 41.1% of parameters, conv1 20.9% of MACs" in _text(out)


def test_a_network_without_parameters_or_macs_names_no_layer(capsys, tmp_path):
    code, out, err = run(capsys, "analyze", "firenet", "--set", "sr=0.125", "--input", "3x32x32")
    assert code == 0 and "largest: conv10" in out
    path = tmp_path / "pool.yaml"
    path.write_text("name: pool\ninput: [3, 8, 8]\nlayers:\n  - {name: p, type: maxpool, "
                    "kernel: 2}\n")
    code, out, err = run(capsys, "analyze", path)
    assert code == 0 and "largest" not in out


def test_wider_squeeze_layers_move_the_weight_into_the_last_expand_layers(capsys):
    code, out, err = run(capsys, "analyze", "firenet", "--set", "sr=1.0")
    assert code == 0, err
    # at sr 1.0, fire8 and fire9 both squeeze to 512 channels and expand 256 of them 3x3:
    # 9 x 512 x 256 + 256 = 1,179,904 parameters each, 18.8% of 6,279,016; naming one only
    # would hide the other
    assert ("largest: fire8/expand3x3 and fire9/expand3x3 18.8% each of parameters, "
            "fire4/expand3x3 18.4% of MACs") in _text(out)

