"""`cnnspace evaluate` on a training checkpoint: the test images are prepared as the model's
training images were, whatever dataset they come from."""
from __future__ import annotations

import json
import pickle

import pytest

from cnnspace.cli import main
from _nets import tiny_yaml
from test_data import write_random_cifar10

SPEC = tiny_yaml(channels=3, dropout=None, name="tiny_rgb")


@pytest.fixture
def trained(tmp_path):
    """A checkpoint trained on one CIFAR-10 folder, and a second folder with the same test
    images but other training images (so other channel statistics)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # Seeded by batch: both folders hold the same images
    first = write_random_cifar10(tmp_path / "a", per_batch=8, test=7)
    other = write_random_cifar10(tmp_path / "b", per_batch=8, test=7)
    folder = other / "cifar-10-batches-py"
    for i in range(1, 6):  # brighter training images: a higher mean
        path = folder / f"data_batch_{i}"
        batch = pickle.loads(path.read_bytes())
        batch[b"data"] = batch[b"data"] // 2 + 128
        path.write_bytes(pickle.dumps(batch, protocol=2))
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "run"
    assert main(["train", str(spec), f"--data=cifar10:{first}", "--image-size=8", "--epochs=1",
                 "--threads=1", "--no-progress", f"--out={out}"]) == 0
    return out / "best.pt", first, other


def _evaluate(capsys, *args) -> dict:
    capsys.readouterr()
    assert main(["evaluate", *map(str, args), "--format=json"]) == 0
    result = json.loads(capsys.readouterr().out)
    return {k: result[k] for k in ("test_loss", "top1", "top5", "test_images")}


def test_another_dataset_is_normalised_with_the_models_training_statistics(trained, capsys):
    checkpoint, first, other = trained
    # The same test images: the same scores, not ones shifted by the other training set's mean.
    assert _evaluate(capsys, checkpoint, f"--data=cifar10:{other}") == \
        _evaluate(capsys, checkpoint, f"--data=cifar10:{first}")


def test_a_dataset_with_other_classes_is_refused(trained, capsys):
    checkpoint, _, other = trained
    meta = other / "cifar-10-batches-py" / "batches.meta"
    meta.write_bytes(pickle.dumps({b"label_names": [f"k{i}".encode() for i in range(10)]},
                                  protocol=2))
    assert main(["evaluate", str(checkpoint), f"--data=cifar10:{other}"]) == 2
    err = capsys.readouterr().err
    assert "was trained on the classes airplane, automobile" in err and "k0, k1" in err
    assert err.count("\n") == 1


def test_a_batch_beyond_free_memory_is_refused_naming_the_option(trained, capsys, monkeypatch):
    # 7 test images: --batch-size 1000 holds those 7, no more
    from cnnspace.metrics import _memory_need
    from cnnspace.train import load_checkpoint

    checkpoint, first, _ = trained
    spec = load_checkpoint(checkpoint).spec
    need = _memory_need.batch_memory(spec, 7, training=False)
    monkeypatch.setattr(_memory_need, "available_memory", lambda: need - 1)
    assert main(["evaluate", str(checkpoint), "--batch-size", "1000"]) == 2
    err = capsys.readouterr().err
    assert "--batch-size 1000: a forward pass of 7 images of tiny_rgb at 3x8x8 holds at least " \
           "0.0" in err and " MB of activations" in err
    monkeypatch.setattr(_memory_need, "available_memory", lambda: need)
    assert _evaluate(capsys, checkpoint, "--batch-size", "1000")["test_images"] == 7
