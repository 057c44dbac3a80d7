"""Review of the CIFAR reader on damaged folders: a label outside the classes is named by its
batch file and image, class names are checked as names."""
from __future__ import annotations

import numpy as np
import pytest

from cnnspace.data import DataError, get_dataset
from test_data import _cifar_batch, _write_pickle, write_random_cifar10


@pytest.fixture
def cifar10_dir(tmp_path):
    return write_random_cifar10(tmp_path, per_batch=4, test=3)


@pytest.mark.parametrize("name, labels, message", [
    ("data_batch_3", [0, 1, 12, 2], "label 12 of image 2 is outside the 10 classes"),
    ("test_batch", [0, -1, -3], r"label -1 of image 1 is outside the 10 classes .*\(2 such"),
    # past int64's range: it was reported as a negative number after a cast
    ("data_batch_2", np.array([3, 2**63 + 5, 1, 0], dtype=np.uint64),
     "label 9223372036854775813 of image 1 is outside"),
])
def test_a_label_outside_the_classes_names_its_batch_file_and_image(cifar10_dir, name, labels,
                                                                     message):
    folder = cifar10_dir / "cifar-10-batches-py"
    batch = _cifar_batch(len(labels), 10, b"labels", 3)
    _write_pickle(folder / name, {**batch, b"labels": labels})
    with pytest.raises(DataError, match=f"{name}: {message}") as e:
        get_dataset(f"cifar10:{cifar10_dir}")
    assert f"classes of {folder / 'batches.meta'}" in str(e.value)


def test_a_label_of_the_last_class_is_read(cifar10_dir):
    folder = cifar10_dir / "cifar-10-batches-py"
    batch = _cifar_batch(4, 10, b"labels", 3)
    _write_pickle(folder / "test_batch", {**batch, b"labels": np.array([9, 0, 9, 1], np.uint8)})
    data = get_dataset(f"cifar10:{cifar10_dir}")
    assert data.test.labels.tolist() == [9, 0, 9, 1] and data.test.labels.dtype.is_signed is True


@pytest.mark.parametrize("names, message", [
    # results and deployment name classes by these: two alike cannot be told apart
    ([b"cat", b"dog"] * 5, "'label_names' names the class 'cat' twice"),
    # was "must be a list of class names, got list"
    (list(range(10)), r"'label_names' must be a list of class names \(text\), but holds int 0"),
    # was "got _CheckedArray", the reader's own class
    (np.zeros((2, 5)), "'label_names' must be a list of class names, got a numpy array"),
])
def test_class_names_that_are_no_names_are_refused_saying_why(cifar10_dir, names, message):
    meta = cifar10_dir / "cifar-10-batches-py" / "batches.meta"
    _write_pickle(meta, {b"label_names": names})
    with pytest.raises(DataError, match=f"batches.meta: {message}"):
        get_dataset(f"cifar10:{cifar10_dir}")


def test_class_names_resaved_as_a_numpy_array_are_read(cifar10_dir):
    meta = cifar10_dir / "cifar-10-batches-py" / "batches.meta"
    _write_pickle(meta, {b"label_names": np.array([f"c{i}".encode() for i in range(10)])})
    assert get_dataset(f"cifar10:{cifar10_dir}").classes == tuple(f"c{i}" for i in range(10))
