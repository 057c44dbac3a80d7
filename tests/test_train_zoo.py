"""Every zoo model trains: classifiers for a step on images of the dataset's size and class
count; models that are not classifiers are refused with a message saying why."""
from __future__ import annotations

import pytest
import torch

from cnnspace.data import Augmentation, DataSplits, TensorImages
from cnnspace.spec import SpecError, resolve
from cnnspace.train import TrainConfig, train
from cnnspace.zoo import get_spec, list_models

pytestmark = pytest.mark.slow

# 96x96 is about the smallest input every zoo classifier accepts (googlenet_aux's auxiliary
# heads pool 5x5 windows of inception 4a's output).
SHAPE, CLASSES = (3, 96, 96), 3


def _is_classifier(name: str) -> bool:
    graph = resolve(get_spec(name, num_classes=CLASSES, input=SHAPE))
    return all(tuple(s) == (CLASSES,) for s in graph.output_shapes())


CLASSIFIERS = [n for n in list_models() if _is_classifier(n)]
OTHERS = [n for n in list_models() if n not in CLASSIFIERS]


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (3, *SHAPE), dtype=torch.uint8, generator=g)
    labels = torch.tensor([0, 1, 2])
    stats = ([0.5] * 3, [0.25] * 3)
    return DataSplits("synthetic", TensorImages(pixels[:2], labels[:2], *stats,
                                                Augmentation(pad=4, flip=True)),
                      TensorImages(pixels[2:], labels[2:], *stats), CLASSES, SHAPE)


def test_the_zoo_has_its_classifiers():
    assert {"alexnet", "vgg16", "nin", "googlenet_aux", "squeezenet1_0", "squeezenet1_1",
            "firenet"} <= set(CLASSIFIERS)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_zoo_classifier_trains_a_step(name, images):
    result = train(name, images, TrainConfig(epochs=1, batch_size=2, progress=False))
    assert result.steps == 1 and result.final["test_images"] == 1
    assert torch.isfinite(torch.tensor(result.final["loss"]))
    assert result.analysis["input"] == list(SHAPE)


@pytest.mark.parametrize("name", OTHERS)
def test_other_zoo_models_need_their_own_loss(name, images):
    with pytest.raises(SpecError, match="a classifier must give one score per class"):
        train(name, images, TrainConfig(epochs=1, batch_size=2, progress=False))
