"""CIFAR-10 and CIFAR-100 from the python pickle batches (the layout of the official download)."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from .._atomic import write_atomic
from ._augment import RESIZE_RULE, Augmentation, resize
from ._errors import DataError
from ._images import in_memory_splits
from ._registry import DataSplits, dataset_folder, register_dataset
from ._safe_pickle import load_restricted_pickle

_LAYOUTS = {  # folder, training files, test file, metadata file, label key, names key
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch",
                "batches.meta", "labels", "label_names"),
    "cifar100": ("cifar-100-python", ["train"], "test", "meta", "fine_labels",
                 "fine_label_names"),
}
_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
SIDE = 32


def _get(d: dict, key: str, source: Path):
    """CIFAR pickles come from Python 2: keys are bytes there, str if re-saved by Python 3."""
    if isinstance(d, dict):
        for k in (key.encode(), key):
            if k in d:
                return d[k]
    raise DataError(f"{source}: not a CIFAR batch: no {key!r} entry")


def _folder(kind: str, path: str) -> Path:
    folder_name, files = _LAYOUTS[kind][0], _LAYOUTS[kind][1]
    root = dataset_folder(kind, path)
    for candidate in (root, root / folder_name):
        if (candidate / files[0]).is_file():
            return candidate
    archive = "cifar-10-python.tar.gz" if kind == "cifar10" else "cifar-100-python.tar.gz"
    raise DataError(f"{kind}: no {files[0]} in {root} or {root / folder_name}; download "
                    f"{archive} from {_URL} and extract it there (nothing is downloaded "
                    "automatically)")


def _read_batch(path: Path, label_key: str) -> tuple[torch.Tensor, np.ndarray]:
    """The images and the labels as the file holds them (integers of its own width: a uint64
    label past int64's range would turn negative when cast)."""
    if not path.is_file():
        raise DataError(f"{path}: missing (the CIFAR folder is incomplete)")
    batch = load_restricted_pickle(path)
    data = _get(batch, "data", path)
    labels = _get(batch, label_key, path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * SIDE * SIDE:
        raise DataError(f"{path}: 'data' must be uint8 of shape (N, 3072), got "
                        f"{getattr(data, 'dtype', type(data).__name__)} "
                        f"{getattr(data, 'shape', '')}")
    if not len(data):
        raise DataError(f"{path}: a batch without images")
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError):
        labels = np.asarray(None)
    # Not cast: a float label 2.7 would become class 2 without a word.
    if labels.dtype.kind not in "iu":
        raise DataError(f"{path}: {label_key!r} must be integer class indices, got "
                        f"{labels.dtype.name}")
    if labels.shape != (len(data),):  # a single number, or a column, is no list of labels
        raise DataError(f"{path}: {label_key!r} must list one class index per image: "
                        f"{len(data)} images, labels of shape {labels.shape}")
    images = torch.from_numpy(data.reshape(-1, 3, SIDE, SIDE).copy())
    return images, labels


def _class_indices(labels: np.ndarray, num_classes: int, source: Path,
                   meta_path: Path) -> torch.Tensor:
    """int64 labels, each checked to be one of the classes, naming the file and image if not."""
    outside = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(outside):
        i = int(outside[0])
        raise DataError(f"{source}: label {int(labels[i])} of image {i} is outside the "
                        f"{num_classes} classes of {meta_path}"
                        + (f" ({len(outside)} such labels)" if len(outside) > 1 else ""))
    return torch.from_numpy(labels.astype(np.int64))


def _class_names(names, key: str, source: Path) -> list[str]:
    if isinstance(names, np.ndarray) and names.ndim == 1 and names.dtype.kind in "SU":
        names = names.tolist()  # a meta file re-saved with the names as a numpy array
    if not isinstance(names, (list, tuple)):
        kind = "a numpy array" if isinstance(names, np.ndarray) else type(names).__name__
        raise DataError(f"{source}: {key!r} must be a list of class names, got {kind}")
    odd = next((n for n in names if not isinstance(n, (bytes, str))), None)
    if odd is not None:
        raise DataError(f"{source}: {key!r} must be a list of class names (text), but holds "
                        f"{type(odd).__name__} {odd!r}")
    decoded = [n.decode(errors="replace") if isinstance(n, bytes) else n for n in names]
    seen: set[str] = set()
    for name in decoded:
        if name in seen:  # results, fine-tuning and deployment name classes by these
            raise DataError(f"{source}: {key!r} names the class {name!r} twice")
        seen.add(name)
    return decoded


def _cifar(kind: str, path: str, image_size: int | None) -> DataSplits:
    folder = _folder(kind, path)
    _, train_files, test_file, meta_file, label_key, names_key = _LAYOUTS[kind]
    files = [folder / f for f in (*train_files, test_file)]
    parts = [_read_batch(f, label_key) for f in files]
    meta_path = folder / meta_file
    names = _class_names(_get(load_restricted_pickle(meta_path), names_key, meta_path),
                         names_key, meta_path)
    if len(names) < 2:  # one class scores 100% whatever the network learns
        raise DataError(f"{meta_path}: needs at least two classes, found {names}")
    labels = [_class_indices(p[1], len(names), f, meta_path) for f, p in zip(files, parts)]
    train_images = torch.cat([p[0] for p in parts[:-1]])
    train_labels = torch.cat(labels[:-1])
    test_images, test_labels = parts[-1][0], labels[-1]
    size = image_size or SIDE
    train, test = in_memory_splits(resize(train_images, size), train_labels,
                                   resize(test_images, size), test_labels,
                                   Augmentation(pad=max(1, size // 8), flip=True))
    # Named by the absolute folder: a run's record finds its data from any working folder.
    return DataSplits(f"{kind}:{Path(path).expanduser().resolve()}", train, test, len(names),
                      (3, size, size), tuple(names),
                      decoding={"channels": "RGB", "resize": RESIZE_RULE})


def write_cifar10(root: str | Path, train_images: torch.Tensor, train_labels: torch.Tensor,
                  test_images: torch.Tensor, test_labels: torch.Tensor,
                  names: list[str]) -> Path:
    """Writes uint8 (N, 3, 32, 32) images as ``root/cifar-10-batches-py`` in the official layout
    (five training batches, test_batch, batches.meta; byte-string keys as Python 2 wrote them),
    so that ``cifar10:root`` reads them back."""
    batches = len(_LAYOUTS["cifar10"][1])
    for name, images, labels in (("train", train_images, train_labels),
                                 ("test", test_images, test_labels)):
        if images.dtype != torch.uint8 or tuple(images.shape[1:]) != (3, SIDE, SIDE):
            raise DataError(f"write_cifar10: {name}_images must be uint8 (N, 3, {SIDE}, {SIDE}), "
                            f"got {images.dtype} {tuple(images.shape)}")
        if len(labels) != len(images):
            raise DataError(f"write_cifar10: {len(labels)} {name}_labels for {len(images)} "
                            f"{name}_images")
    if len(train_images) < batches:  # the reader refuses a batch without images
        raise DataError(f"write_cifar10: needs at least {batches} training images, one per "
                        f"batch, got {len(train_images)}")
    folder = Path(root) / _LAYOUTS["cifar10"][0]
    folder.mkdir(parents=True, exist_ok=True)

    def batch(images: torch.Tensor, labels: torch.Tensor, label: str) -> dict:
        return {b"batch_label": label.encode(), b"labels": labels.tolist(),
                b"data": images.reshape(len(images), -1).numpy()}

    def dump(name: str, obj: dict) -> None:
        write_atomic(folder / name, lambda f: pickle.dump(obj, f, protocol=2))

    # tensor_split: always that many parts (chunk(5) of 6 images made 3)
    for i, part in enumerate(torch.arange(len(train_images)).tensor_split(batches), 1):
        dump(f"data_batch_{i}", batch(train_images[part], train_labels[part],
                                      f"training batch {i} of {batches}"))
    dump("test_batch", batch(test_images, test_labels, "testing batch 1 of 1"))
    dump("batches.meta", {b"label_names": [n.encode() for n in names]})
    return folder


@register_dataset("cifar10", "CIFAR-10 python batches (cifar-10-batches-py folder)",
                  needs_path=True)
def cifar10(path: str, image_size: int | None) -> DataSplits:
    return _cifar("cifar10", path, image_size)


@register_dataset("cifar100", "CIFAR-100 python batches (cifar-100-python folder), 100 classes",
                  needs_path=True)
def cifar100(path: str, image_size: int | None) -> DataSplits:
    return _cifar("cifar100", path, image_size)
