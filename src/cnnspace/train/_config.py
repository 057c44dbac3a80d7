"""Every training option in one serialisable dataclass, and the named recipes that fill it in."""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .._values import is_int
from ..errors import CnnspaceError

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("onecycle", "poly", "cosine", "step", "constant")
LR_SCALINGS = ("none", "linear")
COMPRESSIONS = ("none", "fp16", "bf16", "powersgd")
DEVICES = ("auto", "cpu", "cuda")
CLASSIFIER_INITS = ("spec", "imprint")
# fp32, or the forward pass under bfloat16 autocast (weights, gradients, the optimizer and the
# loss stay fp32). No fp16: it would need loss scaling, whose state a resume would have to keep.
PRECISIONS = ("fp32", "bf16")
MAX_SEED = 2**63
# What init_from copies: every layer (a fine-tune of the same network), or the layers the trained
# model has too (a backbone: SqueezeDet from a SqueezeNet), the others keeping the spec's init.
INIT_LAYERS = ("all", "shared")

# Options about where and how a run executes rather than what it computes: a resumed run may
# change them without breaking exact continuation.
RUN_OPTIONS = frozenset({"out", "resume", "progress", "num_workers", "checkpoint_every",
                         "eval_batch_size", "device", "threads"})


class ConfigError(CnnspaceError):
    """A training option is invalid; the message names the option."""


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run. The defaults are the ``adam-onecycle`` recipe.

    ``recipe`` names the recipe the values started from; the constructor checks the name but
    does not apply the recipe: ``TrainConfig.from_recipe("digits", epochs=20)`` does.
    ``overrides`` lists the options that differ from the named recipe (config.yaml records
    them), so ``TrainConfig(recipe="digits")`` shows batch_size 128 and classifier_init 'spec'
    as overrides of digits' 32 and 'imprint'.
    """
    epochs: int = 40
    batch_size: int = 128               # global: split evenly over the workers
    lr: float = 1e-3                    # at lr_reference_batch when lr_scaling is linear
    lr_scaling: str = "none"            # "linear": lr x batch_size / lr_reference_batch
    lr_reference_batch: int = 128
    optimizer: str = "adam"
    momentum: float = 0.9               # SGD momentum; Adam's beta1 (one-cycle cycles it)
    weight_decay: float = 0.0
    schedule: str = "onecycle"
    warmup_epochs: float = 0.0          # linear warm-up; one-cycle's rising phase if > 0
    poly_power: float = 1.0             # SqueezeNet's solver: (1 - progress) ** 1
    step_epochs: int = 30               # "step": multiply by step_gamma every step_epochs
    step_gamma: float = 0.1
    aux_weight: float = 0.3             # auxiliary classifier losses (GoogLeNet's 0.3)
    classifier_init: str = "spec"       # "imprint": the output layer from class-mean features
    init_from: str | None = None        # fine-tune: a trained model's weights (.pt/.pth, .cnnz)
    init_layers: str = "all"            # "shared": only the layers init_from has too
    seed: int = 0
    channels_last: bool = False
    precision: str = "fp32"             # "bf16": the forward pass under bfloat16 autocast
    grad_compression: str = "none"      # DDP communication hook
    powersgd_rank: int = 1
    checkpoint_every: int = 0           # also every N optimizer steps (0: at epoch ends only)
    num_workers: int | None = None      # data loader processes per worker; None: automatic
    eval_batch_size: int = 256
    device: str = "auto"
    threads: int | None = None          # CPU threads per worker; None: torch's default
    deterministic: bool = False         # torch.use_deterministic_algorithms for exact reruns
    monitor: str = "top1"               # picks best.pt: the lowest loss, else the highest value
    out: str | None = None              # run folder; None writes nothing
    resume: bool = False
    progress: bool = True
    recipe: str = "adam-onecycle"       # the recipe these values started from (not applied)

    def __post_init__(self):
        for key, expected in (("init_from", "the path of a checkpoint or .cnnz, or null"),
                              ("out", "the path of a run folder, or null (nothing written)")):
            value = getattr(self, key)
            if isinstance(value, os.PathLike):  # recorded as plain text in config.yaml
                value = os.fspath(value)
                object.__setattr__(self, key, value)
            if value is not None and (not isinstance(value, str) or not value):
                _fail(key, expected, value)
        for key, choices in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                             ("lr_scaling", LR_SCALINGS), ("grad_compression", COMPRESSIONS),
                             ("device", DEVICES), ("classifier_init", CLASSIFIER_INITS),
                             ("precision", PRECISIONS), ("init_layers", INIT_LAYERS)):
            if getattr(self, key) not in choices:
                _fail(key, f"one of {', '.join(choices)}", getattr(self, key))
        for key in ("epochs", "batch_size", "lr_reference_batch", "step_epochs", "powersgd_rank",
                    "eval_batch_size"):
            if not is_int(getattr(self, key)) or getattr(self, key) < 1:
                _fail(key, "a positive integer", getattr(self, key))
        for key in ("seed", "checkpoint_every"):
            if not is_int(getattr(self, key)) or getattr(self, key) < 0:
                _fail(key, "a non-negative integer", getattr(self, key))
        # torch's generators take 64 bits; workers and resumes seed with seed + rank + step
        if self.seed >= MAX_SEED:
            _fail("seed", "a non-negative integer below 2**63", self.seed)
        if self.num_workers is not None and (not is_int(self.num_workers)
                                             or self.num_workers < 0):
            _fail("num_workers", "a non-negative integer or null (automatic)", self.num_workers)
        if self.threads is not None and (not is_int(self.threads) or self.threads < 1):
            _fail("threads", "a positive integer or null (torch's default)", self.threads)
        for key in ("lr", "poly_power", "step_gamma"):
            if not _is_number(getattr(self, key)) or getattr(self, key) <= 0:
                _fail(key, "a positive number", getattr(self, key))
        for key in ("weight_decay", "warmup_epochs", "aux_weight"):
            if not _is_number(getattr(self, key)) or getattr(self, key) < 0:
                _fail(key, "a non-negative number", getattr(self, key))
        if not _is_number(self.momentum) or not 0 <= self.momentum < 1:
            _fail("momentum", "a number in [0, 1)", self.momentum)
        if self.warmup_epochs >= self.epochs:
            _fail("warmup_epochs", f"fewer than the {self.epochs} epochs", self.warmup_epochs)
        for key in ("channels_last", "deterministic", "resume", "progress"):
            if not isinstance(getattr(self, key), bool):
                _fail(key, "true or false", getattr(self, key))
        if self.recipe not in RECIPES:
            _fail("recipe", f"one of {', '.join(RECIPES)} (TrainConfig.from_recipe applies "
                  "one)", self.recipe)
        if self.init_layers != "all" and not self.init_from:
            _fail("init_layers", "'all' unless init_from names the weights to copy",
                  self.init_layers)
        if self.resume and not self.out:
            _fail("resume", "an out folder to resume from (--out)", self.resume)

    @property
    def effective_lr(self) -> float:
        """The learning rate used: scaled with the global batch when lr_scaling is linear."""
        if self.lr_scaling == "linear":
            return self.lr * self.batch_size / self.lr_reference_batch
        return self.lr

    def per_worker_batch(self, world_size: int) -> int:
        """Strong scaling: the global batch stays fixed and is split over the workers."""
        if self.batch_size % world_size:
            raise ConfigError(f"batch_size {self.batch_size} is not divisible by {world_size} "
                              f"workers; choose a multiple of {world_size}")
        return self.batch_size // world_size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"a training configuration must be a mapping, got {d!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown training option {unknown[0]!r}; known: "
                              f"{', '.join(sorted(known))}")
        return cls(**d)

    @classmethod
    def from_recipe(cls, name: str, **overrides: Any) -> "TrainConfig":
        """A recipe's values, then ``overrides`` (None values leave the recipe's)."""
        if name not in RECIPES:
            raise ConfigError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
        values = {**RECIPES[name], **{k: v for k, v in overrides.items() if v is not None}}
        return cls.from_dict({**values, "recipe": name})

    def with_options(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes)

    @property
    def overrides(self) -> dict[str, Any]:
        """The options that change what is computed and differ from ``recipe``'s values."""
        recipe = TrainConfig.from_recipe(self.recipe)
        return {k: value for k, (_, value) in _changed(recipe, self).items()}

    def differences(self, other: "TrainConfig") -> list[str]:
        """Options that change what is computed (RUN_OPTIONS excluded), as 'name: a -> b'."""
        return [f"{k}: {a!r} -> {b!r}" for k, (a, b) in _changed(self, other).items()]


RECIPES: dict[str, dict[str, Any]] = {
    # Trains SqueezeNet from scratch on small data (machine-notes.md: digits reach ~98.9% top-1
    # in 40 epochs, where SGD stays at chance).
    "adam-onecycle": {"optimizer": "adam", "lr": 1e-3, "schedule": "onecycle", "epochs": 40,
                      "batch_size": 128, "lr_reference_batch": 128, "weight_decay": 0.0},
    # The default for digits: adam-onecycle at batch 32 with an imprinted classifier. At 32x32
    # SqueezeNet's conv10 sees a 1x1 map, and with torchvision's init its ReLU starts dead for
    # 2-7 of the 10 classes (by seed); a dead class gets no gradient, and whether training
    # revives it is luck (batch 128: 79-99% top-1 by seed). Imprinting starts every class alive;
    # batch 32 leaves more margin than 128 (docs/training.md has the measurements).
    "digits": {"optimizer": "adam", "lr": 1e-3, "schedule": "onecycle", "epochs": 40,
               "batch_size": 32, "lr_reference_batch": 32, "weight_decay": 0.0,
               "classifier_init": "imprint"},
    # SqueezeNet v1.0's Caffe solver: SGD, base LR 0.04 at batch 512, poly (power 1), momentum
    # 0.9, weight decay 2e-4, 170k iterations (~68 ImageNet epochs).
    "squeezenet": {"optimizer": "sgd", "lr": 0.04, "schedule": "poly", "poly_power": 1.0,
                   "momentum": 0.9, "weight_decay": 2e-4, "batch_size": 512,
                   "lr_reference_batch": 512, "epochs": 68},
    # FireCaffe's large-batch recipe (published-numbers.md): batch 1024, LR 0.08, poly, 72
    # epochs; LR scaled linearly when the global batch differs from 1024.
    "firecaffe": {"optimizer": "sgd", "lr": 0.08, "schedule": "poly", "poly_power": 1.0,
                  "momentum": 0.9, "weight_decay": 2e-4, "batch_size": 1024,
                  "lr_reference_batch": 1024, "lr_scaling": "linear", "epochs": 72},
}


# The recipe a dataset kind trains with unless one is named.
DATASET_RECIPES = {"digits": "digits"}
DEFAULT_RECIPE = "adam-onecycle"


def default_recipe(data_ref: str) -> str:
    """The recipe for a dataset reference such as ``digits`` or ``cifar10:PATH``."""
    return DATASET_RECIPES.get(str(data_ref).partition(":")[0], DEFAULT_RECIPE)


def _changed(a: TrainConfig, b: TrainConfig) -> dict[str, tuple[Any, Any]]:
    da, db = a.to_dict(), b.to_dict()
    return {k: (da[k], db[k]) for k in da
            if k not in RUN_OPTIONS and k != "recipe" and da[k] != db[k]}



def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fail(key: str, expected: str, value) -> None:
    raise ConfigError(f"option {key!r}: expected {expected}, got {value!r}")
