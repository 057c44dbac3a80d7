"""Starting local workers with torch's own launcher (torchrun = ``python -m torch.distributed.run``)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from ..errors import CnnspaceError
from ._distributed import available_cpus


def torchrun_command(nproc: int, module_args: list[str]) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node N -m MODULE ARGS``."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={nproc}", "-m", *module_args]


def launch_local(nproc: int, module_args: list[str]) -> None:
    """Runs ``python -m MODULE_ARGS`` as ``nproc`` workers on this machine and waits.

    Each worker gets an equal share of the cores as its thread count (torchrun would otherwise
    set 1 and warn). Ctrl-C reaches the workers directly (same process group); this process
    only waits for them to save their checkpoint and exit.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, available_cpus() // nproc))}
    interrupted = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    try:
        code = subprocess.call(torchrun_command(nproc, module_args), env=env)
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt
    if code:
        raise CnnspaceError(f"the {nproc} training workers failed (torchrun exit code {code}); "
                            "their messages are above")
