"""Detection data by reference: ``kitti:PATH`` (a KITTI-format folder with ImageSets/train.txt
and val.txt) or ``shapes[:N]`` (the synthetic dataset, generated on first use)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import CnnspaceError
from ._anchors import KITTI_ANCHOR_IMAGE, KITTI_ANCHOR_SHAPES, fit_shapes, scale_shapes
from ._dataset import box_sizes
from ._kitti import DONT_CARE, KITTI_CLASSES, Sample, kitti_samples, read_labels
from ._shapes import SHAPE_CLASSES, DataFolderTaken, generate_shapes

SHAPES_DEFAULT_COUNT = 1000
SHAPES_CACHE = Path("runs") / "data"
DEFAULT_CLASSES = {"kitti": "KITTI's classes", "shapes": "the shapes classes"}  # for errors


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
        sizes = box_sizes(self.train, list(self.classes), input_hw)
        if len(sizes) < k:  # fit_shapes would say so too, without naming the data or the way out
            raise CnnspaceError(f"the training images of {self.name} hold {len(sizes)} boxes of "
                                f"their classes, too few to fit {k} anchor shapes: train on more "
                                "images or set anchors_per_cell (--set anchors_per_cell=K) "
                                f"to at most {len(sizes)}")
        return fit_shapes(sizes, k)


def is_detection_data(ref: str | None) -> bool:
    """Whether ``ref`` names detection data (``kitti:PATH``, ``shapes[:N]``), as a detector's
    training checkpoint records it."""
    return isinstance(ref, str) and ref.partition(":")[0] in DEFAULT_CLASSES


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 2:
        raise CnnspaceError(f"shapes:N expects a number of images of at least 2, got {text!r}")
    return n


def _parse(ref: str) -> tuple[str, int | str]:
    """("shapes", N) or ("kitti", PATH)."""
    kind, sep, rest = ref.partition(":")
    if kind == "shapes":
        return kind, _count(rest) if sep else SHAPES_DEFAULT_COUNT
    if kind == "kitti":
        if not rest:
            raise CnnspaceError("kitti:PATH needs the dataset folder, e.g. kitti:data/KITTI")
        return kind, rest
    raise CnnspaceError(f"unknown detection data {ref!r}; use kitti:PATH or shapes[:N]")


def check_data(ref: str, classes: list[str] | None = None,
               every_class: bool = True) -> tuple[str, ...]:
    """The classes ``open_data(ref, classes=classes)`` gives, checked as far as can be before any
    data is read or generated (the reference; for shapes, with ``every_class``, classes it never
    draws), so that a detector for them is checked before that too."""
    kind, _ = _parse(ref)
    _check_names(classes)
    if classes and DONT_CARE in classes:
        # learning it would teach the detector those regions, which evaluation ignores
        raise CnnspaceError(f"--classes: {DONT_CARE} marks regions of unlabelled objects, not a "
                            "class to detect")
    if kind == "shapes":
        chosen = tuple(classes or SHAPE_CLASSES)
        if every_class:
            _check_classes(chosen, set(SHAPE_CLASSES), "shapes images")
        return chosen
    return tuple(classes or KITTI_CLASSES)


def _check_names(classes: list[str] | None) -> None:
    """Class names as --classes gives them: each once (a repeated one would be a second output
    that nothing trains), none empty."""
    if classes is None:
        return
    if not classes or "" in classes:
        raise CnnspaceError(f"--classes: an empty class name in {','.join(classes)!r}")
    repeated = next((c for i, c in enumerate(classes) if c in classes[:i]), None)
    if repeated is not None:
        raise CnnspaceError(f"--classes: {repeated!r} is given twice")


def shapes_folder(count: int, input_hw: tuple[int, int], seed: int = 0) -> Path:
    """The default folder of generated shapes data: one per setting, so that none is replaced."""
    h, w = input_hw
    return SHAPES_CACHE / f"shapes-{count}-{h}x{w}-s{seed}"


def open_data(ref: str, input_hw: tuple[int, int], *, classes: list[str] | None = None,
              train_split: str = "train", val_split: str = "val", data_dir: str | None = None,
              seed: int = 0, progress: bool = True, every_class: bool = True) -> DetectionData:
    """``shapes`` images are generated at ``input_hw`` under ``data_dir`` (default
    runs/data/shapes-N-HxW-sSEED) and reused afterwards; a ``data_dir`` holding anything else
    (e.g. shapes of other settings) is refused, never overwritten. ``data_dir``, where given, is
    also where a ``kitti:PATH`` dataset is (as a detector records it, so that it is found from any
    working folder). ``every_class``: each of ``classes`` must have a box in the training split
    (for training, a class without one is a typo); False to evaluate a detector on images that
    hold only some of its classes (the others get no AP)."""
    chosen = check_data(ref, classes, every_class)
    kind, where = _parse(ref)
    if kind == "shapes":
        root = Path(data_dir) if data_dir else shapes_folder(where, input_hw, seed)
        _generate(root, where, input_hw, seed, progress, data_dir_given=data_dir is not None)
        difficulty, kitti = "all", False
    else:
        root = Path(data_dir or where)
        difficulty, kitti = "moderate", True
    train = kitti_samples(root, train_split)
    if every_class:
        _check_classes(chosen, _classes_in(train), f"the training images of {ref}",
                       None if classes else DEFAULT_CLASSES[kind])
    return DetectionData(ref, chosen, train, kitti_samples(root, val_split), difficulty,
                         kitti and sorted(chosen) == sorted(KITTI_CLASSES), root.resolve())


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


def _classes_in(samples: list[Sample]) -> set[str]:
    return {o.type for s in samples if s.labels is not None for o in read_labels(s.labels)
            if o.type != DONT_CARE}


def _check_classes(chosen: tuple[str, ...], present: set[str], where: str,
                   default: str | None = None) -> None:
    """A class with no box to learn from is a typo (a detector would carry a phantom class).
    ``default``: what the classes are where they are the data's defaults, not --classes."""
    missing = [c for c in chosen if c not in present]
    if missing:
        asked = f"{default} (the default; choose with --classes)" if default else "--classes"
        verb = "has" if len(missing) == 1 else "have"
        raise CnnspaceError(f"{asked}: {', '.join(map(repr, missing))} {verb} no box in {where} "
                            f"(their classes: {', '.join(sorted(present))})")
