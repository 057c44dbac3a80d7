"""Detection data by reference: ``kitti:PATH`` (a KITTI-format folder with ImageSets/train.txt
and val.txt) or ``shapes[:N]`` (the synthetic dataset, generated on first use)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import CnnspaceError
from ._anchors import KITTI_ANCHOR_IMAGE, KITTI_ANCHOR_SHAPES, fit_shapes, scale_shapes
from ._dataset import box_sizes
from ._kitti import KITTI_CLASSES, Sample, kitti_samples, read_labels
from ._shapes import SHAPE_CLASSES, DataFolderTaken, generate_shapes

SHAPES_DEFAULT_COUNT = 1000
SHAPES_CACHE = Path("runs") / "data"


@dataclass(frozen=True)
class DetectionData:
    name: str                   # the reference it came from
    classes: tuple[str, ...]
    train: list[Sample]
    val: list[Sample]
    difficulty: str             # the evaluation's default: KITTI's moderate, or all
    kitti_anchors: bool         # the official KITTI anchor shapes apply
    root: Path                  # the folder the images and labels are in (absolute)

    def anchor_shapes(self, k: int, input_hw: tuple[int, int]) -> list[list[float]]:
        """K anchor shapes in input pixels: KITTI's 9 scaled to the input, or k-means on the
        training boxes."""
        if self.kitti_anchors and k == len(KITTI_ANCHOR_SHAPES):
            return scale_shapes(KITTI_ANCHOR_SHAPES, KITTI_ANCHOR_IMAGE, input_hw)
        return fit_shapes(box_sizes(self.train, list(self.classes), input_hw), k)


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 2:
        raise CnnspaceError(f"shapes:N expects a number of images of at least 2, got {text!r}")
    return n


def shapes_folder(count: int, input_hw: tuple[int, int], seed: int = 0) -> Path:
    """The default folder of generated shapes data: one per setting, so that none is replaced."""
    h, w = input_hw
    return SHAPES_CACHE / f"shapes-{count}-{h}x{w}-s{seed}"


def open_data(ref: str, input_hw: tuple[int, int], *, classes: list[str] | None = None,
              train_split: str = "train", val_split: str = "val", data_dir: str | None = None,
              seed: int = 0, progress: bool = True) -> DetectionData:
    """``shapes`` images are generated at ``input_hw`` under ``data_dir`` (default
    runs/data/shapes-N-HxW-sSEED) and reused afterwards; a ``data_dir`` holding anything else
    (e.g. shapes of other settings) is refused, never overwritten. ``data_dir``, where given, is
    also where a ``kitti:PATH`` dataset is (as a detector records it, so that it is found from any
    working folder)."""
    kind, sep, rest = ref.partition(":")
    if kind == "shapes":
        count = _count(rest) if sep else SHAPES_DEFAULT_COUNT
        root = Path(data_dir) if data_dir else shapes_folder(count, input_hw, seed)
        _generate(root, count, input_hw, seed, progress, data_dir_given=data_dir is not None)
        chosen, difficulty, kitti = tuple(classes or SHAPE_CLASSES), "all", False
    elif kind == "kitti":
        if not rest:
            raise CnnspaceError("kitti:PATH needs the dataset folder, e.g. kitti:data/KITTI")
        root = Path(data_dir or rest)
        chosen, difficulty, kitti = tuple(classes or KITTI_CLASSES), "moderate", True
    else:
        raise CnnspaceError(f"unknown detection data {ref!r}; use kitti:PATH or shapes[:N]")
    train = kitti_samples(root, train_split)
    _check_classes(chosen, train, ref)
    return DetectionData(ref, chosen, train, kitti_samples(root, val_split), difficulty,
                         kitti and chosen == KITTI_CLASSES, root.resolve())


def _generate(root: Path, count: int, input_hw: tuple[int, int], seed: int, progress: bool,
              data_dir_given: bool) -> None:
    """Shapes into ``root``; a refused --data-dir is met with the default folder as a way out."""
    try:
        generate_shapes(root, count, *input_hw, seed=seed, progress=progress)
    except DataFolderTaken as e:
        if not data_dir_given:
            raise
        default = shapes_folder(count, input_hw, seed)
        raise e.advise(f"choose another --data-dir, or leave it out to use {default}") from None


def _check_classes(chosen: tuple[str, ...], train: list[Sample], ref: str) -> None:
    """A class with no box to learn from is a typo (a detector would carry a phantom class)."""
    present = {o.type for s in train if s.labels is not None for o in read_labels(s.labels)}
    missing = [c for c in chosen if c not in present]
    if missing:
        raise CnnspaceError(f"--classes: {', '.join(map(repr, missing))} has no box in the "
                            f"training images of {ref} (their classes: "
                            f"{', '.join(sorted(present))})")
