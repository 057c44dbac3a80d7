"""commbench counts the memory of its processes, not only of their messages."""
import pytest

from cnnspace.cli import main
from cnnspace.scale import _commbench


@pytest.fixture
def eight_gb_and_no_spawning(monkeypatch):
    monkeypatch.setattr(_commbench, "available_memory", lambda: 8_000_000_000)

    def spawn(*args, **kwargs):
        raise AssertionError("no process may start")
    monkeypatch.setattr(_commbench._spawn, "run", spawn)


def test_many_processes_with_small_messages_are_refused_before_they_start(
        capsys, eight_gb_and_no_spawning):
    # 64 processes of torch (150 MB each) need 9.6 GB; their 1 MB messages 0.13 GB. Only the
    # messages were counted, so all 64 started, on a machine shared with other jobs.
    assert main(["commbench", "--nproc", "64", "--sizes", "0.1", "1"]) == 2
    err = capsys.readouterr().err
    assert ("--nproc 64 --sizes 1 MB: the processes would hold about 9.7 GB (9.6 GB of torch, "
            "0.1 GB for the messages), and this machine has 8.0 GB available") in err
    assert err.count("\n") == 1
