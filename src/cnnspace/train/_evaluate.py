"""Top-1/top-5 evaluation, sharded over the workers without counting any image twice."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from ._loader import unwrapped
from ._model import main_output


# What an evaluation counts rather than scores: no model is better for having seen more images.
COUNTED = frozenset({"test_images"})


@dataclass(frozen=True)
class EvalResult:
    loss: float     # mean cross-entropy of the main output
    top1: float     # fractions in [0, 1]
    top5: float
    images: int     # images evaluated, over all workers

    def to_dict(self) -> dict[str, float]:
        d = asdict(self)
        return {"test_loss": d.pop("loss"), "test_images": d.pop("images"), **d}


def evaluate(model: nn.Module, dataset: Dataset, *, batch_size: int = 256,
             device: torch.device | str | None = None, num_workers: int = 0,
             channels_last: bool = False, collate_fn=None) -> EvalResult:
    """Accuracy of ``model`` on ``dataset``. Under torch.distributed each worker takes every
    world_size-th image (no padding) and the counts are summed over workers."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    distributed = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    shard = Subset(dataset, range(rank, len(dataset), world))
    # A private generator: evaluating must not move the global one (dropout's, in training).
    loader = DataLoader(shard, batch_size=batch_size, num_workers=num_workers,
                        collate_fn=collate_fn, pin_memory=device.type == "cuda",
                        generator=torch.Generator())
    totals = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top-1, top-5, images
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for inputs, targets in unwrapped(loader):
                inputs = inputs.to(device, non_blocking=True)
                if channels_last:
                    inputs = inputs.contiguous(memory_format=torch.channels_last)
                targets = targets.to(device, non_blocking=True)
                logits = main_output(model(inputs))
                k = min(5, logits.shape[1])
                hits = logits.topk(k, dim=1).indices.eq(targets[:, None])
                totals += torch.stack([
                    F.cross_entropy(logits, targets, reduction="sum").double(),
                    hits[:, 0].sum().double(), hits.any(dim=1).sum().double(),
                    torch.tensor(float(len(targets)), dtype=torch.float64, device=device)])
    finally:
        model.train(was_training)
    if distributed:
        dist.all_reduce(totals)
    loss, top1, top5, images = totals.tolist()
    n = max(images, 1.0)
    return EvalResult(loss / n, top1 / n, top5 / n, int(images))
