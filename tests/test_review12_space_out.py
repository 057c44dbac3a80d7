"""`space analyze --out` naming the space file itself is refused before anything is written:
`--format csv --out SPACE.yaml` replaced the description with the results."""
from __future__ import annotations

from _cli import run

SPACE = "base: firenet\nfixed: {input: 3x32x32}\naxes:\n  sr: [0.125, 0.5]\n"


def test_out_naming_the_space_file_is_refused_and_the_file_kept(capsys, tmp_path, monkeypatch):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    monkeypatch.chdir(tmp_path)
    for out in (path, "./space.yaml"):
        code, stdout, err = run(capsys, "space", "analyze", path, "--format", "csv", "--out", out)
        assert code == 2 and stdout == "" and len(err.strip().splitlines()) == 1
        assert "is the space file itself" in err
        assert path.read_text() == SPACE
    code, _, err = run(capsys, "space", "analyze", path, "--out", "points.csv")
    assert code == 0 and (tmp_path / "points.csv").read_text().startswith("id,sr,params,")

