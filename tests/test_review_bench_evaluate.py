"""Review of `cnnspace evaluate`: a top-5 that cannot be anything but 100% says so."""
import json

from cnnspace.cli import main
from _nets import tiny_yaml
from test_data import _image_folder


def test_top5_of_a_model_with_five_classes_or_fewer_is_called_trivial(tmp_path, capsys):
    folder = _image_folder(tmp_path / "images")  # two classes
    spec = tmp_path / "tiny.yaml"
    spec.write_text(tiny_yaml(channels=3, dropout=None, name="tiny_rgb").replace(
        "out_channels: 10", "out_channels: 2"))
    out = tmp_path / "run"
    assert main(["train", str(spec), f"--data=imagefolder:{folder}", "--image-size=8",
                 "--epochs=1", "--threads=1", "--no-progress", f"--out={out}"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "best.pt")]) == 0
    table = capsys.readouterr().out
    assert "top-5 100.00% (all 2 classes)," in table
    assert main(["evaluate", str(out / "best.pt"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["classes"] == 2 and data["top5"] == 1.0
