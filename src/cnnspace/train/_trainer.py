"""The training loop: synchronous data-parallel SGD over the workers torchrun started (or one
process), with exact resume, early stopping and NaN detection agreed by all workers."""
from __future__ import annotations

import math
import re
import time
from typing import Callable, Sequence

import torch
from torch import nn

from .. import __version__
from ..errors import Terminated
from ..data import DataSplits
from ..metrics import analyze
from ..spec import NetSpec, to_dict
from ._callbacks import (Callback, NonFiniteLossError, StopTraining, TrainResult, TrainState,
                         best_record)
from ._checkpoint import (Checkpoint, load_checkpoint, load_model_state, restore_rng_state,
                          rng_state, save_checkpoint)
from ._config import ConfigError, TrainConfig
from ._distributed import Workers, wrap_ddp
from ._evaluate import COUNTED
from ._imprint import classifier_layer, imprint
from ._init_from import copy_initial_weights, read_initial_weights
from ._loader import EpochLoader
from ._progress import TrainProgress
from ._resumable import check_resumable
from ._run_files import RunFiles
from ._schedule import make_optimizer, make_scheduler, onecycle_too_short_note

ANALYSIS_KEYS = ("params", "size_bytes", "size_mb", "size_mib", "macs", "flops",
                 "train_flops_per_step", "comm_bytes_data_parallel")


BATCHNORM_OF_ONE = re.compile(r"Expected more than 1 value per channel when training")


# A stop by signal, as the run says it: also what every other worker says when one got it.
INTERRUPTED, TERMINATED = "interrupted (Ctrl-C)", "terminated (SIGTERM)"


class StopFlag:
    """Set from a signal handler or a callback; honoured at the next step by every worker."""
    reason: str | None = None
    terminated: bool = False  # by SIGTERM: the command exits 143, not Ctrl-C's 130


def check_monitor(monitor: str, metrics) -> None:
    """``monitor`` must name the training loss or one of the evaluation's ``metrics``."""
    choices = ["loss", *(m for m in metrics if m not in COUNTED)]
    if monitor not in choices:
        raise ConfigError(f"option 'monitor': expected a metric of the epoch records, one of "
                          f"{', '.join(choices)}; got {monitor!r}")


def _fresh_epoch_stats() -> dict[str, float]:
    # Gradient bytes are counted here, not in the process: a resumed epoch keeps its share.
    return {"loss_sum": 0.0, "images": 0.0, "seconds": 0.0, "comm_bytes": 0.0, "comm_steps": 0.0}


def _each_tensor(value, fn: Callable[[torch.Tensor], torch.Tensor]):
    """``value`` with ``fn`` applied to every tensor in it (in lists, tuples and dicts)."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_each_tensor(v, fn) for v in value)
    if isinstance(value, dict):
        return {k: _each_tensor(v, fn) for k, v in value.items()}
    return value


def _float32(t: torch.Tensor) -> torch.Tensor:
    return t.float() if t.is_floating_point() else t


class Trainer:
    def __init__(self, module: nn.Module, spec: NetSpec | None, data: DataSplits,
                 config: TrainConfig, workers: Workers, loss_fn: Callable,
                 evaluate_fn: Callable, callbacks: Sequence[Callback], stop: StopFlag,
                 run_info: dict, fresh_model: bool = False):
        self.spec, self.data, self.config, self.workers = spec, data, config, workers
        self.loss_fn, self.evaluate_fn, self.callbacks = loss_fn, evaluate_fn, list(callbacks)
        self.stop, self.run_info = stop, run_info
        self.files = RunFiles(config.out) if config.out else None
        self.loader = EpochLoader(data.train, config.per_worker_batch(workers.world_size),
                                  workers, config.seed, config.num_workers, data.collate_fn)
        steps = self.loader.steps_per_epoch
        self.module = module.to(workers.device)
        if config.channels_last:
            self.module.to(memory_format=torch.channels_last)
        checkpoint = self._checkpoint_to_resume()
        # Where the starting weights came from (a fine-tune's source, kept over resumes).
        self.init_from: dict | None = checkpoint.payload.get("init_from") if checkpoint else None
        self.reinitialised: dict[str, tuple[int, int]] = {}
        self.fresh_layers: tuple[str, ...] = ()  # not in init_from's model (init_layers shared)
        if checkpoint is not None:
            # A resumed fine-tune continues from its own checkpoint, not from init_from again.
            load_model_state(self.module, checkpoint.model_state, checkpoint.path)
        else:
            if config.init_from:
                self._copy_initial_weights()
            if config.classifier_init == "imprint" and self._classifier_as_built(fresh_model):
                imprint(self.module, spec, data.train, data.num_classes,
                        config.eval_batch_size, workers.device)
        self.optimizer = make_optimizer(self.module.parameters(), config)
        self.scheduler = make_scheduler(self.optimizer, config, steps)
        self.model, self.comm = wrap_ddp(self.module, workers, config, steps)
        # Re-entered at every step; a disabled autocast changes nothing.
        self.autocast = torch.autocast(workers.device.type, dtype=torch.bfloat16,
                                       enabled=config.precision == "bf16")
        self.state = TrainState(self.module, self.optimizer, self.scheduler, config,
                                workers.rank, workers.world_size, workers.device, steps)
        self.epoch_stats = _fresh_epoch_stats()
        self.comm_bytes_seen = 0  # the hook's running count in this process
        self.requested: str | None = None  # a callback's StopTraining message
        self.stopped: str | None = None
        self.resumed = checkpoint is not None
        # CPU threads per worker and workers before the resume (older checkpoints lack them)
        self.saved_threads = checkpoint.payload.get("threads") if checkpoint else None
        self.saved_workers = checkpoint.payload.get("world_size") if checkpoint else None
        self.saved_data = checkpoint.payload.get("data") if checkpoint else None
        if checkpoint is not None:
            self._restore(checkpoint)
            # A complete run's --resume trains nothing: config.yaml lists the sessions that did.
            if self.files and workers.is_main and self.state.epoch < config.epochs:
                self.files.add_resume(
                    {"step": self.state.step, "workers": workers.world_size,
                     "device": str(workers.device), "threads": torch.get_num_threads(),
                     **({"command": run_info["command"]} if "command" in run_info else {})})
        elif self.files and workers.is_main:
            self.files.write_config(self._config_record())

    # -- setup -----------------------------------------------------------------------------

    def _checkpoint_to_resume(self) -> Checkpoint | None:
        """Rank 0 reads the checkpoint (weights-only) and hands it to the others, so the run
        folder need only be on rank 0's machine."""
        payload = None
        if self.workers.is_main and self.files:
            self.files.refuse_to_overwrite(self.config.resume)
            self.files.remove_stale_temps()  # this run owns the folder (refused otherwise)
            if self.files.checkpoint.exists():
                payload = check_resumable(load_checkpoint(self.files.checkpoint), self.config,
                                          self.data, self.spec, self.loader.steps_per_epoch,
                                          self.workers.world_size).payload
        payload = self.workers.broadcast(payload)
        return Checkpoint(self.files.checkpoint, payload) if payload is not None else None

    def _copy_initial_weights(self) -> None:
        """Rank 0 reads the trained weights and hands them to the others (as the checkpoint to
        resume); each worker copies them before DDP and imprinting see the module."""
        weights = self.workers.broadcast(read_initial_weights(self.config.init_from)
                                         if self.workers.is_main else None)
        copied = copy_initial_weights(self.module, self.spec, weights, self.data.classes,
                                      shared=self.config.init_layers == "shared")
        self.reinitialised, self.fresh_layers = copied.reinitialised, copied.fresh
        self.init_from = {**weights.source, "reinitialised": list(self.reinitialised),
                          **({"fresh": list(copied.fresh), "unused": list(copied.unused)}
                             if self.config.init_layers == "shared" else {})}
        self.initial_classes = weights.classes

    def _classifier_as_built(self, fresh_model: bool) -> bool:
        """Whether the output layer holds the spec's init: imprinting never overwrites trained
        weights (a model given built, a fine-tune's copied classifier)."""
        if not self.config.init_from:
            return fresh_model
        return classifier_layer(self.spec) in (*self.reinitialised, *self.fresh_layers)

    def _restore(self, checkpoint: Checkpoint) -> None:
        p, s = checkpoint.payload, self.state
        self.optimizer.load_state_dict(p["optimizer"])
        self.scheduler.load_state_dict(p["scheduler"])
        s.epoch, s.batch, s.step, s.history = p["epoch"], p["batch"], p["step"], list(p["history"])
        self.epoch_stats = {**_fresh_epoch_stats(), **p["epoch_stats"]}
        if len(p["rng"]) == self.workers.world_size:
            restore_rng_state(p["rng"][self.workers.rank])
        else:  # another worker count: the data stream is the same, dropout draws are not
            torch.manual_seed(self.config.seed + self.workers.rank + s.step)
        if self.files and self.workers.is_main:
            self.files.write_metrics(s.history)
            self.files.restore_best(p, self.config.monitor)

    def _config_record(self) -> dict:
        return {"cnnspace": __version__, **self.run_info, "data": self.data.name,
                "input_shape": list(self.data.input_shape), "num_classes": self.data.num_classes,
                "workers": self.workers.world_size, "train": self.config.to_dict(),
                "recipe_overrides": self.config.overrides,
                "spec": to_dict(self.spec) if self.spec else None,
                **({"init_from": self.init_from} if self.init_from else {})}

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> TrainResult:
        s, cfg = self.state, self.config
        progress = TrainProgress(self.workers.is_main and cfg.progress,
                                 cfg.epochs * s.steps_per_epoch, s.step, self.workers.is_main)
        complete = self.resumed and s.epoch >= cfg.epochs
        # said whatever the progress setting: without it a resumed run's summary reads as a
        # run trained in full (a complete one printed its old results as if just trained)
        if complete:
            progress.note(f"{self.files.out} is complete (epochs: {cfg.epochs}): nothing to train",
                          always=True)
        elif self.resumed:
            progress.note(f"resuming {self.files.out} at epoch {s.epoch + 1}, batch {s.batch} "
                          f"(step {s.step})", always=True)
            self._note_other_session(progress)
        elif cfg.resume:
            progress.note(f"no checkpoint in {self.files.out} yet: starting the run")
        short = onecycle_too_short_note(cfg, s.steps_per_epoch)
        if short and not complete:
            progress.note(short, always=True)
        if s.world_size > 1 and not complete:
            # The global batch is what --batch-size says; batch normalisation and the memory
            # each worker needs go by its share, which nothing else shows.
            progress.note(f"{s.world_size} workers: the global batch of {cfg.batch_size} is "
                          f"{self.loader.batch} images per worker")
        if self.reinitialised:
            progress.note(self._reinitialised_note(), always=True)
        if "fresh" in (self.init_from or {}) and not self.resumed:
            progress.note(self._shared_layers_note(), always=True)
        try:
            for callback in self.callbacks:
                callback.on_train_start(s)
            while s.epoch < cfg.epochs and not self.stopped:
                self._train_epoch(progress)
                if not self.stopped:
                    self._finish_epoch(progress)
            if self.stopped and s.batch:
                self._save()  # mid-epoch: the position the run stopped at
        finally:
            progress.close()
        signalled = self.stopped is not None and self.stopped == self.stop.reason
        if signalled and s.epoch >= cfg.epochs:
            # During the last epoch's evaluation: the run is complete, as its result says; the
            # signal still stops the caller (the next trial of a search loop, say).
            self.stopped = None
        self.module.eval()  # the result is for inference: dropout off, batchnorm stats fixed
        result = self._result()
        # A complete run's result is written already, unless a kill or a full disk came between
        # its last checkpoint and result.json: then that result is missing or an earlier stop's.
        if self.files and self.workers.is_main and (
                not complete or self.files.result_steps() != result.steps):
            self.files.write_result(result.to_json())
        for callback in self.callbacks:
            callback.on_train_end(s, result)
        if signalled:
            progress.note(f"{self.stop.reason}: " + (
                "it came after the last epoch, and the run is complete" if self.stopped is None
                else f"a resumable checkpoint is in {self.files.checkpoint}" if self.files
                else "this training has no run folder, so its progress was not saved"),
                always=True)
            raise (Terminated if self.stop.terminated else KeyboardInterrupt)(self.stop.reason)
        return result

    def _note_other_session(self, progress: TrainProgress) -> None:
        """A resume on other threads or workers than the run had: said, since it will not end
        bit for bit as the uninterrupted run would."""
        out, threads, workers = self.files.out, torch.get_num_threads(), self.state.world_size
        tail = "so it will not end bit for bit as an uninterrupted run would"
        if self.saved_data not in (None, self.data.name):  # check_resumable found it the same
            progress.note(f"note: {out} was trained on {self.saved_data} and continues on "
                          f"{self.data.name}: the same classes and as many images "
                          f"({len(self.data.train):,})", always=True)
        if self.saved_workers not in (None, workers):
            # Each worker's share of the global batch, and its dropout draws, change.
            progress.note(f"note: {out} trained on {self.saved_workers} worker"
                          f"{'s' if self.saved_workers != 1 else ''} and "
                          f"continues on {workers}, the global batch of "
                          f"{self.config.batch_size} as {self.loader.batch} images per worker: "
                          f"each worker's data and dropout differ, {tail} (--nproc "
                          f"{self.saved_workers} keeps it)", always=True)
        if self.saved_threads not in (None, threads):
            # Kernels split their sums by thread: other threads, other rounding.
            progress.note(f"note: {out} trained with {self.saved_threads} thread"
                          f"{'s' if self.saved_threads != 1 else ''} per worker and continues "
                          f"with {threads}: the arithmetic differs, {tail} (--threads "
                          f"{self.saved_threads} keeps it)", always=True)

    def _shared_layers_note(self) -> str:
        fresh, unused = self.init_from["fresh"], self.init_from["unused"]
        # imprinting overwrites a fresh classifier (_classifier_as_built): not the spec's init
        imprinted = [name for name in fresh if self.config.classifier_init == "imprint"
                     and name == classifier_layer(self.spec)]
        built = [name for name in fresh if name not in imprinted]
        starts = ([f"from the spec's init: {', '.join(built)}"] if built else []) + (
            [f"from classifier_init imprint: {', '.join(imprinted)}"] if imprinted else [])
        return (f"note: {self.init_from['path']}: its weights start the layers both networks "
                f"have; " + ("; ".join(starts) if starts else "every layer has its weights")
                + (f"; not used: its {', '.join(unused)}" if unused else ""))

    def _reinitialised_note(self) -> str:
        layers = ", ".join(f"{name} ({there} -> {here} outputs)"
                           for name, (there, here) in self.reinitialised.items())
        if any(there != here for there, here in self.reinitialised.values()):
            why = "has another class count"
        else:
            there, here = self.initial_classes, self.data.classes
            # where they part: the first few names of long lists may well be equal
            i = next(i for i, (a, b) in enumerate(zip(there, here)) if a != b)
            why = f"was trained on other classes (class {i} is {there[i]} there, {here[i]} here)"
        # imprint() sets the main output's classifier alone; auxiliary ones keep the spec's init
        how = f"classifier_init {self.config.classifier_init}"
        if self.config.classifier_init == "imprint" and len(self.reinitialised) > 1:
            how = f"{how} for {classifier_layer(self.spec)}, the spec's init for the others"
        return (f"note: {self.init_from['path']} {why}: {layers} re-initialised ({how}) for the "
                f"{self.data.num_classes} classes of {self.data.name}; "
                + ("every other layer both networks have starts from its weights"
                   if "fresh" in self.init_from else "every other layer starts from its weights"))

    def _train_epoch(self, progress: TrainProgress) -> None:
        s, cfg, stats = self.state, self.config, self.epoch_stats
        self.model.train()
        started, seconds_before = time.perf_counter(), stats["seconds"]
        for inputs, targets in self.loader.epoch(s.epoch, s.batch):
            inputs = inputs.to(s.device, non_blocking=True)
            if cfg.channels_last:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            targets = _each_tensor(targets, lambda t: t.to(s.device, non_blocking=True))
            with self.autocast:
                outputs = self._forward(inputs)
            # The loss in fp32 whatever the forward pass ran in (its sums and logs need the range).
            loss = self.loss_fn(_each_tensor(outputs, _float32), targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # One small all-reduce per step gives every worker the same mean loss, the same
            # verdict on NaN and the same decision to stop (taken after this step, so that the
            # checkpoint holds whole steps and the generators' states right after one).
            loss_sum, images, *votes = self.workers.all_sum(
                [loss.item() * len(inputs), float(len(inputs)), *self._stop_votes()])
            if not math.isfinite(loss_sum):
                raise NonFiniteLossError(self._nan_message(loss_sum))
            self.optimizer.step()
            # The epoch's record shows the LR its steps used: the one after the last step is
            # the next epoch's, or past the schedule's end (one-cycle's cosine rises again).
            stats["lr"] = self.optimizer.param_groups[0]["lr"]
            self.scheduler.step()
            s.step, s.batch, s.last_loss = s.step + 1, s.batch + 1, loss_sum / images
            stats["loss_sum"] += loss_sum
            stats["images"] += images
            if self.comm:
                stats["comm_bytes"] += self.comm.bytes - self.comm_bytes_seen
                stats["comm_steps"] += 1
                self.comm_bytes_seen = self.comm.bytes
            self._run_callbacks(lambda c: c.on_step_end(s))
            stats["seconds"] = seconds_before + time.perf_counter() - started
            progress.step(s.epoch, s.last_loss, stats["images"] / stats["seconds"])
            if cfg.checkpoint_every and s.step % cfg.checkpoint_every == 0 \
                    and s.batch < s.steps_per_epoch:
                saving = time.perf_counter()
                self._save()
                # Writing checkpoints is not training (nor is it at epoch ends): images/s and
                # the epoch's seconds leave it out (a checkpoint every step made 8,390 images/s
                # read 2,157).
                started += time.perf_counter() - saving
            if self._agree_on_stop(votes) or (not self.workers.active
                                               and self._stop_requested()):
                self.stopped = self._stop_reason()  # alone: no agreement to wait for
                break
        stats["seconds"] = seconds_before + time.perf_counter() - started

    def _finish_epoch(self, progress: TrainProgress) -> None:
        s, stats = self.state, self.epoch_stats
        eval_started = time.perf_counter()
        self.workers.share_buffers(self.module)  # every worker scores the model rank 0 saves
        metrics = self.evaluate_fn(self.module, self.data.test)
        check_monitor(self.config.monitor, metrics)
        record = {"epoch": s.epoch + 1, "step": s.step,
                  "loss": stats["loss_sum"] / max(stats["images"], 1.0),
                  "lr": stats.get("lr", self.optimizer.param_groups[0]["lr"]),
                  "images_per_s": stats["images"] / max(stats["seconds"], 1e-9),
                  "train_seconds": stats["seconds"],
                  "seconds": stats["seconds"] + time.perf_counter() - eval_started, **metrics}
        if stats["comm_steps"]:
            record["comm_bytes_per_step"] = stats["comm_bytes"] / stats["comm_steps"]
        s.history.append(record)
        progress.epoch(record, self.config.epochs)
        self._run_callbacks(lambda c: c.on_epoch_end(s, record))
        s.epoch, s.batch, self.epoch_stats = s.epoch + 1, 0, _fresh_epoch_stats()
        self._save(best=best_record(s.history, self.config.monitor) is record)
        if self.files and self.workers.is_main:
            self.files.write_metrics(s.history)
        if self._agree_on_stop(self.workers.all_sum(self._stop_votes())):
            self.stopped = self._stop_reason()

    # -- helpers -----------------------------------------------------------------------------

    def _forward(self, inputs: torch.Tensor):
        try:
            return self.model(inputs)
        except ValueError as e:
            # Batch normalisation of a 1x1 map over one image: torch's ValueError, a traceback.
            if not BATCHNORM_OF_ONE.search(str(e)):
                raise
            raise ConfigError(f"batch normalisation has one value per channel to normalise in a "
                              f"batch of {len(inputs)} image(s) per worker ({e}); choose a "
                              "--batch-size of at least 2 per worker") from None

    def _run_callbacks(self, call: Callable[[Callback], None]) -> None:
        for callback in self.callbacks:
            try:
                call(callback)
            except StopTraining as e:
                self.requested = str(e) or type(callback).__name__

    def _stop_votes(self) -> list[float]:
        """This worker's wish to stop, as [by a callback, by Ctrl-C, by SIGTERM]: summed over
        the workers, every one stops after the same step."""
        signalled = self.stop.reason is not None
        return [float(self.requested is not None), float(signalled and not self.stop.terminated),
                float(signalled and self.stop.terminated)]

    def _agree_on_stop(self, votes: list[float]) -> bool:
        """Whether any worker wants to stop. A signal that reached one worker alone (another
        node's, preempted) stops the others as that signal, not as a finished run: they exit
        130 or 143 too, so that no launcher or scheduler takes the run for done."""
        requested, interrupted, terminated = votes
        if self.stop.reason is None and (interrupted or terminated):
            self.stop.terminated = bool(terminated)
            self.stop.reason = f"{TERMINATED if terminated else INTERRUPTED} on another worker"
        return bool(requested or interrupted or terminated)

    def _stop_requested(self) -> bool:
        return self.stop.reason is not None or self.requested is not None

    def _stop_reason(self) -> str:
        return self.stop.reason or self.requested or "stopped by another worker"

    def _nan_message(self, loss_sum: float) -> str:
        s = self.state
        remedy = "a lower --lr or a --warmup"
        # A resume replays the same steps exactly, and refuses other options: a new run it is.
        kept = (f"the last good checkpoint is {self.files.checkpoint}, but --resume would repeat "
                f"these steps: start a new --out with {remedy}"
                if self.files and self.files.checkpoint.exists()
                else f"no checkpoint was written (try {remedy})")
        value = "nan" if math.isnan(loss_sum) else "infinite"
        return (f"the loss became {value} at epoch {s.epoch + 1}, step {s.step + 1}: training "
                f"stopped before applying it; {kept}")

    def _save(self, best: bool = False) -> None:
        """Every worker takes part (their generator states are gathered); rank 0 writes."""
        rngs = self.workers.gather(rng_state())
        if not (self.files and self.workers.is_main):
            return
        s = self.state
        payload = {"model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                   "scheduler": self.scheduler.state_dict(), "epoch": s.epoch, "batch": s.batch,
                   "step": s.step, "config": self.config.to_dict(), "data": self.data.name,
                   "spec": to_dict(self.spec) if self.spec else None,
                   "input_shape": list(self.data.input_shape),
                   "num_classes": self.data.num_classes, "world_size": self.workers.world_size,
                   "threads": torch.get_num_threads(),
                   "train_images": len(self.data.train), "steps_per_epoch": s.steps_per_epoch,
                   "preprocessing": self.data.preprocessing(), "init_from": self.init_from,
                   "rng": rngs, "epoch_stats": dict(self.epoch_stats), "history": s.history}
        save_checkpoint(self.files.checkpoint, payload)
        if best:
            save_checkpoint(self.files.best, payload)

    def _result(self) -> TrainResult:
        history, unfinished = self.state.history, self.epoch_stats  # a run stopped mid-epoch
        train_seconds = sum(r["train_seconds"] for r in history) + unfinished["seconds"]
        images = sum(r["images_per_s"] * r["train_seconds"] for r in history) + unfinished["images"]
        wall_seconds = sum(r["seconds"] for r in history) + unfinished["seconds"]
        # every epoch's gradient bytes, whichever process (before a resume) counted them
        steps = [b["step"] - a["step"] for a, b in zip([{"step": 0}, *history], history)]
        comm = [(r["comm_bytes_per_step"] * n, n) for r, n in zip(history, steps)
                if "comm_bytes_per_step" in r]
        comm_bytes = sum(b for b, _ in comm) + unfinished["comm_bytes"]
        comm_steps = sum(n for _, n in comm) + unfinished["comm_steps"]
        analysis = None
        if self.spec is not None:
            a = analyze(self.spec, batch=self.config.batch_size)
            analysis = {"input": list(a.input), **{k: getattr(a.totals, k) for k in ANALYSIS_KEYS}}
        return TrainResult(
            self.module, history, len(history), self.state.step, wall_seconds,
            images / train_seconds if train_seconds else 0.0, self.workers.world_size,
            comm_bytes / comm_steps if comm_steps else None, self.stopped,
            analysis, self.files.out if self.files else None, self.config.monitor,
            self.init_from)
