"""Review 13 of a dataset path that names the downloaded archive instead of the folder it
extracts to: the error says to extract it, not to download what is already there."""
from __future__ import annotations

import tarfile

import pytest

from cnnspace.data import DataError, get_dataset


@pytest.mark.parametrize("kind", ["cifar10", "cifar100", "imagefolder"])
def test_an_archive_given_as_the_folder_is_named_as_a_file_to_extract(tmp_path, kind):
    archive = tmp_path / "cifar-10-python.tar.gz"
    (tmp_path / "x").write_text("x")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "x", arcname="x")
    # It said "no data_batch_1 in .../cifar-10-python.tar.gz ...; download
    # cifar-10-python.tar.gz from ... and extract it there".
    with pytest.raises(DataError, match=rf"^{kind}: {archive} is a file, not a folder: extract "
                       rf"it \(tar xf {archive} -C DIR\) and give the folder, {kind}:DIR$"):
        get_dataset(f"{kind}:{archive}")
