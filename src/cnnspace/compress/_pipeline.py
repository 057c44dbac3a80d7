"""The Deep Compression pipeline on a trained model: prune (iteratively, retraining with masks),
share weights by k-means and fine-tune the centroids, then write the ``.cnnz`` container and
evaluate the model decompressed from it. Retraining is the project's trainer
(``cnnspace.train.train``) run on the model itself; pruning masks and shared weights are
parametrizations of the model, so the trainer needs no compression-specific hook.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import torch
from torch import nn

from .._atomic import remove_stale_temps
from ..data import DataSplits
from ..errors import WriteError
from ..spec import NetSpec
from ..train import (EvalResult, NonFiniteLossError, TrainConfig, evaluate, fit_spec,
                     load_checkpoint, train)
from ._codec import RAW_BITS, Coding, WeightCode
from ._container import ContainerBytes, is_cnnz, write_cnnz
from ._dead import live_weights
from ._errors import CompressError
from ._load import decompress
from ._preprocess import as_trained, check_input, trained_data
from ._prune import apply_masks, freeze, magnitude_masks
from ._report import compression_report, write_report
from ._schedule import Schedule, bit_widths, parse_schedule, plan_bits, weighted_layers
from ._share import cluster, tie, untie

RETRAIN_LR_FACTOR = 0.1  # Han et al. retrain pruned networks at a tenth of the original rate


def silent(message: str) -> None:
    """The default ``note``: compression stages say nothing unless asked to."""


class ReportNotWritten(WriteError):
    """compression.json could not be written (a full disk, say) after model.cnnz was: the
    ``report`` it would have held, for the caller to show rather than lose."""

    def __init__(self, error: WriteError, report: dict):
        super().__init__(str(error), error.errno)
        self.report = report


@dataclass(frozen=True)
class CompressOptions:
    """What ``compress`` does: the pruning ``schedule``, shared ``bits`` per conv/fc/layer (32:
    raw values), the ``coding``, the retraining epochs after each round and its learning rate
    as a fraction of the training recipe's."""
    schedule: Schedule = field(default_factory=Schedule)
    bits: Mapping[str, int] = field(default_factory=dict)  # conv/fc/layer -> width (32: raw)
    coding: Coding = field(default_factory=Coding)
    retrain_epochs: int = 0        # after each pruning round, and for the centroids
    retrain_lr_factor: float = RETRAIN_LR_FACTOR
    progress: bool = False

    def __post_init__(self):
        if isinstance(self.schedule, Mapping):  # plain data, as a schedule file holds
            object.__setattr__(self, "schedule", parse_schedule(dict(self.schedule)))
        if not isinstance(self.schedule, Schedule):
            raise CompressError(f"schedule: expected a Schedule (or a mapping such as "
                                f"{{'sparsity': 0.5}}), got {type(self.schedule).__name__}")
        if not isinstance(self.coding, Coding):
            raise CompressError(f"coding: expected a Coding, got {type(self.coding).__name__}")
        if isinstance(self.retrain_epochs, bool) or not isinstance(self.retrain_epochs, int) \
                or self.retrain_epochs < 0:
            raise CompressError(f"--retrain-epochs must be a non-negative integer, got "
                                f"{self.retrain_epochs!r}")
        if isinstance(self.retrain_lr_factor, bool) \
                or not isinstance(self.retrain_lr_factor, (int, float)) \
                or not 0 < self.retrain_lr_factor <= 1:
            raise CompressError(f"--retrain-lr-factor must lie in (0, 1], got "
                                f"{self.retrain_lr_factor!r}")
        steps = self.schedule.steps
        if steps > 1 and not self.retrain_epochs:
            # Unretrained, the weights never change between rounds, so the last round keeps the
            # very weights one round would: the rounds cost time (a typo of steps: 1000000 never
            # ended) and the report's pruning_rounds claimed iterative pruning that did not happen.
            raise CompressError(f"{self.schedule.source}: steps: {steps} prunes in rounds with "
                                "retraining between them, and none runs without --retrain-epochs "
                                "N (default 0): the rounds would remove exactly the weights one "
                                "round does; give --retrain-epochs, or drop steps")
        bit_widths(self.bits)


@dataclass(frozen=True)
class Trained:
    """A model to compress: its spec (fitted to the data), weights, data and training recipe."""
    name: str
    spec: NetSpec
    model: nn.Module
    data: DataSplits
    config: TrainConfig
    preprocessing: dict | None = None  # as training recorded it: deployment needs it

    def __repr__(self) -> str:  # the module, datasets and recipe are long: what they are only
        return (f"Trained(name={self.name!r}, spec={self.spec!r}, "
                f"model=<{type(self.model).__name__}>, data={self.data.name!r})")


def load_trained(checkpoint: str | os.PathLike, data: str | None = None) -> Trained:
    """A training checkpoint with its dataset (the one it was trained on unless ``data``)."""
    if isinstance(checkpoint, (str, os.PathLike)) and is_cnnz(checkpoint) \
            and Path(checkpoint).is_file():
        # Its training recipe, which retraining needs, is not in it; nor is its dense model.
        raise CompressError(f"{checkpoint}: already a compressed model (.cnnz); compress the "
                            "training checkpoint it was made from (best.pt / checkpoint.pt)")
    ckpt = load_checkpoint(checkpoint)
    if ckpt.spec is None:
        raise CompressError(f"{checkpoint}: was trained from a plain nn.Module; compression "
                            "needs the spec (train a zoo model or spec file)")
    model = ckpt.build_model().eval()
    broken = [k for k, v in model.state_dict().items()
              if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        raise CompressError(f"{checkpoint}: its weights hold NaN or infinity ({broken[0]}"
                            f"{f' and {len(broken) - 1} more' if len(broken) > 1 else ''}): "
                            "the training diverged; compress a checkpoint with finite weights")
    # The weights are the spec's: a recorded input size that contradicts it (a damaged or
    # edited file) had the data read at that size, and evaluation crashed in torch.
    shape = list(ckpt.spec.input)
    recorded = ckpt.payload.get("input_shape")
    if recorded is not None and (not isinstance(recorded, (list, tuple))
                                 or list(recorded) != shape):
        shown = "x".join(map(str, recorded)) if isinstance(recorded, (list, tuple)) \
            else repr(recorded)
        raise CompressError(f"{checkpoint}: damaged checkpoint: it records input {shown}, "
                            f"its spec {'x'.join(map(str, shape))}")
    splits = trained_data(str(checkpoint), ckpt.payload.get("data"), data, shape[1])
    check_input(str(checkpoint), splits, shape)
    # Retraining, the accuracies reported and the file's recorded preprocessing must all see
    # the images as training did, which `cnnspace evaluate` of the written file does too.
    as_trained(str(checkpoint), splits, ckpt.preprocessing)
    return Trained(_run_name(Path(checkpoint)), fit_spec(ckpt.spec, splits), model, splits,
                   ckpt.config, ckpt.preprocessing or splits.preprocessing())


def _run_name(path: Path) -> str:
    """``runs/sq/best.pt`` -> ``sq``: the run folder names a model better than best/checkpoint.
    The folder's name is taken from the absolute path: ``best.pt`` in the current folder named
    the model "" (and --table wrote its files into --out itself, not a folder of the model)."""
    folder = Path(os.path.abspath(path)).parent.name
    return folder if path.stem in ("best", "checkpoint") and folder else path.stem


def _widths(trained: Trained, options: CompressOptions) -> dict[str, int]:
    return plan_bits(trained.spec, options.schedule, options.bits)


def check_plan(trained: Trained, options: CompressOptions) -> None:
    """Fails on schedule or bit-width overrides that name no layer of the model, before any
    evaluation or training time is spent."""
    if not isinstance(trained, Trained):
        hint = (f": cnnspace.compress.load_trained({str(trained)!r}) reads a checkpoint"
                if isinstance(trained, (str, os.PathLike)) else "")
        raise CompressError(f"expected a Trained model, got {type(trained).__name__}{hint}")
    if not isinstance(options, CompressOptions):
        raise CompressError(f"expected CompressOptions, got {type(options).__name__}")
    options.schedule.targets(trained.spec)
    _widths(trained, options)


def check_out(out: Path) -> None:
    """Fails at once, not after the evaluation and retraining before the first write, where
    the output folder cannot be made or written: it, or a folder above it, is a file, or the
    nearest existing one (``out`` itself when it exists) gives no permission to write."""
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise CompressError(f"{out}: cannot be the output folder: {folder} is a file")
            # W_OK and X_OK: files are made inside it (a read-only --out ran the whole
            # pipeline and failed only at its first write)
            if not os.access(folder, os.W_OK | os.X_OK):
                raise CompressError(f"{out}: cannot be the output folder: no permission to "
                                    f"write in {folder}; choose another --out")
            return


def retrain(model: nn.Module, trained: Trained, epochs: int, options: CompressOptions,
            note: Callable[[str], None], what: str) -> nn.Module:
    """``epochs`` of the model's own training recipe at a lower learning rate, in memory."""
    if epochs == 0:
        return model
    note(f"{what}: retraining {epochs} epoch{'s' if epochs > 1 else ''}")
    # What belonged to the training run is not the recipe: a fine-tune's source would be
    # loaded again (the trainer refuses it for a built model) and a GPU run's device may not
    # be here.
    config = trained.config.with_options(
        epochs=epochs, lr=trained.config.lr * options.retrain_lr_factor, warmup_epochs=0.0,
        out=None, resume=False, progress=options.progress, checkpoint_every=0, init_from=None,
        device="auto")
    try:
        result = train(model, trained.data, config)
    except NonFiniteLossError as e:
        # The trainer's advice names its own options (--lr, --warmup); here the rate is set by
        # --retrain-lr-factor. Its message opens with what happened, up to the first colon.
        happened = str(e).partition(":")[0]
        raise CompressError(f"{what}: retraining diverged ({happened}): lower "
                            f"--retrain-lr-factor ({options.retrain_lr_factor} of the recipe's "
                            f"{trained.config.lr:g})") from None
    if "top1" in result.final:
        note(f"{what}: top-1 {result.final['top1']:.2%} after retraining")
    return result.model


def prune(model: nn.Module, trained: Trained, options: CompressOptions,
          note: Callable[[str], None] = silent) -> dict[str, torch.Tensor]:
    """Prunes ``model`` in place by magnitude in ``schedule.steps`` rounds, retraining with the
    masks after each; returns the final masks (pruned weights are exactly zero). Weights that
    never see data at the model's input size are removed in the first round."""
    layers = [n.name for n in weighted_layers(trained.spec)]
    live = live_weights(trained.spec)
    masks = None
    steps = options.schedule.steps
    for step in range(1, steps + 1):
        masks = magnitude_masks(model, options.schedule.at_step(trained.spec, step), masks, live)
        apply_masks(model, masks)
        kept, total = (sum(int(m.sum()) for m in masks.values()),
                       sum(m.numel() for m in masks.values()))
        note(f"pruning round {step}/{steps}: {1 - kept / total:.1%} of the weights removed")
        retrain(model, trained, options.retrain_epochs, options, note,
                f"pruning round {step}/{steps}")
        freeze(model, layers)
    return masks


def share(model: nn.Module, trained: Trained, masks: dict[str, torch.Tensor],
          options: CompressOptions, note: Callable[[str], None] = silent) -> dict[str, WeightCode]:
    """k-means weight sharing of the surviving weights, then centroid fine-tuning. Layers kept
    at raw float32 values (32 bits) train on with their masks and are stored as trained."""
    codes = cluster(model, masks, _widths(trained, options))
    if any(c.shared for c in codes.values()):
        raw = {layer: masks[layer] for layer, code in codes.items() if not code.shared}
        tie(model, codes)
        apply_masks(model, raw)
        retrain(model, trained, options.retrain_epochs, options, note, "centroid fine-tuning")
        freeze(model, raw)
        codes.update(cluster(model, raw, {layer: RAW_BITS for layer in raw}))
    return untie(model, codes)


def container_tensors(model: nn.Module, codes: Mapping[str, WeightCode]) -> dict:
    """The model's state dict with each compressed layer's weight replaced by its code."""
    by_key = {f"layers.{layer}.weight": code for layer, code in codes.items()}
    return {key: by_key.get(key, value.detach().cpu().numpy())
            for key, value in model.state_dict().items()}


def dense_codes(model: nn.Module, spec: NetSpec) -> dict[str, WeightCode]:
    """Every weight kept, unshared: how an uncompressed model is stored."""
    codes = {}
    for node in weighted_layers(spec):
        w = model.layers[node.name].weight.detach().cpu().numpy()
        codes[node.name] = WeightCode(w.shape, np.ones(w.size, dtype=bool), RAW_BITS,
                                      values=w.ravel().copy())
    return codes


def _unchecked(path: Path) -> Path:
    return path.with_name(f".{path.name}.unchecked")


def remove_stale_files(folder: Path, names: Iterable[str]) -> None:
    """Removes what a compress killed (SIGKILL, a power cut) while writing ``names`` into
    ``folder`` left there, all hidden: a container under its checking name and the temporary
    files of atomic writes. A writer in progress has files of the same names, so this is only
    for a folder the caller has claimed (``cnnspace.train.claimed_folder``)."""
    for name in names:
        unchecked = _unchecked(folder / name)
        for stem in (name, unchecked.name):
            remove_stale_temps(folder, stem)
        try:
            unchecked.unlink(missing_ok=True)
        except OSError:
            pass  # as remove_stale_temps: a leftover never stops the run that found it


@dataclass(frozen=True)
class Written:
    path: Path
    sizes: ContainerBytes
    accuracy: EvalResult    # of the model decompressed from ``path``


def write_and_check(path: Path, trained: Trained, model: nn.Module,
                    codes: Mapping[str, WeightCode], coding: Coding,
                    meta: dict | None = None) -> Written:
    """Writes the container, reads it back, checks the weights are bit-exact and evaluates the
    decompressed model (so the accuracy reported is the file's, not the in-memory model's).
    The dataset is recorded, so `cnnspace evaluate FILE` needs no --data."""
    model, path = model.cpu(), Path(path)
    meta = {"data": trained.data.name, "source": trained.name,
            "preprocessing": trained.preprocessing, **(meta or {})}
    # Checked under another name first: a file named .cnnz has always passed the check, and a
    # failure or Ctrl-C in between leaves none.
    unchecked = _unchecked(path)
    try:
        sizes = write_cnnz(unchecked, trained.spec, container_tensors(model, codes), coding, meta)
        restored, _ = decompress(unchecked)
        original = model.state_dict()
        for key, value in restored.state_dict().items():
            if not torch.equal(value, original[key]):
                raise CompressError(f"{path}: tensor {key!r} did not survive the round trip")
        os.replace(unchecked, path)
    finally:
        unchecked.unlink(missing_ok=True)
    return Written(path, sizes, evaluate(restored, trained.data.test))


def compress(trained: Trained, options: CompressOptions, out: str | os.PathLike,
             note: Callable[[str], None] = silent) -> dict:
    """The whole pipeline; writes ``out/model.cnnz`` and ``out/compression.json`` and returns
    the report. ``trained`` is left as it is: its model is compressed as a copy."""
    check_plan(trained, options)
    out = Path(out)
    check_out(out)
    model = copy.deepcopy(trained.model)
    trained = replace(trained, model=model)
    before = evaluate(model, trained.data.test)
    note(f"{trained.name}: top-1 {before.top1:.2%} before compression")
    masks = prune(model, trained, options, note)
    codes = share(model, trained, masks, options, note)
    meta = {"accuracy_before": {"top1": before.top1, "top5": before.top5}}
    note(f"writing {out / 'model.cnnz'}, reading it back and evaluating it")
    # An earlier result's report goes first: a kill or a full disk between this model.cnnz and
    # its report would leave that report describing a file no longer there.
    (out / "compression.json").unlink(missing_ok=True)
    written = write_and_check(out / "model.cnnz", trained, model, codes, options.coding, meta)
    report = compression_report(trained, codes, written, before, options)
    try:
        write_report(out / "compression.json", report)
    except WriteError as e:
        raise ReportNotWritten(e, report) from None
    return report

