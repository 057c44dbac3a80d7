"""A synthetic detection dataset: rectangles, ellipses and triangles of varied size and colour on
textured (smooth colour blotches), noisy backgrounds, several per image, written to disk in KITTI
format so that every command and test runs offline. Deterministic in its seed."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from rich.progress import track

from .._atomic import write_atomic, write_text_atomic
from ..errors import CnnspaceError
from ._kitti import IMAGE_DIR, LABEL_DIR, KittiObject, write_labels, write_split

SHAPE_CLASSES = ("Rectangle", "Ellipse", "Triangle")
MANIFEST = "shapes.json"          # a complete dataset's settings, written last
PENDING = "shapes.pending.json"   # the settings of a generation in progress, written first
MAX_OVERLAP = 0.1   # IoU allowed between two objects: a little occlusion, never a hidden object
MIN_CONTRAST = 150  # summed RGB difference between an object and the background behind it
GENERATOR_VERSION = 3  # part of the manifest: a changed generator never reuses old images


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A base colour with smooth blotches (texture); pixel noise is added after the shapes."""
    base = rng.uniform(40, 215, 3)
    coarse = rng.normal(0, 25, (4, 4, 3))
    blotches = np.asarray(Image.fromarray(((coarse + 128).clip(0, 255)).astype(np.uint8))
                          .resize((width, height), Image.BICUBIC), dtype=np.float64) - 128
    return (base + blotches).clip(0, 255)


def _colour(rng: np.random.Generator, behind: np.ndarray) -> tuple[int, int, int]:
    for _ in range(100):
        colour = rng.uniform(0, 255, 3)
        if np.abs(colour - behind).sum() >= MIN_CONTRAST:
            break
    return tuple(int(c) for c in colour)


def _draw(draw: ImageDraw.ImageDraw, kind: str, box, colour, rng: np.random.Generator) -> None:
    x1, y1, x2, y2 = box
    if kind == "Rectangle":
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=colour)
    elif kind == "Ellipse":
        draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=colour)
    else:  # apex anywhere along the top (or bottom) edge: the box stays tight
        apex = float(rng.uniform(x1, x2 - 1))
        base_y, apex_y = (y2 - 1, y1) if rng.random() < 0.5 else (y1, y2 - 1)
        draw.polygon([(x1, base_y), (x2 - 1, base_y), (apex, apex_y)], fill=colour)


def render(rng: np.random.Generator, height: int, width: int, objects: tuple[int, int],
           object_size: tuple[int, int]) -> tuple[Image.Image, list[KittiObject]]:
    """One image and its labels."""
    background = _background(rng, height, width)
    image = Image.fromarray(background.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    labels: list[KittiObject] = []
    wanted = int(rng.integers(objects[0], objects[1] + 1))
    for _ in range(wanted * 20):
        if len(labels) == wanted:
            break
        side = rng.uniform(*object_size)
        aspect = float(np.exp(rng.uniform(-0.5, 0.5)))
        w = int(min(width, max(6, round(side * aspect))))
        h = int(min(height, max(6, round(side / aspect))))
        x1, y1 = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        box = (float(x1), float(y1), float(x1 + w), float(y1 + h))
        if any(_iou(box, o.bbox) > MAX_OVERLAP for o in labels):
            continue
        kind = SHAPE_CLASSES[int(rng.integers(len(SHAPE_CLASSES)))]
        behind = background[y1:y1 + h, x1:x1 + w].reshape(-1, 3).mean(0)
        _draw(draw, kind, box, _colour(rng, behind), rng)
        labels.append(KittiObject(kind, box))
    noisy = np.asarray(image, dtype=np.float64) + rng.normal(0, 8, (height, width, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8)), labels


def generate_shapes(root: str | os.PathLike, count: int = 600, height: int = 128, width: int = 128,
                    objects: tuple[int, int] = (1, 4), object_size: tuple[int, int] | None = None,
                    val_fraction: float = 0.2, seed: int = 0, progress: bool = True) -> Path:
    """Writes ``count`` images with labels and train/val file lists under ``root``; a dataset
    already there with the same settings is reused, and a folder holding anything else (another
    dataset, other files) is refused, never overwritten. ``object_size``: side range in pixels
    (default a sixth to a half of the shorter image side)."""
    if count < 2:
        raise CnnspaceError(f"the shapes dataset needs at least 2 images, got {count}")
    if not 0 < val_fraction < 1:
        raise CnnspaceError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if min(height, width) < 16:
        raise CnnspaceError(f"shapes images must be at least 16x16, got {height}x{width}")
    if object_size is None:
        object_size = (min(height, width) // 6, min(height, width) // 2)
    root = Path(root)
    settings = {"version": GENERATOR_VERSION, "count": count, "height": height, "width": width,
                "objects": list(objects), "object_size": list(object_size),
                "val_fraction": val_fraction, "seed": seed}
    if _holds_dataset(root, settings):
        return root
    write_text_atomic(root / PENDING, json.dumps(settings, indent=2) + "\n")
    rng = np.random.default_rng(seed)
    names = [f"{i:06d}" for i in range(count)]
    for name in track(names, description="generating shapes", disable=not progress):
        image, labels = render(rng, height, width, objects, object_size)
        # Each file renamed into place whole (torchrun workers may write the same one), with one
        # flush of them all before the manifest: an fsync of each, and PNG's default compression,
        # were half the time of generating the files.
        write_atomic(root / IMAGE_DIR / f"{name}.png",
                     lambda f, im=image: im.save(f, "PNG", compress_level=1), durable=False)
        write_labels(root / LABEL_DIR / f"{name}.txt", labels, durable=False)
    n_val = max(1, round(count * val_fraction))
    write_split(root, "train", names[:-n_val])
    write_split(root, "val", names[-n_val:])
    os.sync()
    write_text_atomic(root / MANIFEST, json.dumps(settings, indent=2) + "\n")  # marks it complete
    (root / PENDING).unlink(missing_ok=True)  # torchrun workers may generate side by side
    return root


class DataFolderTaken(CnnspaceError):
    """A folder asked to hold a shapes dataset holds something else: it is never overwritten."""

    def __init__(self, root: Path, holds: str, wanted: str,
                 advice: str = "remove it or choose another folder"):
        self.root, self.holds, self.wanted = root, holds, wanted
        super().__init__(f"{root} holds {holds}, not the requested {wanted}: {advice}")

    def advise(self, advice: str) -> "DataFolderTaken":
        return DataFolderTaken(self.root, self.holds, self.wanted, advice)


def _holds_dataset(root: Path, settings: dict) -> bool:
    """True where ``root`` holds the dataset of ``settings`` (reuse it); False where it may be
    generated there: no folder, an empty one, or one whose generation of these very settings was
    interrupted. Anything else is someone's data, which raises DataFolderTaken."""
    if root.exists() and not root.is_dir():
        raise DataFolderTaken(root, "a file", _describe(settings))
    manifest = _read_settings(root / MANIFEST)
    if manifest == settings:
        return True
    if manifest is not None:
        raise DataFolderTaken(root, _describe(manifest, settings), _describe(settings, manifest))
    if not root.exists() or not any(root.iterdir()):
        return False
    pending = _read_settings(root / PENDING)
    if pending == settings:
        return False
    if pending is not None:
        raise DataFolderTaken(root, "an unfinished generation of "
                              + _describe(pending, settings), _describe(settings, pending))
    entries = sorted(p.name for p in root.iterdir())
    more = f" and {len(entries) - 1} more" if len(entries) > 1 else ""
    raise DataFolderTaken(root, f"files of its own ({entries[0]!r}{more})", _describe(settings))


def _read_settings(path: Path) -> dict | None:
    """The settings a manifest holds; None where there is none ({} where it is unreadable)."""
    if not path.is_file():
        return None
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def _describe(settings: dict, other: dict | None = None) -> str:
    """``shapes:N at HxW, seed S``, plus the settings in which it differs from ``other``."""
    if not settings:
        return f"an unreadable {MANIFEST}"
    text = (f"shapes:{settings.get('count')} at {settings.get('height')}x"
            f"{settings.get('width')}, seed {settings.get('seed')}")
    differing = [f"{label} {settings.get(key)}" for key, label in _OTHER_SETTINGS.items()
                 if other is not None and settings.get(key) != other.get(key)]
    return text + (f" ({', '.join(differing)})" if differing else "")


_OTHER_SETTINGS = {"version": "generator version", "objects": "objects per image",
                   "object_size": "object size", "val_fraction": "validation fraction"}
