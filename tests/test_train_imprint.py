"""Weight imprinting of the output layer (Qi, Brown and Lowe, CVPR 2018): what it sets, where it
applies, and the dead SqueezeNet classes on digits that it is there for."""
from __future__ import annotations

import pytest
import torch

from cnnspace.data import get_dataset
from cnnspace.nn import build
from cnnspace.spec import loads
from cnnspace.train import Callback, ConfigError, TrainConfig, train, zoo_spec
from cnnspace.train._imprint import classifier_layer, imprint

HEAD_3X3 = """
name: head3x3
input: [1, 8, 8]
layers:
  - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1}
  - {name: conv2, type: conv2d, out_channels: 10, kernel: 3}
  - {name: pool, type: global_avgpool}
  - {name: logits, type: flatten}
"""


@pytest.fixture(scope="module")
def digits():
    return get_dataset("digits")


def _scores(module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The output layer's scores (before its ReLU, which works in place), one row per image."""
    kept = []
    hook = module.layers[layer].register_forward_hook(
        lambda m, i, o: kept.append(o.flatten(1).clone()))
    with torch.no_grad():
        module.eval()(x)
    hook.remove()
    return kept[0]


def test_the_classifier_layer_is_found_through_relu_pool_and_flatten(digits):
    assert classifier_layer(zoo_spec("squeezenet1_1", digits)) == "conv10"
    assert classifier_layer(zoo_spec("vgg11", get_dataset("digits", image_size=64))) == "fc8"
    with pytest.raises(ConfigError, match="comes from layer 'conv2' \\(conv2d\\)"):
        classifier_layer(loads(HEAD_3X3))


def test_imprinting_revives_the_classes_squeezenet_starts_with_dead(digits):
    spec = zoo_spec("squeezenet1_1", digits)
    torch.manual_seed(0)
    module = build(spec)
    x, y = digits.test.batch(range(len(digits.test)))
    before = _scores(module, "conv10", x)
    norms = module.layers["conv10"].weight.flatten(1).norm(dim=1)
    # torchvision's init: a class no image scores above zero gets no gradient (6 of 10 here)
    assert ((before > 0).sum(0) == 0).sum() >= 2
    imprint(module, spec, digits.train, 10, 256, torch.device("cpu"))
    after = _scores(module, "conv10", x)
    assert ((after > 0).sum(0) > 0).all()
    # each class now scores higher on its own images than on the others
    own = torch.stack([after[y == k, k].mean() for k in range(10)])
    other = torch.stack([after[y != k, k].mean() for k in range(10)])
    assert (own > other).all()
    # the spec's scale is kept, and the bias centres the scores over the training images
    torch.testing.assert_close(module.layers["conv10"].weight.flatten(1).norm(dim=1), norms)
    train_x, _ = digits.train.batch(range(len(digits.train)))
    assert _scores(module, "conv10", train_x).mean(0).abs().max() < 1e-4


def test_imprinting_is_for_classifiers_only(digits):
    grouped = loads(HEAD_3X3.replace("kernel: 3}\n  - {name: pool", "kernel: 1, groups: 2}\n"
                                     "  - {name: pool"))
    with pytest.raises(ConfigError, match="layer 'conv2' \\(grouped 1x1 conv2d\\)"):
        classifier_layer(grouped)
    config = TrainConfig(epochs=1, classifier_init="imprint", progress=False)
    with pytest.raises(ConfigError, match="has its own loss"):
        train(zoo_spec("squeezenet1_1", digits), digits, config,
              loss_fn=torch.nn.functional.cross_entropy)


def test_imprinting_never_overwrites_given_weights(digits):
    spec = zoo_spec("squeezenet1_1", digits)
    module = build(spec)
    given = module.layers["conv10"].weight.clone()

    class First(Callback):
        def on_train_start(self, state):
            self.weight = state.model.layers["conv10"].weight.clone()

    first = First()
    config = TrainConfig(epochs=1, batch_size=256, classifier_init="imprint", progress=False,
                         device="cpu")
    train(module, digits, config, callbacks=[first])
    assert torch.equal(first.weight, given)
    train(spec, digits, config, callbacks=[first])
    assert not torch.equal(first.weight, given)
