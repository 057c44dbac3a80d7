"""Names that reach the terminal from a space, spec or model: a space's name that is not
printable is refused at load, naming the key; names holding rich markup (`[/]`, `[bold]`) are
printed as written, never obeyed (a closing tag raised MarkupError with a traceback)."""
from __future__ import annotations

import pytest

from _cli import run
from cnnspace.space import DesignSpace, SpaceError


@pytest.mark.parametrize("command", ["show", "analyze"])
def test_a_space_name_with_escape_codes_is_refused_naming_the_key(capsys, tmp_path, command):
    # show printed the escape codes to the terminal; analyze failed on the first point with
    # "field 'name'", naming neither the file nor the key
    path = tmp_path / "esc.yaml"
    path.write_text('name: "evil\\e[31mRED"\nbase: firenet\naxes:\n  sr: [0.125, 0.5]\n')
    code, out, err = run(capsys, "space", command, path)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "esc.yaml: key 'name': expected a non-empty printable string" in err


def test_the_api_refuses_such_a_name_when_the_space_is_made():
    with pytest.raises(SpaceError) as e:
        DesignSpace.from_dict({"name": "a\nb", "base": "firenet", "axes": {"sr": [0.5]}})
    assert e.value.key == "name"


def test_space_show_prints_choices_that_look_like_markup_as_written(capsys, tmp_path):
    path = tmp_path / "mk.yaml"
    path.write_text('name: "a[/]b"\nbase: firenet\naxes:\n  name: ["x[/]", "[bold]y"]\n')
    code, out, err = run(capsys, "space", "show", path)
    assert code == 0, err
    assert "design space a[/]b" in out and "x[/], [bold]y" in out


NET = """\
name: "[red]net[/red] [/x]"
input: [3, 8, 8]
layers:
  - {name: "c[x]", type: conv2d, out_channels: 4, kernel: 3}
  - {name: "[bold]r", type: relu}
"""


def test_analyze_prints_names_that_look_like_markup_as_written(capsys, tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(NET)
    code, out, err = run(capsys, "analyze", path)
    assert code == 0, err
    assert "[red]net[/red] [/x]" in out and "c[x]" in out and "[bold]r" in out


def test_diff_prints_names_that_look_like_markup_as_written(capsys, tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(NET)
    b.write_text(NET.replace("out_channels: 4", "out_channels: 8"))
    code, out, err = run(capsys, "diff", a, b)
    assert code == 0, err
    assert "A [red]net[/red] [/x]" in out and "c[x] conv2d" in out and "[bold]r" in out
