"""``train(model, dataset, config)``: the one entry point, in-process or under torchrun."""
from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .._threads import torch_threads
from ..data import DataSplits, get_dataset
from ..metrics import memory_shortfall
from ..nn import build
from ..spec import NetSpec
from ._callbacks import Callback, TrainResult
from ._checkpoint import Checkpoint, CheckpointError, load_model_state
from ._config import ConfigError, TrainConfig, default_recipe
from ._distributed import Workers, join_workers
from ._evaluate import EvalResult, evaluate
from ._model import ClassificationLoss, fit_spec, zoo_spec
from ._run_files import RunFiles
from ._trainer import INTERRUPTED, TERMINATED, StopFlag, Trainer, check_monitor

Model = NetSpec | nn.Module | Checkpoint | str


def train(model: Model, data: DataSplits | str, config: TrainConfig | None = None, *,
          callbacks: Sequence[Callback] = (), loss_fn: Callable | None = None,
          evaluate_fn: Callable[[nn.Module, Any], dict] | None = None,
          run_info: dict | None = None) -> TrainResult:
    """Trains ``model`` on ``data`` and returns the trained model with its history. Without a
    ``config``, the dataset's default recipe (``digits`` for digits, else ``adam-onecycle``).

    ``model``: a spec (fitted to the dataset's input shape; its outputs must match the class
    count), a zoo model name, a checkpoint (its weights are the starting point of a new run) or
    any ``nn.Module``, which is trained in place: moved to the training device (and to
    channels-last if asked) and updated; ``result.model`` is that same object, in eval mode.
    ``data``: a dataset reference for ``get_dataset`` or ``DataSplits``.
    The global generators of ``random``, numpy and torch are seeded from ``config.seed`` while
    training and given back to the caller's states when ``train`` returns or raises.
    Started by torchrun, every worker calls this with the same arguments and gradients are
    averaged by DistributedDataParallel; started plainly, it trains alone.
    ``loss_fn(outputs, targets) -> scalar`` replaces cross-entropy (with auxiliary outputs
    weighted by ``config.aux_weight``); ``evaluate_fn(model, test_dataset) -> dict`` replaces
    top-1/top-5 evaluation. ``run_info`` is recorded in config.yaml.
    ``config.init_from`` (a checkpoint or .cnnz) fine-tunes a spec or zoo model: its weights are
    copied layer by layer by name, a classifier sized for another class count excepted.
    """
    if not isinstance(data, (str, DataSplits)):
        raise ConfigError(f"expected a dataset reference such as 'digits' or a DataSplits "
                          f"(cnnspace.data.get_dataset(ref) makes one), got {type(data).__name__}")
    if config is not None and not isinstance(config, TrainConfig):
        hint = (": TrainConfig.from_dict(d) or TrainConfig.from_recipe(name, **options) makes one"
                if isinstance(config, dict) else "")
        raise ConfigError(f"expected a TrainConfig or None, got {type(config).__name__}{hint}")
    data = get_dataset(data) if isinstance(data, str) else data
    config = config or TrainConfig.from_recipe(default_recipe(data.name))
    if config.classifier_init == "imprint" and loss_fn is not None:
        raise ConfigError("classifier_init 'imprint' starts a classifier from its classes' "
                          "images; this run has its own loss (not classification): use 'spec'")
    if config.init_from and not isinstance(model, (NetSpec, str)):
        raise ConfigError(f"init_from starts a model built from a spec or zoo name from trained "
                          f"weights; this {type(model).__name__} has its own weights already")
    callbacks = _checked_callbacks(callbacks)
    if evaluate_fn is None:
        check_monitor(config.monitor, EvalResult(0.0, 0.0, 0.0, 0).to_dict())
    stop = StopFlag()
    with (_determinism(config.deterministic), torch_threads(config.threads), _stop_on_signals(stop),
          _callers_generators()):
        workers = join_workers(config)
        try:
            torch.manual_seed(config.seed)  # the same initial weights on every worker
            spec, module = _model(model, data, loss_fn is None)
            fresh = isinstance(model, (NetSpec, str))  # built here: its init is ours to choose
            # Dropout differs between workers, as their data does.
            _seed_everything(config.seed + workers.rank)
            if spec is not None:
                _check_memory(spec, data, config, workers, evaluate_fn is None)
            if evaluate_fn is None:
                def evaluate_fn(m, dataset):
                    return evaluate(m, dataset, batch_size=config.eval_batch_size,
                                    channels_last=config.channels_last,
                                    collate_fn=data.collate_fn).to_dict()
            with (RunFiles(config.out).claimed() if config.out and workers.is_main
                  else contextlib.nullcontext()):
                return Trainer(module, spec, data, config, workers,
                               loss_fn or ClassificationLoss(config.aux_weight), evaluate_fn,
                               callbacks, stop, run_info or {}, fresh).run()
        finally:
            workers.close()


def _checked_callbacks(callbacks) -> tuple[Callback, ...]:
    """A list of Callback objects; one given alone, or anything else, is refused by name (it was
    a TypeError or AttributeError from inside the training loop)."""
    if isinstance(callbacks, Callback):
        raise ConfigError(f"callbacks: expected a list of Callback objects, got a single "
                          f"{type(callbacks).__name__}: pass [it]")
    callbacks = tuple(callbacks)
    wrong = next((c for c in callbacks if not isinstance(c, Callback)), None)
    if wrong is not None:
        raise ConfigError(f"callbacks: expected cnnspace.train.Callback subclasses, got "
                          f"{type(wrong).__name__}")
    return callbacks


def _model(model: Model, data: DataSplits, classify: bool) -> tuple[NetSpec | None, nn.Module]:
    if isinstance(model, nn.Module):
        return None, model
    if isinstance(model, Checkpoint):
        if model.spec is None:
            raise CheckpointError(f"{model.path}: trained from a plain nn.Module; build that "
                                  "module, load the checkpoint's model_state and pass it")
        spec = fit_spec(model.spec, data, classify)
        module = _build(spec)
        load_model_state(module, model.model_state, model.path)
        return spec, module
    if isinstance(model, str):
        spec = fit_spec(zoo_spec(model, data), data, classify)
    elif isinstance(model, NetSpec):
        spec = fit_spec(model, data, classify)
    else:
        hint = (": a checkpoint file? cnnspace.train.load_checkpoint(path) reads it"
                if isinstance(model, os.PathLike) else "")
        raise ConfigError(f"expected a NetSpec, zoo name, Checkpoint or nn.Module, got "
                          f"{type(model).__name__}{hint}")
    return spec, _build(spec)


def _build(spec: NetSpec) -> nn.Module:
    """The module, if its weights fit: asked first, as the out-of-memory killer ends a process
    (here a sampled study point of 140 billion parameters) rather than failing an allocation."""
    if reason := memory_shortfall(spec, torch.device("cpu"), built=False):
        raise ConfigError(reason)
    return build(spec)


def _check_memory(spec: NetSpec, data: DataSplits, config: TrainConfig, workers: Workers,
                  default_evaluation: bool) -> None:
    """Refuses batches that cannot fit before the first one runs: where the kernel overcommits,
    the out-of-memory killer would end the run with no message. The weights are in memory
    already on the CPU; a GPU has yet to receive them."""
    on_cpu = workers.device.type == "cpu"
    sharing = workers.local_world_size if on_cpu else 1  # workers on the CPU share its memory
    # A training batch is split over the workers, each of which evaluates whole batches of its
    # shard (with the default evaluation: detection has its own); neither holds more images
    # than its split has.
    # Under bfloat16 autocast the activations a training step keeps are bfloat16, and so are the
    # copies of the weights it casts; evaluation runs in fp32.
    bf16 = config.precision == "bf16"
    checks = [("batch_size", config.batch_size, config.per_worker_batch(workers.world_size),
               data.train, True, 2 if bf16 else 4, 2 if bf16 else 0)]
    if default_evaluation:
        checks.append(("eval_batch_size", config.eval_batch_size, config.eval_batch_size,
                       data.test, False, 4, 0))
    for field, batch, per_worker, split, training, value_bytes, copy_bytes in checks:
        held = min(per_worker, -(-len(split) // workers.world_size)) * sharing
        if reason := memory_shortfall(spec, workers.device, batch=held, training=training,
                                      built=on_cpu, activation_bytes=value_bytes,
                                      weight_copy_bytes=copy_bytes):
            raise ConfigError(f"{field} {batch}: {reason}")


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@contextlib.contextmanager
def _callers_generators() -> Iterator[None]:
    """Training seeds the global generators; the caller's draws afterwards (a random search
    drawing its next configuration) continue from where they were."""
    python, numpy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    # Reading CUDA's states would initialise it, even for a CPU run; not initialised, it would
    # start from the caller's torch.manual_seed (which seeds CPU and CUDA alike).
    cuda_seed = torch.initial_seed()
    try:
        yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        else:
            torch.cuda.manual_seed_all(cuda_seed)


@contextlib.contextmanager
def _determinism(enabled: bool) -> Iterator[None]:
    """Deterministic kernels while training (so reruns and resumes match bit for bit)."""
    if not enabled:
        yield
        return
    # cuBLAS is deterministic only with a fixed workspace, read when its first handle is made.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    previous = torch.are_deterministic_algorithms_enabled()
    benchmark = torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.backends.cudnn.benchmark = benchmark


@contextlib.contextmanager
def _stop_on_signals(stop: StopFlag) -> Iterator[None]:
    """Ctrl-C (SIGINT) or SIGTERM (torchrun stopping its workers) ends training after the
    current step with a resumable checkpoint instead of killing it mid-update. A second Ctrl-C
    stops at once: whoever presses it again will not wait for a long step (or a worker that
    hangs), and the last checkpoint stays whole."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = {signal.SIGINT: INTERRUPTED, signal.SIGTERM: TERMINATED}

    def handle(signum, frame):
        if signum == signal.SIGINT and stop.reason is not None:
            raise KeyboardInterrupt
        if stop.reason is None:
            stop.reason, stop.terminated = names[signum], signum == signal.SIGTERM

    previous = {s: signal.signal(s, handle) for s in names}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
