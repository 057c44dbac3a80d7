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
    only waits for them to save their checkpoint and exit. A SIGTERM sent to this process
    alone is passed on to torchrun, which stops the workers the same way.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, available_cpus() // nproc))}
    interrupted, launched = [], []

    def on_signal(signum, frame):
        interrupted.append(signum)
        if signum == signal.SIGTERM:
            for process in launched:
                process.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        launched.append(subprocess.Popen(torchrun_command(nproc, module_args), env=env))
        code = launched[0].wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if interrupted:
        raise KeyboardInterrupt
    if code:
        raise CnnspaceError(f"the {nproc} training workers failed (torchrun exit code {code}); "
                            "their messages are above")
