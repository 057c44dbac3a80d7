"""Whether a run folder's checkpoint can be continued by this run: the same options, data and
model, and epochs of as many steps; each refusal says what differs and what to do."""
from __future__ import annotations

from ..data import DataSplits
from ..spec import NetSpec, to_dict
from ._checkpoint import Checkpoint, CheckpointError, require_entries
from ._config import TrainConfig

# What the trainer's restore reads besides the weights: every checkpoint it writes has them.
RESUME_ENTRIES = ("optimizer", "scheduler", "epoch", "batch", "step", "history", "epoch_stats",
                  "rng")


def check_resumable(checkpoint: Checkpoint, config: TrainConfig, data: DataSplits,
                    spec: NetSpec | None, steps_per_epoch: int, world_size: int) -> Checkpoint:
    """``checkpoint``, if a run of ``config`` on ``data`` training ``spec`` (with
    ``world_size`` workers taking ``steps_per_epoch`` steps an epoch) continues it."""
    where = f"--resume: {checkpoint.path}"
    require_entries(checkpoint, RESUME_ENTRIES)
    changes = checkpoint.config.differences(config)
    if changes:
        raise CheckpointError(f"{where} was trained with other options ({'; '.join(changes)}); "
                              "resume with the same ones or start a new --out (to train "
                              "longer too: the learning-rate schedule spans the epochs)")
    # another dataset first: it gives the model its input shape and class count
    trained_on = checkpoint.payload.get("data")
    if trained_on != data.name and not _moved(checkpoint.payload, data):
        raise CheckpointError(f"{where} was trained on {trained_on!r}, not {data.name!r}")
    saved, given = checkpoint.payload.get("spec"), spec and to_dict(spec)
    if saved != given:
        raise CheckpointError(f"{where} holds a different model than the one given "
                              f"({_model_difference(saved, given)}): resume with the same "
                              "model and --set/--image-size, or start a new --out")
    # after the model: another --image-size changes the statistics too, and is said so there
    _check_same_data(checkpoint.payload, where, data)
    _check_same_epochs(checkpoint, where, config, data, steps_per_epoch, world_size)
    return checkpoint


def _moved(p: dict, data: DataSplits) -> bool:
    """Whether ``data`` may be the run's dataset read from another folder (a cluster job's
    scratch copy, named by the job): the same kind, with class names recorded on both sides,
    which _check_same_data then holds to the run's, with its image count and statistics."""
    kind = str(p.get("data")).partition(":")[0]
    recorded = (p.get("preprocessing") or {}).get("classes")
    return kind == data.name.partition(":")[0] and bool(recorded) and bool(data.classes)


def _check_same_data(p: dict, where: str, data: DataSplits) -> None:
    """The same folder may hold other data as many images: class folders renamed (classes are
    numbered in sorted order, so every label would score another class), or other images (the
    normalisation comes from them, so the model would see inputs scaled otherwise). Older
    checkpoints, and data without class names or statistics, lack the records."""
    saved, now = p.get("preprocessing") or {}, data.preprocessing() or {}
    there, here = tuple(saved.get("classes") or ()), tuple(now.get("classes") or ())
    if there and here and there != here:
        i = next((i for i, (a, b) in enumerate(zip(there, here)) if a != b), None)
        where_they_part = f" (class {i} is {there[i]} there, {here[i]} here)" if i is not None \
            else ""
        raise CheckpointError(f"{where} was trained on the classes {_names(there)}; {data.name} "
                              f"now has {_names(here)}{where_they_part}, so its labels would "
                              "score other classes: start a new --out")
    for key in ("mean", "std"):
        if saved.get(key) and now.get(key) and list(saved[key]) != list(now[key]):
            values = [", ".join(f"{v:.4g}" for v in d[key]) for d in (saved, now)]
            raise CheckpointError(f"{where}: its training images differ from the ones it was "
                                  f"trained on (channel {key}s {values[0]} there, {values[1]} "
                                  "here): start a new --out")


def _names(classes: tuple[str, ...], shown: int = 6) -> str:
    """The class names, the first few of a long list (CIFAR-100 has 100)."""
    more = f", ... ({len(classes)} in all)" if len(classes) > shown else ""
    return ", ".join(classes[:shown]) + more


def _check_same_epochs(checkpoint: Checkpoint, where: str, config: TrainConfig,
                       data: DataSplits, steps: int, world_size: int) -> None:
    """The saved position (batch b of epoch e) and the schedule (its total of steps) mean the
    same only over epochs of as many steps: a folder that gained images, or another worker
    count splitting the last batch otherwise, would run the schedule past its end (torch's
    one-cycle raises there, epochs later). Older checkpoints lack the keys."""
    p = checkpoint.payload
    if p["epoch"] >= config.epochs:
        return  # a finished run: nothing left to line up
    images = len(data.train)
    if p.get("train_images", images) != images:
        raise CheckpointError(f"{where} was trained on {p['train_images']:,} training images; "
                              f"{data.name} now has {images:,}, so its epochs and "
                              "schedule would not line up: start a new --out")
    if p.get("steps_per_epoch", steps) != steps:
        workers = p.get("world_size")
        raise CheckpointError(f"{where}: its epochs were {p['steps_per_epoch']} steps (with "
                              f"{workers} worker{'s' if workers != 1 else ''}); with "
                              f"{world_size} they are {steps}, and the schedule "
                              f"would not line up: resume with --nproc {workers}")


def _model_difference(saved: dict | None, given: dict | None) -> str:
    """Where the spec a checkpoint holds and the one a resume gives part, both as to_dict."""
    if not (saved and given):
        return "a spec there, a plain nn.Module here" if saved else "no spec there"
    if saved["input"] != given["input"]:
        sizes = ["x".join(map(str, spec["input"])) for spec in (saved, given)]
        return f"input {sizes[0]} there, {sizes[1]} here"
    layers = [{layer["name"]: layer for layer in spec["layers"]} for spec in (saved, given)]
    for name in {**layers[0], **layers[1]}:
        there, here = (spec_layers.get(name) for spec_layers in layers)
        if there is None or here is None:
            return f"layer {name!r} only {'here' if there is None else 'there'}"
        if there != here:
            return f"layer {name!r}: {_first_difference(there, here)}"
    others = [{k: v for k, v in spec.items() if k != "layers"} for spec in (saved, given)]
    if others[0] == others[1]:
        return "the same layers in another order"
    return _first_difference(*others)  # the network's name, init, outputs...


def _first_difference(there: dict, here: dict) -> str:
    key = next(key for key in {**there, **here} if there.get(key) != here.get(key))
    return f"{key} {there.get(key)!r} there, {here.get(key)!r} here"
