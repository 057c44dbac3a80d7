"""Measured metrics of a network on this machine (seed slides 8-9): latency per frame, throughput,
percent of the device's measured peak FLOP/s (whole network and per layer), training step time,
energy per frame where a counter can be read. FLOPs are the analytic counts of ``analyze``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .._threads import is_thread_count, thread_count_expected, torch_threads
from ..errors import CnnspaceError
from ..nn import SpecModule, build, copy_module
from ..nn._init import expect_module
from ..spec import NetSpec, Shape, freeze
from ._analyze import TRAIN_FLOPS_FACTOR, analyze
from ._backends import (BACKENDS, PRECISIONS, Runner, make_runner, timing_device,
                        unavailable_reason)
from ._energy import SCOPES, energy_meter, energy_per_call
from ._memory_need import memory_shortfall
from ._peak import Peak, gemm_peak
from ._profile import layer_times, train_step_timing
from ._timing import Timing, time_calls


# A part of some work (one frame of a batch, the layers of a forward pass) timed at more than
# this many times the whole: the two timings saw the machine differently busy. (Synchronising a
# GPU after each hooked layer costs at most about as much again as the pass.)
PART_OVER_WHOLE = 2
# Energy counters advance in steps (RAPL's about every millisecond, NVML's every 10 ms or so):
# read over a shorter --min-time than this, one step more or less is a large share of a reading.
ENERGY_MIN_S = 0.5


@dataclass(frozen=True)
class BackendResult:
    """One backend's figures: latency at batch 1 (a Timing, seconds), frames/s per batch,
    FLOP/s achieved at batch 1 and its % of the peak, energy in J per frame (or None)."""
    name: str
    latency: Timing                      # batch 1
    throughput_fps: dict[int, float]     # batch -> frames per second (median)
    achieved_flops: float                # at batch 1
    pct_of_peak: float
    energy_j_per_frame: float | None     # at batch 1
    unsettled_batches: tuple[int, ...] = ()  # batches > 1 whose timing never settled

    @property
    def batches_faster_than_a_frame(self) -> tuple[int, ...]:
        """Batches whose median time per call was under 1/PART_OVER_WHOLE of one frame's
        latency: batch 1 ran on a busier machine, though its halves may agree."""
        return tuple(batch for batch, fps in self.throughput_fps.items()
                     if batch > 1 and PART_OVER_WHOLE * batch / fps < self.latency.median_s)

    def settled(self, batch: int) -> bool:
        """Whether the timing behind ``throughput_fps[batch]`` settled."""
        return self.latency.stable if batch == 1 else batch not in self.unsettled_batches

    def to_json(self) -> dict:
        return {"name": self.name, "latency_ms": self.latency.to_json(),
                "throughput_fps_by_batch": {str(b): f for b, f in self.throughput_fps.items()},
                "unsettled_batches": list(self.unsettled_batches),
                "batches_faster_than_a_frame": list(self.batches_faster_than_a_frame),
                "achieved_flops": self.achieved_flops, "pct_of_peak": self.pct_of_peak,
                "energy_j_per_frame": self.energy_j_per_frame}


@dataclass(frozen=True)
class LayerTiming:
    """One layer's median time at batch 1 in milliseconds, its analytic FLOPs per frame and the
    FLOP/s that makes."""
    name: str
    type: str
    flops: int            # analytic, per frame
    time_ms: float        # median, batch 1
    achieved_flops: float
    pct_of_peak: float


@dataclass(frozen=True)
class TrainStep:
    """A timed training step of ``batch`` images on ``backend``: its Timing (seconds), images/s
    and FLOP/s."""
    backend: str
    batch: int
    step: Timing
    images_per_s: float
    achieved_flops: float   # TRAIN_FLOPS_FACTOR x forward FLOPs x batch, per second
    pct_of_peak: float


@dataclass(frozen=True)
class BenchResult:
    """``benchmark``'s result: every backend's latency and throughput (frames/s), FLOP/s
    achieved against the measured ``peak``, per-layer times, the training step and energy (J
    per frame) or why not. ``flops_per_frame`` is per image; ``to_json()`` is plain data with
    times in milliseconds."""
    model: str
    input: Shape
    device: str
    threads: int
    flops_per_frame: int
    peak: Peak
    backends: tuple[BackendResult, ...]
    unavailable: dict[str, str]          # backend -> why it did not run
    layers_backend: str | None
    layers: tuple[LayerTiming, ...]
    train: TrainStep | None
    train_unavailable_reason: str | None
    energy_source: str | None
    energy_unavailable_reason: str | None
    layers_unavailable_reason: str | None = None   # why ``layers`` is empty

    def __repr__(self) -> str:  # backends and layers hold many timings: the headline only
        best = self.fastest
        return (f"BenchResult(model={self.model!r}, input={self.input}, device={self.device!r}, "
                f"threads={self.threads}, fastest={best.name!r} "
                f"{best.latency.median_s * 1e3:.3g} ms, backends=<{len(self.backends)}>, "
                f"layers=<{len(self.layers)} LayerTiming>)")

    @property
    def layers_over_latency(self) -> float | None:
        """The layers' summed median times over their backend's median latency (None without
        layers): above PART_OVER_WHOLE they were timed on a busier machine, below its inverse
        the whole network was."""
        if not self.layers:
            return None
        latency = next(b.latency for b in self.backends if b.name == self.layers_backend)
        return sum(layer.time_ms for layer in self.layers) / 1e3 / latency.median_s

    @property
    def energy_covers(self) -> str | None:
        """What the energy counter counted, in words (the whole package or GPU), or None."""
        return SCOPES.get(self.energy_source)

    @property
    def fastest(self) -> BackendResult:
        """The backend with the lowest median latency per frame at batch 1."""
        return min(self.backends, key=lambda b: b.latency.median_s)

    def to_json(self) -> dict:
        best = self.fastest
        top, top_batch, top_fps = max(((b, batch, fps) for b in self.backends
                                       for batch, fps in b.throughput_fps.items()),
                                      key=lambda t: t[2])
        train = None if self.train is None else {
            "backend": self.train.backend, "batch": self.train.batch,
            "step_ms": self.train.step.to_json(),
            "images_per_s": self.train.images_per_s, "achieved_flops": self.train.achieved_flops,
            "pct_of_peak": self.train.pct_of_peak}
        return {
            "model": self.model, "input": list(self.input), "device": self.device,
            "dtype": self.peak.dtype, "threads": self.threads,
            "flops_per_frame": self.flops_per_frame, "backend": best.name,
            "latency_ms": best.latency.to_json(), "throughput_fps": top_fps,
            "throughput_backend": top.name, "throughput_batch": top_batch,
            "throughput_stable": top.settled(top_batch),
            "peak_flops": self.peak.flops, "peak": self.peak.to_json(),
            "achieved_flops": best.achieved_flops, "pct_of_peak": best.pct_of_peak,
            "energy_j_per_frame": best.energy_j_per_frame, "energy_source": self.energy_source,
            "energy_covers": self.energy_covers,
            "energy_unavailable_reason": self.energy_unavailable_reason,
            "backends": [b.to_json() for b in self.backends],
            "unavailable_backends": self.unavailable,
            "layers_backend": self.layers_backend,
            "layers": [vars(layer) for layer in self.layers],
            "layers_unavailable_reason": self.layers_unavailable_reason,
            "layers_over_latency": self.layers_over_latency,
            "train_step": train, "train_unavailable_reason": self.train_unavailable_reason,
        }


def _backend_names(requested: tuple[str, ...], device: torch.device,
                   dtype: torch.dtype) -> tuple[list[str], dict]:
    # asked of every name given: beside auto, a misspelt one would be dropped without a word
    unknown = [n for n in requested if n != "auto" and n not in BACKENDS]
    names = list(BACKENDS) if "auto" in requested else list(dict.fromkeys(requested))
    if unknown:
        raise CnnspaceError(f"unknown backend {unknown[0]!r}; choose from auto, "
                            f"{', '.join(BACKENDS)}")
    skipped = {n: r for n in names if (r := unavailable_reason(n, device, dtype))}
    if skipped and "auto" not in requested:
        name, reason = next(iter(skipped.items()))
        raise CnnspaceError(f"backend {name}: {reason}")
    return [n for n in names if n not in skipped], skipped


def _measure_backend(runner: Runner, batches: tuple[int, ...], flops: int, peak: Peak, meter,
                     min_time_s: float) -> BackendResult:
    latency = time_calls(runner.call(1), runner.sync, min_time_s=min_time_s)
    fps, unsettled = {1: 1.0 / latency.median_s}, []
    for batch in batches:
        if batch != 1:
            timing = time_calls(runner.call(batch), runner.sync, warmup=2, min_repeats=3,
                                min_time_s=min_time_s)
            fps[batch] = batch / timing.median_s
            if not timing.stable:
                unsettled.append(batch)
    energy = (energy_per_call(runner.call(1), meter, runner.sync, max(min_time_s, ENERGY_MIN_S))
              if meter is not None else None)
    achieved = flops / latency.median_s
    return BackendResult(runner.name, latency, fps, achieved, 100 * achieved / peak.flops, energy,
                         tuple(unsettled))


def benchmark(spec: NetSpec, module: nn.Module | None = None, *, batches=(1, 8),
              device: str = "cpu", backends=("auto",), threads: int | None = None,
              train_batch: int | None = None, per_layer: bool = True, min_time_s: float = 0.5,
              peak_sizes: tuple[int, ...] | None = None, precision: str = "fp32",
              progress: Callable[[str], None] = lambda message: None) -> BenchResult:
    """Measures ``spec`` (run as ``module`` when given, e.g. trained weights: it is copied,
    never changed, and must be the spec's network: its MACs are checked against the spec's).
    The caller's torch random numbers are left where they were. ``train_batch`` 0 skips the
    training step; None uses the largest batch. ``batches`` and ``backends`` take one value or
    several. ``precision`` "bf16" runs the forward passes with weights and inputs in bfloat16,
    the training step under bfloat16 autocast (as ``train`` does), against the peak of bfloat16
    GEMMs."""
    dev = timing_device(device)
    # numpy's integers as Python's, as analyze takes them
    batches, threads, train_batch = freeze(batches), freeze(threads), freeze(train_batch)
    batches = (batches,) if isinstance(batches, int) else batches
    backends = (backends,) if isinstance(backends, str) else backends
    if not isinstance(batches, (tuple, range)) or not batches \
            or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in batches):
        raise CnnspaceError(f"batches must be positive integers, got {batches!r}")
    # torch would take 0 threads as its default and fail on -1 with its own traceback; a
    # negative training batch would fail inside the timing and be reported as a failed step
    if threads is not None and not is_thread_count(threads):
        raise CnnspaceError(f"threads must be {thread_count_expected()} or None, got {threads!r}")
    if train_batch is not None and (isinstance(train_batch, bool)
                                    or not isinstance(train_batch, int) or train_batch < 0):
        raise CnnspaceError(f"train_batch must be 0 (no training step), a positive integer or "
                            f"None, got {train_batch!r}")
    if precision not in PRECISIONS:
        raise CnnspaceError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                            f"{precision!r}")
    if module is not None:  # else an AttributeError or NotImplementedError from its first copy
        expect_module(module)
        if any(t.is_meta for t in (*module.parameters(), *module.buffers())):
            raise CnnspaceError("the module is on the meta device: it holds no weights to time")
    dtype = PRECISIONS[precision]
    value_bytes = dtype.itemsize
    batches = tuple(sorted(set(batches) | {1}))
    analysis = analyze(spec)
    flops = analysis.totals.flops
    # weights counted: a module passed in is copied before anything runs, as one is built
    too_large = memory_shortfall(spec, dev, batch=max(batches), built=False,
                                 activation_bytes=value_bytes)
    if too_large:
        raise CnnspaceError(too_large)
    names, unavailable = _backend_names(tuple(backends), dev, dtype)
    # Weights and inputs are drawn at random: from a private generator, so that a seeded script
    # that benchmarks and then trains gets the very numbers it would have got without it.
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []), \
            torch_threads(threads) as threads:
        model = module if module is not None else build(spec)
        if isinstance(model, SpecModule):
            # another network's module would be timed against this spec's FLOPs, and its
            # per-layer times looked up under names it does not have
            theirs, ours = list(model.layers), [m.name for m in analysis.layers]
            if theirs != ours:
                first = next((a, b) for a, b in zip([*theirs, None], [*ours, None]) if a != b)
                raise CnnspaceError(f"the module is not built from spec {spec.name!r}: its "
                                    f"layers differ, first {first[0]!r} where the spec has "
                                    f"{first[1]!r}")
        if module is not None:
            _check_module_is_the_spec(model, spec, analysis.totals.macs, dev, dtype)
        progress("measuring the peak FLOP/s of GEMM")
        peak = gemm_peak(dev, dtype, threads=threads, sizes=peak_sizes)
        meter, energy_reason = energy_meter(str(dev))
        # kept: the fastest torch backend's Runner and result, to time the layers and the step
        results, kept = [], None
        for name in names:
            progress(f"timing backend {name}")
            try:  # onnxruntime exports the model on its first call: measuring may fail too
                # Each backend makes its own copy of the weights: asked now, against what the
                # copies before it left free (an overcommitting kernel kills without a word).
                if too_large := memory_shortfall(spec, dev, batch=max(batches), built=False,
                                                 activation_bytes=value_bytes):
                    raise CnnspaceError(too_large)
                runner = make_runner(name, model, spec.input, dev, threads, dtype)
                results.append(_measure_backend(runner, batches, flops, peak, meter,
                                                min_time_s))
                if runner.module is not None and (kept is None or results[-1].latency.median_s
                                                  < kept[1].latency.median_s):
                    kept = runner, results[-1]
            except CnnspaceError as e:  # e.g. a layer ONNX cannot express
                if "auto" not in backends:
                    raise
                unavailable[name] = str(e)
            finally:
                runner = None  # its copy goes before the next backend makes one, unless kept
        if not results:
            raise CnnspaceError("no backend could run: " + "; ".join(
                f"{name}: {reason}" for name, reason in unavailable.items()))
        if meter is not None and all(r.energy_j_per_frame is None for r in results):
            meter, energy_reason = None, (f"the {meter.name} energy counter did not advance "
                                          "while the network ran (a frozen or emulated counter)")
        profiled = None if kept is None else kept[0]
        layers, layers_reason = (), None
        if not per_layer:
            layers_reason = "not requested"
        elif profiled is None:
            layers_reason = "per-layer timing needs a torch backend"
        elif not isinstance(profiled.module, SpecModule):
            layers_reason = ("per-layer timing needs the module of cnnspace.nn.build(spec), "
                             "whose layers are the spec's")
        else:
            progress(f"timing each layer ({profiled.name})")
            layers = _per_layer(profiled, analysis, peak, dev)
        train, train_reason = None, "not requested (train batch 0)"
        train_batch = max(batches) if train_batch is None else train_batch
        if train_batch and profiled is not None and not any(
                p.requires_grad for p in profiled.module.parameters()):
            # pooling and activations alone: nothing for a step to update (SGD refuses it)
            train_reason = "the network has no trainable parameters"
        elif too_large := train_batch and memory_shortfall(
                spec, dev, batch=train_batch, training=True, activation_bytes=value_bytes,
                # the step keeps fp32 weights, and autocast's copies of them in bf16
                weight_copy_bytes=0 if dtype == torch.float32 else value_bytes,
                smaller="training batch (--train-batch)"):
            train_reason = too_large
        elif train_batch and profiled is not None:
            progress(f"timing a training step at batch {train_batch}")
            try:
                train, train_reason = _train(profiled, spec, train_batch, flops,
                                             peak, min_time_s), None
            except (RuntimeError, ValueError) as e:
                # e.g. batch norm over a single value per channel (a ValueError, from torch)
                train_reason = f"the training step failed: {str(e).strip().splitlines()[0]}"
        elif train_batch:
            train_reason = "training needs a torch backend"
    return BenchResult(spec.name, tuple(spec.input), str(dev), threads, flops, peak,
                       tuple(results), unavailable, profiled.name if layers else None, layers,
                       train, train_reason, meter.name if meter else None, energy_reason,
                       layers_reason)


def _check_module_is_the_spec(module: nn.Module, spec: NetSpec, macs: int, dev: torch.device,
                              dtype: torch.dtype) -> None:
    """A module passed in is timed against ``spec``'s FLOPs, which must then be its own (the same
    layer names hold other widths in a network built for other classes): it must run on the
    spec's input, and its convolutions and matrix products must take the spec's MACs
    (FlopCounterMode counts 2 FLOPs per multiply-accumulate). Checked on an eval copy in the
    timed dtype at batch 1: the caller's module keeps its mode and batch-norm statistics."""
    from torch.utils.flop_counter import FlopCounterMode

    copied = copy_module(module).to(dev, dtype).eval()
    counter = FlopCounterMode(display=False)
    try:
        with torch.inference_mode(), counter:
            copied(torch.zeros(1, *spec.input, device=dev, dtype=dtype))
    except RuntimeError as e:
        raise CnnspaceError(f"the module cannot run on the input of spec {spec.name!r} "
                            f"({'x'.join(map(str, spec.input))}): "
                            f"{str(e).strip().splitlines()[0]}") from None
    theirs = counter.get_total_flops() // 2
    if theirs != macs:
        raise CnnspaceError(f"the module is not the network of spec {spec.name!r}: its "
                            f"convolutions and matrix products take {theirs:,} MACs per image "
                            f"where the spec counts {macs:,}, so its times would be set against "
                            "another network's FLOPs")


def _per_layer(runner: Runner, analysis, peak: Peak, dev: torch.device) -> tuple[LayerTiming, ...]:
    module = runner.module
    x = torch.randn(1, *analysis.input, device=dev, dtype=runner.dtype).contiguous(
        memory_format=runner.memory_format)
    times = layer_times(module, module.layers, x, runner.sync)
    rows = []
    for m in analysis.layers:
        seconds = times[m.name]
        achieved = m.flops / seconds
        rows.append(LayerTiming(m.name, m.type, m.flops, seconds * 1e3, achieved,
                                100 * achieved / peak.flops))
    return tuple(rows)


def _train(runner: Runner, spec: NetSpec, batch: int, flops: int, peak: Peak,
           min_time_s: float) -> TrainStep:
    # trains the runner's own copy, which nothing runs after this
    step = train_step_timing(runner.module, spec.input, batch, runner.device,
                             runner.memory_format, runner.sync, min_time_s, runner.dtype)
    achieved = TRAIN_FLOPS_FACTOR * flops * batch / step.median_s
    return TrainStep(runner.name, batch, step, batch / step.median_s, achieved,
                     100 * achieved / peak.flops)
