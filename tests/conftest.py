import os
import signal
from pathlib import Path

import pytest

# Two cores, several test workers: keep each torch process to one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Ctrl-C as at a terminal: a suite started in the background (`make test &`) inherits SIGINT
# ignored, which the commands rightly keep, and the tests of Ctrl-C then saw no Ctrl-C.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="module")
def digits8():
    """The built-in digits at 8x8: small enough for many short training runs."""
    from cnnspace.data import get_dataset
    return get_dataset("digits", image_size=8)


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A folder without write permission, as a non-root user sees it: root ignores the mode
    bits, so for root the permission check is made to answer as it would for anyone else."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    real = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path).absolute() == folder and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    if os.geteuid() == 0:
        monkeypatch.setattr(os, "access", access)
    yield folder
    folder.chmod(0o755)
