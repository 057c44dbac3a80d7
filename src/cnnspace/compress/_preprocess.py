"""A dataset prepared as a trained model's own training images were."""
from __future__ import annotations

import torch

from ..data import DataError, DataSplits, get_dataset
from ._errors import CompressError


def trained_data(where: str, recorded: str | None, given: str | None,
                 image_size: int) -> DataSplits:
    """``given`` (--data), else the dataset the model records. A recorded one that cannot be
    read (a folder moved, another machine) says that the model named it and how to give another:
    the user typed no dataset, so the data error alone would not say where it came from."""
    if given:
        return get_dataset(given, image_size=image_size)
    if not recorded:
        raise CompressError(f"{where}: does not record its dataset; give --data DATASET")
    try:
        return get_dataset(recorded, image_size=image_size)
    except DataError as e:
        raise DataError(f"{where} was trained on {recorded}, which cannot be read here ({e}): "
                        "give --data DATASET") from None


def check_input(where: str, data: DataSplits, trained_input) -> None:
    """Refuses data whose images are not of the size and channels the weights were trained
    on (--data of another dataset): torch would fail on them with a traceback, or a network
    of global pooling would run on them and score nonsense."""
    if tuple(data.input_shape) != tuple(trained_input):
        raise CompressError(f"{where} was trained on {'x'.join(map(str, trained_input))} "
                            f"images; {data.name} has {'x'.join(map(str, data.input_shape))}")


def as_trained(where: str, data, preprocessing: dict | None) -> None:
    """Normalises ``data``'s splits with the statistics ``preprocessing`` recorded at training
    (another dataset's own statistics would shift every input the model sees) and refuses
    classes in another order (its outputs would be scored against other classes)."""
    if not preprocessing:
        return
    classes = tuple(preprocessing.get("classes") or ())
    if classes and data.classes and classes != tuple(data.classes):
        raise CompressError(f"{where} was trained on the classes {', '.join(classes)}; "
                            f"{data.name} has {', '.join(data.classes)}: its labels would be "
                            "scored against other classes")
    if "mean" not in preprocessing or "std" not in preprocessing:
        return
    for split in (data.train, data.test):
        if hasattr(split, "mean"):
            split.mean = torch.tensor(preprocessing["mean"], dtype=torch.float32)
            split.std = torch.tensor(preprocessing["std"], dtype=torch.float32)
