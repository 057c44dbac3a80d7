"""Torch files from strangers: torch.load (weights only) still inflates a compressed record in
memory at any ratio, so every reader of .pt files refuses one before loading."""
import zipfile

import pytest
import torch

from cnnspace.errors import CnnspaceError


def _recompressed(tmp_path, obj):
    """``obj`` saved by torch.save, then every record deflated: a small file that a zip bomb
    would make of 1 GiB of zeros."""
    plain, packed = tmp_path / "plain.pt", tmp_path / "packed.pt"
    torch.save(obj, plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    assert torch.load(packed, weights_only=True) is not None  # torch itself takes it
    return packed


def test_every_reader_refuses_a_compressed_record_before_loading(tmp_path, monkeypatch):
    from cnnspace.compress._int8 import load_int8
    from cnnspace.detect import Detector
    from cnnspace.train import load_checkpoint
    path = _recompressed(tmp_path, {"format": "cnnspace-checkpoint", "w": torch.zeros(1000)})
    loads = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    for read in (load_checkpoint, Detector.load, lambda p: load_int8(torch.nn.Linear(1, 1), p)):
        with pytest.raises(CnnspaceError, match=r"packed\.pt: its record .* is compressed, which "
                                                "torch.save never writes"):
            read(path)
    assert loads == []


def test_files_torch_saves_are_read_as_before(tmp_path):
    from cnnspace.train import check_torch_archive
    torch.save({"w": torch.ones(3)}, tmp_path / "a.pt")
    check_torch_archive(tmp_path / "a.pt")
    torch.save({"w": torch.ones(3)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    check_torch_archive(tmp_path / "legacy.pt")


def test_a_checkpoint_naming_a_network_its_weights_do_not_fill_is_refused_before_building(
        tmp_path, monkeypatch):
    # A few bytes of spec asked for any network: build() took its memory (1.37 GB for a 151-byte
    # .cnnz) before the weights were found not to match it.
    from cnnspace import get_spec
    from cnnspace.nn import build
    from cnnspace.spec import to_dict
    from cnnspace.train import CheckpointError, TrainConfig, _checkpoint, load_checkpoint, \
        save_checkpoint
    small, large = get_spec("squeezenet1_1", num_classes=10), get_spec("vgg16")
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"spec": to_dict(large), "model": build(small).state_dict(),
                           "config": TrainConfig().to_dict(), "data": "digits"})
    monkeypatch.setattr(_checkpoint, "build", lambda *a: pytest.fail("built before the check"))
    with pytest.raises(CheckpointError, match=r"c\.pt: weights do not fit this model: its "
                                              r"tensors do not match its spec \(missing: "
                                              r".* and \d+ more; unexpected: .* and \d+ more\)"):
        load_checkpoint(path).build_model()
