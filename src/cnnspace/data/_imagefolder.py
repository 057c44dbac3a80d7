"""Class-per-folder images (``PATH/train/<class>/*``, ``PATH/val/<class>/*``) decoded with Pillow."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ._augment import Augmentation
from ._errors import DataError
from ._images import ImageSet
from ._registry import DataSplits, dataset_folder, register_dataset

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".tif",
                        ".tiff"})
# The decoders those names stand for: Pillow otherwise picks one by the bytes, whatever the name,
# and an EPS file named .jpg would be handed to Ghostscript.
FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WEBP", "PPM", "TIFF")
DEFAULT_SIZE = 224
# ImageNet's channel statistics (torchvision's): the usual choice for photographs, and computing
# statistics over a folder would mean decoding all of it first.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Pillow's convert("L") weights (ITU-R 601-2 luma). A grey image is that weighted sum of its
# colours, so ImageNet's mean in grey is the same sum of its channel means; the sum of the
# channel deviations is the grey deviation where the channels move together, as in most photos.
LUMA = (0.299, 0.587, 0.114)
IMAGENET_GREY_MEAN = (sum(w * m for w, m in zip(LUMA, IMAGENET_MEAN)),)
IMAGENET_GREY_STD = (sum(w * s for w, s in zip(LUMA, IMAGENET_STD)),)
RESIZE = ("the shorter side scaled to the input's side (Pillow bilinear, the longer side "
          "rounded), then the centre cut out (offsets rounded down)")
# decode() in words, for the preprocessing a trained model records
DECODING = {"channels": "RGB, as Pillow's convert('RGB') gives it (a greyscale image in every "
                        "channel, alpha dropped; 16-bit greyscale first shifted right 8 bits)",
            "resize": RESIZE}
GREY_DECODING = {"channels": "grey (one channel): every image of the folder is greyscale, read "
                             "as Pillow's convert('L') gives it (alpha dropped; 16-bit greyscale "
                             "shifted right 8 bits)",
                 "resize": RESIZE}


def _check_pixels(im: Image.Image) -> None:
    """Refuses pixels with no 8-bit reading: Pillow's convert() clips 32-bit floats (mode F) to
    0..255 unscaled, so an image of 0..1 (a numpy export, microscopy) would train as black."""
    if im.mode == "F":
        raise ValueError("32-bit floating-point pixels (mode F) have no fixed range to read as "
                         "8 bits (Pillow clips them: values in 0..1 all become 0 or 1); save "
                         "the image with 8- or 16-bit integer pixels")


def eight_bit(im: Image.Image) -> Image.Image:
    """``im`` in a mode that Pillow's convert("L") or convert("RGB") takes as it is: 16-bit
    greyscale shifted right 8 bits, a palette with transparency as RGBA."""
    _check_pixels(im)
    if im.mode.startswith("I"):  # 16-bit grayscale: convert() would clip it to 255
        # Every image shifted alike: a dark one (all values <= 255) is dark, not white.
        values = np.asarray(im).astype(np.int64) >> 8
        return Image.fromarray(values.clip(0, 255).astype(np.uint8))
    if im.mode == "P" and "transparency" in im.info:
        # Straight to RGB, Pillow warns (two lines on stderr per image) that the transparency
        # should go through RGBA first: it does, then convert() drops alpha.
        return im.convert("RGBA")
    return im


def open_image(path: str | Path) -> Image.Image:
    """``path`` opened by one of the decoders of FORMATS; a file of another format is an
    UnidentifiedImageError (an OSError), as one Pillow cannot read."""
    return Image.open(path, formats=FORMATS)


def decode(path: Path, size: int, channels: int = 3) -> torch.Tensor:
    """uint8 (channels, size, size): the shorter side scaled to ``size``, then the centre
    cropped; 3 channels RGB, 1 grey."""
    try:
        with open_image(path) as im:
            im = eight_bit(im).convert("L" if channels == 1 else "RGB")
            w, h = im.size
            scale = size / min(w, h)
            rw, rh = max(size, round(w * scale)), max(size, round(h * scale))
            im = im.resize((rw, rh), Image.Resampling.BILINEAR)
            left, top = (rw - size) // 2, (rh - size) // 2
            im = im.crop((left, top, left + size, top + size))
            array = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: cannot decode the image: {e}") from None
    return torch.from_numpy(array.reshape(size, size, -1).copy()).permute(2, 0, 1)


def _is_grey(path: Path) -> bool:
    """Whether the image is greyscale (1-bit, 8-bit or 16-bit grey, with alpha or not), from its
    header. A palette image counts as colour: its palette may hold colours."""
    try:
        with open_image(path) as im:
            _check_pixels(im)  # from the header, before any training
            return Image.getmodebase(im.mode) == "L"
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: cannot decode the image: {e}") from None


def image_channels(files: list[Path]) -> int:
    """1 where every image is greyscale (an MNIST export: three equal planes would triple the
    first layer's work for nothing), else 3, the greyscale ones then read as RGB. Stops at the
    first colour image, so a folder of photographs costs one header."""
    return 1 if all(_is_grey(f) for f in files) else 3


class FolderImages(ImageSet):
    """Image files decoded on demand (in DataLoader worker processes when there are any)."""

    def __init__(self, files: list[Path], labels: list[int], size: int,
                 augmentation: Augmentation | None = None, channels: int = 3):
        if channels not in (1, 3):
            raise DataError(f"FolderImages: channels must be 1 (grey) or 3 (RGB), got "
                            f"{channels!r}")
        grey = channels == 1
        super().__init__(torch.tensor(labels, dtype=torch.int64),
                         IMAGENET_GREY_MEAN if grey else IMAGENET_MEAN,
                         IMAGENET_GREY_STD if grey else IMAGENET_STD, augmentation)
        self.files = files
        self.size = size
        self.channels = channels

    def _images(self, indices: list[int]) -> torch.Tensor:
        return torch.stack([decode(self.files[i], self.size, self.channels) for i in indices])


def _image_files(folder: Path) -> list[Path]:
    """The image files under ``folder``, also in linked folders (as torchvision's ImageFolder:
    rglob skipped them), each real folder once (a link to a folder above would loop); hidden
    folders and files (.ipynb_checkpoints/, macOS ._* files) are none."""
    files, seen = [], set()
    for top, folders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = [d for d in folders if not d.startswith(".")]
        for name in names:
            path = Path(top, name)
            if name.startswith(".") or path.suffix.lower() not in EXTENSIONS:
                continue
            if path.is_file():
                files.append(path)
            elif path.is_symlink():  # an image meant to be there: training without it is wrong
                raise DataError(f"{path}: a link to {os.readlink(path)}, which does not exist")
    return sorted(files)


def _scan(split: Path, classes: list[str] | None) -> tuple[list[str], list[Path], list[int]]:
    if not split.is_dir():
        raise DataError(f"{split}: missing; imagefolder expects PATH/train/<class>/<image> and "
                        "PATH/val/<class>/<image>")
    # Hidden entries (.ipynb_checkpoints/, macOS ._* files) are no classes and no images.
    found = sorted(d.name for d in split.iterdir() if d.is_dir() and not d.name.startswith("."))
    training = classes is None
    if training:
        classes = found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise DataError(f"{split / unknown[0]}: class folder not present under train/")
    files, labels = [], []
    for label, name in enumerate(classes):
        folder = split / name
        if folder.is_dir():
            images = _image_files(folder)
            if training and not images:
                raise DataError(f"{folder}: a class folder without images "
                                f"({', '.join(sorted(EXTENSIONS))}); remove it or add some")
            files += images
            labels += [label] * len(images)
    if not files:
        raise DataError(f"{split}: no images ({', '.join(sorted(EXTENSIONS))}) in class folders")
    return classes, files, labels


@register_dataset("imagefolder", "images in PATH/train/<class>/ and PATH/val/<class>/ "
                  "(decoded with Pillow; --image-size, default 224; one channel where every "
                  "image is greyscale, else RGB)", needs_path=True)
def imagefolder(path: str, image_size: int | None) -> DataSplits:
    root = dataset_folder("imagefolder", path)
    classes, train_files, train_labels = _scan(root / "train", None)
    if len(classes) < 2:
        raise DataError(f"{root / 'train'}: needs at least two class folders, found {classes}")
    _, val_files, val_labels = _scan(root / "val", classes)
    size = image_size or DEFAULT_SIZE
    # Both splits: the network takes one kind of image, which evaluation must read alike.
    channels = image_channels(train_files + val_files)
    train = FolderImages(train_files, train_labels, size,
                         Augmentation(pad=max(1, size // 8), flip=True), channels)
    test = FolderImages(val_files, val_labels, size, channels=channels)
    # Named by the absolute folder: a run's record finds its data from any working folder.
    return DataSplits(f"imagefolder:{root.resolve()}", train, test, len(classes),
                      (channels, size, size), tuple(classes),
                      decoding=GREY_DECODING if channels == 1 else DECODING)
