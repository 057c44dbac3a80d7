"""`cnnspace train`: train a zoo model or spec on a dataset, alone or as N torchrun workers."""
from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Callable, Iterable


from ..data import DataError, TensorImages, dataset_names, get_dataset
from .._memory import available_memory
from .._parent import die_with_parent
from ..errors import CnnspaceError, exit_status
from ..train import (RECIPES, ConfigError, RunFiles, TrainConfig, check_initial_weights,
                     default_recipe, fit_spec, launch_local, train, under_torchrun, uses_cuda,
                     zoo_spec)
from ..train._config import (CLASSIFIER_INITS, COMPRESSIONS, DEVICES, INIT_LAYERS, LR_SCALINGS,
                             OPTIMIZERS, PRECISIONS, SCHEDULES)
from ..train._launch import PEER_LOST, WorkersFailed
from ..zoo import list_models
from ._checkpoints import is_trained
from ._common import (add_model_args, check_threads, load_model, new_run_folder,
                      parse_settings, plural, stderr_console)

# What gloo raises in a collective when the worker at the other end has exited.
LOST_PEER = re.compile(r"Connection (closed|reset) by peer")

# flag, TrainConfig field (None: not a training option), argparse keywords. One table drives
# both the parser and the command line handed to torchrun's workers.
OPTIONS: list[tuple[str, str | None, dict]] = [
    ("--data", None, {"default": "digits", "metavar": "DATASET",
                      "help": "digits (default), cifar10:PATH, cifar100:PATH, imagefolder:PATH"}),
    ("--image-size", None, {"type": int, "metavar": "N", "help": "resize images to NxN"}),
    ("--recipe", None, {"choices": list(RECIPES),
                        "help": "named defaults for the options below (default: digits for "
                                "digits, adam-onecycle otherwise)"}),
    ("--epochs", "epochs", {"type": int}),
    ("--batch-size", "batch_size", {"type": int, "metavar": "GLOBAL",
                                    "help": "global batch, split evenly over the workers"}),
    ("--lr", "lr", {"type": float}),
    ("--lr-scaling", "lr_scaling", {"choices": LR_SCALINGS,
                                    "help": "linear: lr x batch / --lr-reference-batch"}),
    ("--lr-reference-batch", "lr_reference_batch", {"type": int, "metavar": "N"}),
    ("--optimizer", "optimizer", {"choices": OPTIMIZERS}),
    ("--momentum", "momentum", {"type": float}),
    ("--weight-decay", "weight_decay", {"type": float}),
    ("--schedule", "schedule", {"choices": SCHEDULES}),
    ("--warmup", "warmup_epochs", {"type": float, "metavar": "EPOCHS",
                                   "help": "epochs of linear LR warm-up (one-cycle: its rise; "
                                           "at least 2 steps)"}),
    ("--aux-weight", "aux_weight", {"type": float, "help": "weight of auxiliary outputs' loss"}),
    ("--classifier-init", "classifier_init", {
        "choices": CLASSIFIER_INITS,
        "help": "imprint: start the output layer from class-mean features (Qi et al. 2018)"}),
    ("--seed", "seed", {"type": int}),
    ("--channels-last", "channels_last", {"action": "store_true", "default": None}),
    ("--precision", "precision", {"choices": PRECISIONS,
                                  "help": "bf16: the forward pass under bfloat16 autocast "
                                          "(weights, gradients, loss and evaluation stay fp32); "
                                          "default fp32"}),
    ("--grad-compression", "grad_compression", {"choices": COMPRESSIONS}),
    ("--powersgd-rank", "powersgd_rank", {"type": int, "metavar": "R"}),
    ("--checkpoint-every", "checkpoint_every", {
        "type": int, "metavar": "STEPS",
        "help": "also write checkpoint.pt every STEPS optimizer steps (default 0: at epoch ends)"}),
    ("--loader-workers", "num_workers", {"type": int, "metavar": "N",
                                         "help": "data loading processes per worker"}),
    ("--device", "device", {"choices": DEVICES, "help": "auto (default): GPUs when there is one "
                                                          "per worker on this machine, else the CPU"}),
    ("--threads", "threads", {"type": int, "metavar": "N",
                              "help": "CPU threads per worker (default: torch's; 1 is steadier on a "
                              "machine other jobs share)"}),
    ("--deterministic", "deterministic", {"action": "store_true", "default": None}),
    ("--out", "out", {"metavar": "DIR", "help": "run folder (default runs/MODEL-DATA-TIME)"}),
    ("--resume", "resume", {"action": "store_true", "default": None,
                            "help": "continue the run in --out from its checkpoint"}),
    ("--init-from", "init_from", {
        "metavar": "TRAINED", "help": "fine-tune: start from the weights of a checkpoint "
        "(.pt/.pth of cnnspace train) or a .cnnz, copied layer by layer; a classifier sized for "
        "another class count starts afresh"}),
    ("--init-layers", "init_layers", {
        "choices": INIT_LAYERS, "help": "all (default): --init-from must have every layer; "
        "shared: copy the layers it has too (a backbone), the others start from the spec's "
        "init"}),
    ("--no-progress", None, {"action": "store_true", "help": "no progress bar or epoch lines"}),
]


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model on a dataset (data-parallel with --nproc)",
                       description="Synchronous data-parallel training. Under torchrun each "
                       "worker runs this same command; --nproc N starts N local workers.",
                       epilog="datasets: " + "; ".join(f"{k}: {v}"
                                                       for k, v in dataset_names().items()))
    add_model_args(p)
    for flag, _, kwargs in OPTIONS:
        p.add_argument(flag, **kwargs)
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="local worker processes, started with torchrun (default 1)")
    p.set_defaults(run=run)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def option_argv(args, flags: Iterable[tuple[str, dict]], out: str) -> list[str]:
    """The options ``flags`` (flag, argparse keywords) as ``args`` holds them, written back as a
    command line for torchrun's workers; ``--out`` fixed to ``out``."""
    argv = []
    for flag, kwargs in flags:
        value = out if flag == "--out" else getattr(args, _dest(flag))
        if kwargs.get("action") == "store_true":
            argv += [flag] if value else []
        elif value is not None:
            argv.append(f"{flag}={value}")
    return argv


def _worker_argv(args, out: str) -> list[str]:
    """This command line for torchrun's workers: --nproc dropped, --out fixed."""
    flags = [(flag, kwargs) for flag, _, kwargs in OPTIONS]
    return [args.model, *[f"--set={s}" for s in args.settings], *option_argv(args, flags, out)]


def run_options(args) -> tuple[str, TrainConfig]:
    """The run folder and the training options a `train` or `detect train` command line asks
    for (--nproc checked)."""
    if args.nproc < 1:
        raise CnnspaceError(f"--nproc: expected a positive number of workers, got {args.nproc}")
    check_threads(args.threads)  # torch takes them only once the data is read or generated
    if args.resume and not args.out:
        # The default folder is a new one (its name has the time): nothing to continue there.
        raise CnnspaceError("--resume: name the run folder to continue with --out DIR")
    out = args.out or _default_out(args.model, args.data)
    # detect train leaves some options out (getattr's None: the recipe's value)
    options = {field: getattr(args, _dest(flag), None)
               for flag, field, _ in OPTIONS if field}
    try:
        config = TrainConfig.from_recipe(args.recipe or default_recipe(args.data),
                                         **{**options, "out": out,
                                            "progress": not args.no_progress})
    except ConfigError as e:
        raise ConfigError(_with_flags(str(e))) from None
    uses_cuda(config.device, args.nproc)  # too few GPUs: one message here, not one per worker
    return out, config


def _with_flags(message: str) -> str:
    """A TrainConfig error naming a field whose flag is called otherwise (warmup_epochs is
    --warmup) names the flag typed too."""
    def named(match: re.Match) -> str:
        flag = next((flag for flag, field, _ in OPTIONS if field == match[1]), None)
        renamed = flag and flag != "--" + match[1].replace("_", "-")
        return f"{match[0]} ({flag})" if renamed else match[0]
    return re.sub(r"option '(\w+)'", named, message)


def _default_out(model: str, data: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.]+", "-", f"{Path(model).stem}-{data.split(':')[0]}")
    return str(new_run_folder(slug))


def run(args) -> int:
    if args.input:
        raise CnnspaceError("--input: the input shape comes from the dataset; resize its "
                            "images with --image-size N")
    out, config = run_options(args)
    if args.nproc > 1 and not under_torchrun():
        # Bad input fails here with one message, not in every worker.
        config.per_worker_batch(args.nproc)
        spec, data, _ = _model_and_data(args)
        _check_worker_copies(data, args.nproc)
        del data  # freed before the workers read their own copies
        if config.init_from and not (args.resume and RunFiles(out).checkpoint.exists()):
            check_initial_weights(spec, config.init_from, config.init_layers == "shared")
        RunFiles(out).refuse_to_overwrite(bool(args.resume))
        return launch_workers(args.nproc, ["cnnspace.cli", "train", *_worker_argv(args, out)])
    if config.grad_compression != "none" and not under_torchrun():
        print(f"note: --grad-compression {config.grad_compression} compresses the gradients "
              "workers exchange; training alone, there is no exchange to compress",
              file=sys.stderr)
    return as_worker("train", lambda: _train(args, config, out))


def _check_worker_copies(data, nproc: int) -> None:
    """Every worker reads its own copy of an in-memory dataset: ``nproc`` copies must fit once
    this command's is freed. The out-of-memory killer ended the workers otherwise, and the
    command said only "killed by SIGKILL (out of memory?)"."""
    copy = sum(split.images.nbytes for split in (data.train, data.test)
               if isinstance(split, TensorImages))
    room = available_memory()
    if not copy or room is None or nproc * copy <= room + copy:
        return

    def gib(nbytes: int) -> str:
        return f"{nbytes / 2**30:.3g} GiB"
    raise CnnspaceError(f"--nproc {nproc}: each worker holds the images of {data.name} in "
                        f"memory ({gib(copy)}), {gib(nproc * copy)} for {nproc} workers, and "
                        f"{gib(room + copy)} is available with this command's copy freed: use "
                        "fewer workers or a smaller --image-size")


def launch_workers(nproc: int, module_args: list[str]) -> int:
    """Runs this command as ``nproc`` local workers: 0, or 2 once a worker has said in its own
    line what went wrong."""
    try:
        launch_local(nproc, module_args)
    except WorkersFailed as e:
        if not e.reported:
            raise
        return 2
    return 0


def as_worker(command: str, work: Callable[[], int]) -> int:
    """``work()``. Under torchrun a worker stops with the command that started it, leaves an
    interruption for that command to say, and what every worker meets alike is reported once,
    by rank 0."""
    if not under_torchrun():
        return work()
    try:
        die_with_parent()
        return work()
    except KeyboardInterrupt as stop:
        return exit_status(stop)  # the trainer and the launching command have said so
    except CnnspaceError as e:
        if is_rank0():
            raise
        if isinstance(e, DataError):  # in this worker's shard of the data: only it knows
            print(f"cnnspace {command}: error (worker {os.environ['RANK']}): {e}",
                  file=sys.stderr)
        return 2  # anything else every worker meets alike: rank 0 reports it, once
    except RuntimeError as e:
        if LOST_PEER.search(str(e)):
            return PEER_LOST  # another worker stopped first: its error is its to print
        raise


def recorded_command(command: str, argv: list[str]) -> str:
    """The command line that reruns this run: the workers' own, with --nproc as they run."""
    workers = int(os.environ["WORLD_SIZE"]) if under_torchrun() else 1
    return shlex.join(["cnnspace", *command.split(), *argv,
                       *([f"--nproc={workers}"] if workers > 1 else [])])


def is_rank0() -> bool:
    return not under_torchrun() or os.environ["RANK"] == "0"


def _model_and_data(args):
    if is_trained(args.model):
        raise CnnspaceError(f"{args.model} is a trained model; to fine-tune it, name the network "
                            f"and start from its weights: cnnspace train MODEL_OR_SPEC "
                            f"--init-from {args.model} (`cnnspace spec {args.model} -o net.yaml` "
                            "writes its network as a spec)")
    # Reading a dataset can take a while (CIFAR resized to 224x224: most of a minute).
    size = f" at {args.image_size}x{args.image_size}" if args.image_size else ""
    status = (stderr_console().status(f"reading {args.data}{size}")
              if is_rank0() and not args.no_progress else contextlib.nullcontext())
    with status:
        data = get_dataset(args.data, args.image_size)
    settings = parse_settings(args.settings)
    if args.model in list_models():
        spec = zoo_spec(args.model, data, **settings)
    else:
        spec = load_model(args.model, settings)
        if spec.input != data.input_shape and is_rank0():
            # Layers sized by the input (linear after flatten) change with it: say so.
            print(f"note: {args.model} is written for {'x'.join(map(str, spec.input))} input; "
                  f"it trains at {'x'.join(map(str, data.input_shape))}, the size of the "
                  f"{data.name} images (--image-size N resizes them)", file=sys.stderr)
    return fit_spec(spec, data), data, settings


def _train(args, config: TrainConfig, out: str) -> int:
    spec, data, settings = _model_and_data(args)
    if is_rank0():
        note_batch_beyond_data(config, len(data.train))
    command = recorded_command("train", _worker_argv(args, out))
    result = train(spec, data, config, run_info={"command": command, "model": args.model,
                                                 "settings": settings})
    if is_rank0():
        _print_summary(result)
    return 0


def note_batch_beyond_data(config: TrainConfig, images: int) -> None:
    """A batch larger than the training set trains on all of it every step: said, since a
    linearly scaled learning rate is then scaled for images no step has."""
    if config.batch_size <= images:
        return
    scaled = (f"; --lr-scaling linear sets the learning rate for {config.batch_size}: "
              f"{config.effective_lr:.3g} ({config.lr * images / config.lr_reference_batch:.3g} "
              f"for {images:,})" if config.lr_scaling == "linear" else "")
    print(f"note: the global batch of {config.batch_size} is larger than the {images:,} "
          f"training images: each step takes all of them{scaled}", file=sys.stderr)


def _print_summary(result) -> None:
    final, best = result.final, result.best
    # The epochs' own time (training and evaluation, over resumes too): start-up and
    # checkpoint writing are not in it.
    line = f"{plural(result.epochs, 'epoch')} in {result.wall_seconds:.1f} s of training and " \
           f"evaluation, {result.images_per_s:,.0f} img/s on {plural(result.world_size, 'worker')}"
    if "top1" in final:
        line = (f"top-1 {final['top1']:.2%}, top-5 {final['top5']:.2%} (best top-1 "
                f"{best['top1']:.2%} at epoch {best['epoch']}); " + line)
    if result.stopped:
        line += f"; stopped early: {result.stopped}"
    print(line + (f"\nrun folder: {result.out}" if result.out else ""))

