"""The KITTI object format: ``image_2/NAME.png`` + ``label_2/NAME.txt``, one object a line:

    type truncated occluded alpha x1 y1 x2 y2 height width length x y z rotation_y [score]

``DontCare`` lines mark regions with unlabelled objects. Splits are file lists of names, one a
line, in ``ImageSets/SPLIT.txt`` (the layout of the official SqueezeDet code).
"""
from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .._atomic import write_text_atomic
from ..errors import CnnspaceError

DONT_CARE = "DontCare"
KITTI_CLASSES = ("Car", "Pedestrian", "Cyclist")
IMAGE_DIR, LABEL_DIR, SPLIT_DIR = "image_2", "label_2", "ImageSets"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_READ = f"only {', '.join(IMAGE_SUFFIXES)} images are read"
FIELDS = ("type", "truncated", "occluded", "alpha", "x1", "y1", "x2", "y2", "height", "width",
          "length", "x", "y", "z", "rotation_y", "score")


@dataclass(frozen=True)
class KittiObject:
    type: str
    bbox: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
    truncated: float = 0.0                    # 0 (inside the image) .. 1 (leaving it)
    occluded: int = 0                         # 0 visible, 1 partly, 2 largely, 3 unknown
    alpha: float = -10.0                      # observation angle; -10 when unknown
    dimensions: tuple[float, float, float] = (-1.0, -1.0, -1.0)  # 3-D height, width, length (m)
    location: tuple[float, float, float] = (-1000.0, -1000.0, -1000.0)  # camera coordinates (m)
    rotation_y: float = -10.0
    score: float | None = None                # only in result files

    def line(self) -> str:
        numbers = [self.truncated, self.alpha, *self.bbox, *self.dimensions, *self.location,
                   self.rotation_y]
        fields = [self.type, f"{numbers[0]:.2f}", str(self.occluded)] + [f"{v:.2f}"
                                                                       for v in numbers[1:]]
        return " ".join(fields + ([f"{self.score:.4f}"] if self.score is not None else []))


def parse_line(line: str, source: str = "<labels>", lineno: int = 1) -> KittiObject:
    parts = line.split()
    where = f"{source}:{lineno}"
    if len(parts) not in (15, 16):
        raise CnnspaceError(f"{where}: a KITTI label line has 15 fields (16 with a score), got "
                            f"{len(parts)}: {line.strip()!r}")
    values = []
    for number, (name, text) in enumerate(zip(FIELDS[1:], parts[1:]), 2):
        try:
            values.append(float(text))
        except ValueError:
            raise CnnspaceError(f"{where}: field {number} ({name}) must be a number, got "
                                f"{text!r}: {line.strip()!r}") from None
    for number, (name, value) in enumerate(zip(FIELDS[1:], values), 2):
        # NaN passes every comparison (x2 >= x1, the difficulty filters) and int() fails on inf
        if not math.isfinite(value):
            raise CnnspaceError(f"{where}: field {number} ({name}) must be a finite number, got "
                                f"{parts[number - 1]}")
    if not values[1].is_integer():
        raise CnnspaceError(f"{where}: field 3 (occluded) must be an integer, got {parts[2]}")
    x1, y1, x2, y2 = values[3:7]
    if x2 < x1 or y2 < y1:
        raise CnnspaceError(f"{where}: bbox must have x2 >= x1 and y2 >= y1, got "
                            f"{[x1, y1, x2, y2]}")
    return KittiObject(parts[0], (x1, y1, x2, y2), values[0], int(values[1]), values[2],
                       tuple(values[7:10]), tuple(values[10:13]), values[13],
                       values[14] if len(values) == 15 else None)


def _read_text(path: Path, what: str) -> str:
    try:
        # utf-8-sig: a byte order mark (Windows editors write one) would be part of the first
        # object's type, which would then match no class
        return path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise CnnspaceError(f"cannot read {what} {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise CnnspaceError(f"cannot read {what} {path}: it is not UTF-8 text (byte "
                            f"0x{e.object[e.start]:02x} at offset {e.start})") from None


def read_labels(path: str | os.PathLike) -> list[KittiObject]:
    path = Path(path)
    text = _read_text(path, "labels")
    return [parse_line(line, str(path), i) for i, line in enumerate(text.splitlines(), 1)
            if line.strip()]


def write_labels(path: str | os.PathLike, objects: list[KittiObject], durable: bool = True
                 ) -> None:
    write_text_atomic(path, "".join(o.line() + "\n" for o in objects), durable)


@dataclass(frozen=True)
class Sample:
    name: str
    image: Path
    labels: Path | None  # None: an unlabelled image (prediction only)


def _dataset_root(root: Path) -> Path:
    """KITTI ships ``training/image_2``; accept the dataset folder or its ``training`` folder."""
    for candidate in (root, root / "training"):
        if (candidate / IMAGE_DIR).is_dir():
            return candidate
    raise CnnspaceError(f"{root} is not a KITTI-format dataset: no {IMAGE_DIR}/ folder in it "
                        "(nor in training/)")


def kitti_samples(root: str | os.PathLike, split: str | None = None) -> list[Sample]:
    """The labelled images of a KITTI-format dataset. ``split``: a name in ``ImageSets/`` (train,
    val, trainval, ...), a path to a file list, or None for every image."""
    base = _dataset_root(Path(root))
    images: dict[str, Path] = {}
    others: dict[str, str] = {}  # files of other types, by name: the hint where one is missing
    for p in sorted((base / IMAGE_DIR).iterdir()):
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            others.setdefault(p.stem, p.name)
            continue
        if p.stem in images:  # one label file, two images: which one it describes is unknown
            raise CnnspaceError(f"{images[p.stem]} and {p.name} share the name {p.stem!r}; "
                                f"KITTI names an image and its labels alike: keep one")
        images[p.stem] = p
    if split is None:
        names = sorted(images)
    else:
        if Path(split).suffix == ".txt":
            places = [Path(split)]
        else:  # beside image_2, or beside the training folder that holds it (KITTI's layout)
            places = [base / SPLIT_DIR / f"{split}.txt", base.parent / SPLIT_DIR / f"{split}.txt"]
        listing = next((p for p in places if p.is_file()), None)
        if listing is None:
            where = (f"{places[0]} does not exist" if len(places) == 1 else
                     f"{' nor '.join(map(str, places))} exists")
            raise CnnspaceError(f"no file list for split {split!r}: {where}")
        names = [n.strip() for n in _read_text(listing, "file list").splitlines() if n.strip()]
        twice = next((n for n, c in Counter(names).items() if c > 1), None)
        if twice is not None:  # its boxes would count twice in training and in every AP
            raise CnnspaceError(f"{listing}: {twice!r} is listed {names.count(twice)} times; "
                                "list each image once")
    missing = [n for n in names if n not in images]
    if missing:
        stem = Path(missing[0]).stem
        hint = (f" (a file list names an image as its labels are named, without folder or "
                f"extension: {stem}, not {missing[0]})" if stem in images else
                f" ({others[missing[0]]} is there, but {_READ})" if missing[0] in others else "")
        raise CnnspaceError(f"{len(missing)} image(s) of the split are missing from "
                            f"{base / IMAGE_DIR}, e.g. {missing[0]!r}{hint}")
    samples = []
    for n in names:
        labels = base / LABEL_DIR / f"{n}.txt"
        if not labels.is_file():
            raise CnnspaceError(f"no labels for image {n!r}: {labels} does not exist")
        samples.append(Sample(n, images[n], labels))
    if not samples:
        raise CnnspaceError(f"the dataset {base} has no images" +
                            (f" in split {split!r}" if split else "") +
                            (f" ({IMAGE_DIR}/ holds e.g. {next(iter(others.values()))}, but "
                             f"{_READ})" if others and not images else ""))
    return samples


def write_split(root: str | os.PathLike, split: str, names: list[str]) -> None:
    write_text_atomic(Path(root) / SPLIT_DIR / f"{split}.txt", "".join(n + "\n" for n in names))
