"""Datasets by reference: ``get_dataset("digits" | "cifar10:PATH" | "imagefolder:PATH")``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from torch.utils.data import Dataset

from ._errors import DataError


@dataclass(frozen=True)
class DataSplits:
    """A training and a test split with what a model needs to know about them."""
    name: str                        # the reference it was made from, e.g. "cifar10:/data/c10"
    train: Dataset
    test: Dataset
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W) of one image as the model receives it
    classes: tuple[str, ...] = ()
    collate_fn: Callable | None = None   # batches of variable-size targets (e.g. boxes)
    # How an image of the source becomes input_shape: its "channels" and its "resize", in words
    # that name the library and the rule (shorter side and centre crop, or the whole image),
    # since another resize rule gives the model other inputs than it was trained on.
    decoding: Mapping[str, str] | None = None

    def preprocessing(self) -> dict | None:
        """How an image becomes the model's input, for whoever deploys the model: without the
        training set's mean and std, a network sees other numbers than it was trained on."""
        mean, std = getattr(self.test, "mean", None), getattr(self.test, "std", None)
        if mean is None or std is None:
            return None
        return {"input": list(self.input_shape), **(self.decoding or {}),
                "pixels": "uint8 0..255 divided by 255",
                "mean": [float(m) for m in mean], "std": [float(s) for s in std],
                "normalise": "(pixel - mean) / std per channel",
                "classes": list(self.classes)}


@dataclass(frozen=True)
class _Entry:
    make: Callable[..., DataSplits]  # make(path, image_size) -> DataSplits
    description: str
    needs_path: bool


_DATASETS: dict[str, _Entry] = {}


def register_dataset(name: str, description: str, needs_path: bool):
    """Registers ``make(path: str | None, image_size: int | None) -> DataSplits``."""
    def register(fn):
        _DATASETS[name] = _Entry(fn, description, needs_path)
        return fn
    return register


def dataset_names() -> dict[str, str]:
    """Registered dataset kinds and what each reads."""
    return {name: e.description for name, e in sorted(_DATASETS.items())}


def dataset_folder(kind: str, path: str) -> Path:
    """``path`` (``~`` expanded) as the folder a dataset kind reads; a file there is refused,
    most likely the downloaded archive, which the folder-not-found advice would say to fetch."""
    folder = Path(path).expanduser()
    if folder.is_file():
        raise DataError(f"{kind}: {folder} is a file, not a folder: extract it (tar xf {folder} "
                        f"-C DIR) and give the folder, {kind}:DIR")
    return folder


def get_dataset(ref: str, image_size: int | None = None) -> DataSplits:
    """``NAME`` or ``NAME:PATH``; ``image_size`` resizes images to a square of that side."""
    name, sep, path = str(ref).partition(":")
    entry = _DATASETS.get(name)
    if entry is None:
        forms = ", ".join(f"{n}:PATH" if e.needs_path else n for n, e in sorted(_DATASETS.items()))
        raise DataError(f"unknown dataset {ref!r}; choose one of {forms}")
    if entry.needs_path and not path:
        raise DataError(f"dataset {name!r} needs a folder: {name}:PATH")
    if not entry.needs_path and sep:
        raise DataError(f"dataset {name!r} is built in and takes no path, got {ref!r}")
    if image_size is not None and (not isinstance(image_size, int) or isinstance(image_size, bool)
                                   or image_size < 1):
        raise DataError(f"image size must be a positive integer, got {image_size!r}")
    return entry.make(path or None, image_size)
