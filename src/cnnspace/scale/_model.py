"""The analytic scaling model of synchronous data-parallel training (no torch).

Time per iteration on N workers = compute(global batch / N images on one worker)
+ communication(N), with communication from the latency-bandwidth (alpha-beta) model of one
message: ``alpha + beta * bytes``. Compute and communication are not overlapped: the model is
FireCaffe's (and Caffe's) schedule, where gradients are exchanged after the backward pass.
"""
from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass

from .._values import is_int, is_number
from ..errors import CnnspaceError
from ..metrics import analyze
from ..spec import MAX_SIZE, NetSpec, freeze, resolve

STRATEGIES = ("parameter_server", "reduction_tree", "ring")


def _plain_fields(obj, *names: str) -> None:
    """numpy's numbers in ``obj``'s ``names`` as Python's, as specs take them (a sweep written
    with numpy gives np.int64 and np.float32): checked as numbers, and written by JSON."""
    for name in names:
        object.__setattr__(obj, name, freeze(getattr(obj, name)))


def _finite_positive(value, what: str):
    """``value`` as a Python number, refused by ``what`` unless finite and > 0."""
    value = freeze(value)
    if not (is_number(value) and math.isfinite(value) and value > 0):
        raise CnnspaceError(f"{what} must be a finite number > 0, got {value!r}")
    return value


@dataclass(frozen=True)
class Interconnect:
    """One GPU-to-GPU message of ``n`` bytes takes ``alpha_s + beta_s_per_byte * n`` seconds."""
    alpha_s: float
    beta_s_per_byte: float

    def __post_init__(self):
        _plain_fields(self, "alpha_s", "beta_s_per_byte")
        for field, value, unit in (("alpha", self.alpha_s, "seconds"),
                                   ("beta", self.beta_s_per_byte, "seconds per byte")):
            if not (is_number(value) and math.isfinite(value) and value >= 0):
                raise CnnspaceError(f"{field} must be a finite number >= 0 {unit}, got {value!r}")


@dataclass(frozen=True)
class Device:
    """A worker's compute: ``peak_flops`` x ``efficiency`` FLOP/s sustained in training."""
    name: str
    peak_flops: float
    efficiency: float

    def __post_init__(self):
        _plain_fields(self, "peak_flops", "efficiency")
        _finite_positive(self.peak_flops, "device FLOP/s")
        if not (is_number(self.efficiency) and 0 < self.efficiency <= 1):
            raise CnnspaceError(f"device efficiency must be in (0, 1], got {self.efficiency!r}")

    @property
    def flops(self) -> float:
        return self.peak_flops * self.efficiency

    @classmethod
    def timed(cls, name: str, costs: "NetworkCosts", images: int, seconds: float) -> "Device":
        """A device running at the FLOP/s of a measured training step of ``images`` images."""
        images = freeze(images)
        if not (is_int(images) and images >= 1):
            raise CnnspaceError(f"Device.timed: images must be a positive integer, got "
                                f"{images!r}")
        seconds = _finite_positive(seconds, "Device.timed: seconds")
        return cls(name, costs.train_flops_per_image * images / seconds, 1.0)



@dataclass(frozen=True)
class Recipe:
    """How much training: ``epochs`` passes over ``dataset_size`` images in steps of ``batch``."""
    batch: int
    epochs: float
    dataset_size: int

    def __post_init__(self):
        _plain_fields(self, "batch", "epochs", "dataset_size")
        self.check(self.batch, self.epochs, self.dataset_size)

    @staticmethod
    def check(batch, epochs, dataset_size, names=("batch", "epochs", "dataset_size")) -> None:
        """Refuses values no recipe can have, naming each by ``names`` (command-line flags, say)."""
        batch, epochs, dataset_size = freeze(batch), freeze(epochs), freeze(dataset_size)
        for name, value in ((names[0], batch), (names[2], dataset_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise CnnspaceError(f"{name} must be a positive integer, got {value!r}")
        # analyze (and torch) take batches up to MAX_SIZE: refused here, before any measuring
        if batch > MAX_SIZE:
            raise CnnspaceError(f"{names[0]} must be at most {MAX_SIZE:,}, got {batch:,}")
        if not (is_number(epochs) and math.isfinite(epochs) and epochs > 0):
            raise CnnspaceError(f"{names[1]} must be > 0, got {epochs!r}")
        # the times are floats: an image count beyond the largest one (a 400-digit --dataset-size)
        # would be an OverflowError in epochs x images, not a prediction
        if dataset_size > sys.float_info.max:
            raise CnnspaceError(f"{names[2]} must be at most {sys.float_info.max:.3g}, got a "
                                f"{len(str(dataset_size))}-digit number")
        if dataset_size < batch:
            raise CnnspaceError(f"{names[2]} {dataset_size:,} is smaller than one batch of "
                                f"{batch:,} ({names[0]}): an epoch would be a fraction of a step")
        # a time for part of one step is no training time; the tolerance keeps one step whose
        # product rounds below it (0.29 epochs x 100 images = 28.999999999999996 in floats)
        if epochs * dataset_size < batch * (1 - 1e-12):
            raise CnnspaceError(f"{names[1]} {epochs:g} of {dataset_size:,} images is less than "
                                f"one step of {batch:,} ({names[0]}): the run would be a "
                                "fraction of a step")

    @property
    def iterations(self) -> float:
        return self.epochs * self.dataset_size / self.batch


def _worker_count(workers) -> int:
    """``workers`` as a Python int (numpy's too), refused unless it is a positive integer."""
    workers = freeze(workers)
    if not is_int(workers) or workers < 1:
        raise CnnspaceError(f"workers must be a positive integer, got {workers!r}")
    return workers


def check_workers_share_batch(workers, batch: int, names=("workers", "batch")) -> None:
    """Refuses a worker count with no image of the global ``batch`` to compute, naming each by
    ``names`` (command-line flags, say)."""
    for n in workers:
        n = _worker_count(n)
        if n > batch:
            raise CnnspaceError(f"{names[0]} {n}: {n} workers cannot share a global batch of "
                                f"{batch} images; use a {names[1]} of at least the largest "
                                "worker count")


def comm_coefficients(strategy: str, workers: int) -> tuple[float, float]:
    """(m, k) such that one synchronous gradient exchange of ``n`` bytes takes
    ``m * alpha + k * beta * n`` seconds, counting only transfers that must happen one after
    another (the serialised communication of seed slide 18).

    - parameter_server: every other worker sends its gradient to the server, which sends the sum
      back; the server's link carries 2 (N - 1) messages of |W| in turn (the server shares a node
      with worker 0, as in ``commbench``). O(N) x |W|.
    - reduction_tree: a binomial tree reduces, then broadcasts: 2 ceil(log2 N) rounds of |W|
      (FireCaffe). O(log2 N) x |W|.
    - ring: reduce-scatter then all-gather, 2 (N - 1) steps of |W| / N each; bandwidth term
      2 (N - 1) / N x |W|, almost independent of N.
    """
    workers = _worker_count(workers)
    if strategy not in STRATEGIES:  # checked for one worker too, which communicates nothing
        raise CnnspaceError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if workers == 1:
        return 0.0, 0.0
    if strategy == "parameter_server":
        return 2.0 * (workers - 1), 2.0 * (workers - 1)
    if strategy == "reduction_tree":
        # ceil(log2 N) in integers: the float log2 of 2**53 + 1 is 53.0, one round short
        rounds = 2.0 * (workers - 1).bit_length()
        return rounds, rounds
    return 2.0 * (workers - 1), 2.0 * (workers - 1) / workers  # ring


def comm_time(strategy: str, workers: int, nbytes: float, link: Interconnect) -> float:
    """Seconds of one gradient exchange of ``nbytes`` per worker among ``workers``."""
    m, k = comm_coefficients(strategy, workers)
    nbytes = freeze(nbytes)
    if not (is_number(nbytes) and math.isfinite(nbytes) and nbytes >= 0):
        raise CnnspaceError(f"nbytes must be a finite number of bytes >= 0, got {nbytes!r}")
    return m * link.alpha_s + k * link.beta_s_per_byte * nbytes


@dataclass(frozen=True)
class NetworkCosts:
    """What the scaling model needs from a network: analytic, from the spec alone."""
    model: str
    gradient_bytes: int          # per worker per step (= model size at the gradients' bits)
    train_flops_per_image: int   # forward + backward

    def __post_init__(self):
        _plain_fields(self, "gradient_bytes", "train_flops_per_image")
        if not (is_number(self.gradient_bytes) and self.gradient_bytes > 0):
            raise _no_weights(self.model)
        if not (is_number(self.train_flops_per_image) and self.train_flops_per_image > 0):
            raise CnnspaceError(f"{self.model}: training FLOPs per image must be > 0, got "
                                f"{self.train_flops_per_image!r}")

    @classmethod
    def of(cls, spec: NetSpec, bits: int = 32) -> "NetworkCosts":
        """``bits``: width of an exchanged gradient value (16 for fp16 allreduce)."""
        totals = analyze(spec, bits=bits).totals
        return cls(spec.name, totals.comm_bytes_data_parallel, totals.train_flops_per_step)


def _no_weights(model: str) -> CnnspaceError:
    return CnnspaceError(f"{model}: the network has no parameters, so data-parallel training has "
                         "no gradients to exchange (and nothing to learn)")


def calibrate_efficiency(costs: NetworkCosts, run: Recipe, seconds: float,
                         peak_flops: float) -> float:
    """The fraction of peak a single-device run sustained: its training FLOPs over its time."""
    seconds = _finite_positive(seconds, "calibrate_efficiency: seconds")
    peak_flops = _finite_positive(peak_flops, "calibrate_efficiency: peak_flops")
    images = run.epochs * run.dataset_size
    return costs.train_flops_per_image * images / (seconds * peak_flops)


@dataclass(frozen=True)
class ScalingRow:
    """One worker count and strategy: times in seconds (compute and communication per
    iteration, their sum, the whole training) and the speedup over the baseline."""
    workers: int
    strategy: str
    compute_s: float
    comm_s: float
    time_per_iter_s: float
    total_time_s: float
    speedup: float


@dataclass(frozen=True)
class ScalingResult:
    """``predict``'s result: ``rows`` (``row(workers, strategy)`` picks one), the inputs it came
    from and the baseline's total training time in seconds; ``to_json()`` is plain data."""
    model: str
    preset: str
    costs: NetworkCosts
    device: Device
    link: Interconnect
    recipe: Recipe
    baseline: Recipe
    baseline_total_s: float
    rows: tuple[ScalingRow, ...]

    def __repr__(self) -> str:  # the rows are many: what they cover only
        workers = sorted({r.workers for r in self.rows})
        return (f"ScalingResult(model={self.model!r}, preset={self.preset!r}, "
                f"workers={workers}, rows=<{len(self.rows)} ScalingRow>)")

    def row(self, workers: int, strategy: str) -> ScalingRow:
        for r in self.rows:
            if r.workers == workers and r.strategy == strategy:
                return r
        predicted = sorted({r.workers for r in self.rows})
        strategies = list(dict.fromkeys(r.strategy for r in self.rows))
        raise CnnspaceError(f"no prediction for {workers} workers with {strategy!r}: predicted "
                            f"for workers {predicted} and strategies {strategies}")

    def to_json(self) -> dict:
        return {"model": self.model, "preset": self.preset, "costs": asdict(self.costs),
                "device": {**asdict(self.device), "flops": self.device.flops},
                "link": asdict(self.link), "recipe": asdict(self.recipe),
                "baseline": asdict(self.baseline), "baseline_total_s": self.baseline_total_s,
                "rows": [asdict(r) for r in self.rows]}


def predict(costs: NetworkCosts, device: Device, link: Interconnect, recipe: Recipe,
            baseline: Recipe, workers: list[int], strategies=STRATEGIES,
            preset: str = "custom") -> ScalingResult:
    """Time per iteration, total training time and speedup over the single-device ``baseline``
    run (its own batch and epochs) for every worker count and strategy. ``workers``: a list of
    worker counts (or one count); ``strategies``: names from ``STRATEGIES`` (or one name)."""
    for value, kind, arg in ((costs, NetworkCosts, "costs"), (device, Device, "device"),
                             (link, Interconnect, "link"), (recipe, Recipe, "recipe"),
                             (baseline, Recipe, "baseline")):
        if not isinstance(value, kind):
            raise CnnspaceError(f"predict(costs, device, link, recipe, baseline, workers): "
                                f"{arg} must be a {kind.__name__}, got {type(value).__name__}")
    # numpy's arrays and scalars (np.arange(1, 9), 2 ** np.arange(8)) as Python's lists and ints
    workers, strategies = freeze(workers), freeze(strategies)
    if isinstance(strategies, str):
        strategies = (strategies,)
    elif not isinstance(strategies, tuple):
        raise CnnspaceError(f"strategies must be a list of names from {', '.join(STRATEGIES)}, "
                            f"got {strategies!r}")
    if not strategies:
        raise CnnspaceError(f"give at least one strategy: {', '.join(STRATEGIES)}")
    if isinstance(workers, int):
        workers = [workers]
    elif not isinstance(workers, (tuple, range)):
        raise CnnspaceError(f"workers must be a list of worker counts, got {workers!r}")
    if not workers:
        raise CnnspaceError("give at least one worker count")
    # a count or strategy given twice is one prediction, not two rows that row() cannot tell apart
    workers, strategies = list(dict.fromkeys(workers)), tuple(dict.fromkeys(strategies))
    check_workers_share_batch(workers, recipe.batch, ("workers", "recipe.batch"))
    per_image_s = costs.train_flops_per_image / device.flops
    baseline_total = baseline.epochs * baseline.dataset_size * per_image_s
    rows = []
    for n in workers:
        for strategy in strategies:
            comm = comm_time(strategy, n, costs.gradient_bytes, link)
            compute = math.ceil(recipe.batch / n) * per_image_s
            per_iter = compute + comm
            total = recipe.iterations * per_iter
            speedup = baseline_total / total if total else math.inf
            if not (math.isfinite(total) and math.isfinite(speedup)):
                # inf or nan would print as Infinity/NaN, which is no JSON and no prediction
                raise CnnspaceError(
                    f"the predicted times overflow ({n} worker{'s' if n > 1 else ''}, "
                    f"{strategy}): alpha {link.alpha_s:g} s, beta {link.beta_s_per_byte:g} "
                    f"s/byte, {device.flops:g} FLOP/s and {recipe.epochs:g} epochs (baseline "
                    f"{baseline.epochs:g}) are beyond any real cluster")
            rows.append(ScalingRow(n, strategy, compute, comm, per_iter, total, speedup))
    return ScalingResult(costs.model, preset, costs, device, link, recipe, baseline,
                         baseline_total, tuple(rows))


@dataclass(frozen=True)
class ParallelismComm:
    """Bytes communicated per step by data parallelism (the weights' gradients) and by model
    parallelism (activations x batch), in two accountings of the activations:
    ``layer_inputs``: the input data D of every layer with weights (seed slide 15's anatomy: each
    worker holds a slice of W, so every weighted layer's input must reach every worker);
    ``all_outputs``: every layer's output, as ``analyze`` counts ``comm_bytes_model_parallel``."""
    model: str
    batch: int
    data_parallel_bytes: int
    model_parallel_bytes_layer_inputs: int
    model_parallel_bytes_all_outputs: int

    @property
    def ratio_layer_inputs(self) -> float:
        return self.model_parallel_bytes_layer_inputs / self.data_parallel_bytes

    @property
    def ratio_all_outputs(self) -> float:
        return self.model_parallel_bytes_all_outputs / self.data_parallel_bytes

    def to_json(self) -> dict:
        return {**asdict(self), "ratio_layer_inputs": self.ratio_layer_inputs,
                "ratio_all_outputs": self.ratio_all_outputs}


def parallelism_comm(spec: NetSpec, batch: int, bits: int = 32) -> ParallelismComm:
    """Bytes per step of data vs model parallelism for ``spec`` at its own input, ``batch``
    images per step and ``bits`` per value."""
    batch, bits = freeze(batch), freeze(bits)  # as analyze takes them: the products stay ints
    analysis = analyze(spec, batch=batch, bits=bits)
    if not analysis.totals.comm_bytes_data_parallel:
        raise _no_weights(spec.name)
    graph = resolve(spec)
    weighted_inputs = sum(math.prod(shape) for node, layer in zip(graph.nodes, analysis.layers)
                          if layer.params for shape in node.in_shapes)
    return ParallelismComm(spec.name, batch, analysis.totals.comm_bytes_data_parallel,
                           math.ceil(weighted_inputs * bits / 8) * batch,
                           analysis.totals.comm_bytes_model_parallel)
