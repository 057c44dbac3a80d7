"""Centroid fine-tuning when some layers are shared and others keep raw float32 values; what
the stages of the pipeline say as they go."""
import pytest
import torch

from cnnspace import Layer, NetSpec
from cnnspace.compress import CompressError, CompressOptions, Trained
from cnnspace.compress import _pipeline as pipeline
from cnnspace.data import get_dataset
from cnnspace.nn import build
from cnnspace.train import TrainConfig


def _small_trained() -> Trained:
    data = get_dataset("digits", image_size=8)
    spec = NetSpec("small", data.input_shape, [
        Layer("conv", "conv2d", attrs={"out_channels": 8, "kernel": 3, "padding": 1}),
        Layer("relu", "relu"), Layer("pool", "global_avgpool"), Layer("flat", "flatten"),
        Layer("fc", "linear", attrs={"out_features": data.num_classes})])
    torch.manual_seed(0)
    return Trained("small", spec, build(spec), data,
                   TrainConfig(epochs=1, progress=False, device="cpu"))


def test_raw_layers_keep_their_mask_and_their_fine_tuned_values(monkeypatch):
    # --bits conv=32 with retraining: during the fc's centroid fine-tuning the raw conv's
    # pruned weights grew back, and the conv was then stored as it was before fine-tuning,
    # so the stored fc centroids had been tuned to other conv weights than the file holds.
    trained = _small_trained()
    model = trained.model
    options = CompressOptions({"sparsity": 0.5}, {"conv": 32, "fc": 4}, retrain_epochs=1)
    tuned = {}
    retrain = pipeline.retrain

    def remembering(model, *args):
        result = retrain(model, *args)
        tuned[args[-1]] = model.layers["conv"].weight.detach().cpu().clone()
        return result

    monkeypatch.setattr(pipeline, "retrain", remembering)
    masks = pipeline.prune(model, trained, options)
    pruned = model.layers["conv"].weight.detach().cpu().clone()
    codes = pipeline.share(model, trained, masks, options)
    during = tuned["centroid fine-tuning"]
    assert not during[~masks["conv"]].any()                       # the mask held
    assert not torch.equal(during, pruned)                        # the conv was fine-tuned
    stored = model.layers["conv"].weight.detach().cpu()  # retraining ran on a GPU if any
    assert torch.equal(stored, during)                            # and kept as fine-tuned
    assert torch.equal(torch.from_numpy(codes["conv"].dense()), stored)
    assert codes["conv"].bits == 32 and codes["fc"].bits == 4


def test_each_stage_says_what_it_does(tmp_path):
    # AlexNet's 61M weights took 18 s to sort by magnitude and 10 s to write, read back and
    # check here, VGG-16's twice that: without retraining nothing was said between "before
    # compression" and the final table.
    from cnnspace.compress import compress
    notes = []
    compress(_small_trained(), CompressOptions({"sparsity": 0.5, "steps": 2}, retrain_epochs=1),
             tmp_path / "z", notes.append)
    assert [n for n in notes if "weights removed" in n] == [
        "pruning round 1/2: 25.0% of the weights removed",
        "pruning round 2/2: 50.0% of the weights removed"]
    assert "pruning round 1/2: retraining 1 epoch" in notes
    assert notes[-1].startswith(f"writing {tmp_path / 'z' / 'model.cnnz'}")


def test_pruning_rounds_without_retraining_are_refused_from_python_too():
    # the rounds would keep the very weights one round keeps (the command refused it already)
    with pytest.raises(CompressError, match="schedule: steps: 2 prunes in rounds with retraining"):
        CompressOptions({"sparsity": 0.5, "steps": 2})
