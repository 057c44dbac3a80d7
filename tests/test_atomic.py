"""Every result file goes through write_atomic: whole or not at all, readable as a plain open()
would make it, and a wrong path is one clear error."""
import os
import stat
import threading

import pytest

from cnnspace._atomic import write_atomic, write_text_atomic
from cnnspace.errors import CnnspaceError


def test_a_written_file_has_the_mode_the_umask_gives(tmp_path):
    previous = os.umask(0o022)
    os.umask(previous)
    write_text_atomic(tmp_path / "a.txt", "x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~previous


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    write_text_atomic(path, "old")

    def fail(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, fail)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["result.json"]


def test_wrong_paths_are_one_clear_error(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(CnnspaceError, match="folder is a folder: give the name of the file"):
        write_text_atomic(tmp_path / "folder", "x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CnnspaceError, match="cannot write .*file/out.txt: a part of its folder "
                                            "path is a file"):
        write_text_atomic(tmp_path / "file" / "out.txt", "x")


def test_a_pipe_or_device_is_written_into_not_replaced(tmp_path):
    # As `-o /dev/null` or `-o /dev/stdout`: a rename would put a plain file in the device's place.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_text_atomic(fifo, "through the pipe")
    reader.join(timeout=10)
    assert received == [b"through the pipe"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


def test_a_symbolic_link_keeps_pointing_at_its_target(tmp_path):
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "result.json"
    target.write_text("old")
    link = tmp_path / "result.json"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_a_folder_that_cannot_be_made_is_one_clear_error():
    with pytest.raises(CnnspaceError, match="cannot write /proc/cnnspace-test/x.json: cannot make "
                       "its folder /proc/cnnspace-test"):
        write_text_atomic("/proc/cnnspace-test/x.json", "x")


@pytest.mark.parametrize("where", ["mkstemp", "write"])
def test_a_full_or_read_only_disk_is_a_write_error_naming_the_file(tmp_path, monkeypatch, where):
    import errno
    import tempfile

    from cnnspace.errors import WriteError
    path = tmp_path / "metrics.jsonl"
    write_text_atomic(path, "old")
    if where == "mkstemp":
        def refuse(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")
        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        write = lambda f: f.write(b"new")  # noqa: E731
    else:
        def write(f):
            raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(WriteError, match=f"cannot write {path}: ") as e:
        write_atomic(path, write)
    assert isinstance(e.value, OSError) and isinstance(e.value, CnnspaceError)
    assert e.value.errno == (errno.EROFS if where == "mkstemp" else errno.ENOSPC)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["metrics.jsonl"]


def test_the_temporaries_a_killed_writer_left_are_removed(tmp_path):
    from cnnspace._atomic import remove_stale_temps
    (tmp_path / ".checkpoint.pt.x44zyugd.tmp").write_bytes(b"half")
    (tmp_path / ".checkpoint.pt.ab12cd34.tmp").write_bytes(b"half")
    (tmp_path / ".best.pt.x44zyugd.tmp").write_bytes(b"other file's")
    (tmp_path / "checkpoint.pt").write_bytes(b"whole")
    assert remove_stale_temps(tmp_path, "checkpoint.pt") == 2
    assert sorted(os.listdir(tmp_path)) == [".best.pt.x44zyugd.tmp", "checkpoint.pt"]


def test_the_folder_is_synced_after_the_rename(tmp_path, monkeypatch):
    # The rename is an entry of the folder: without syncing the folder, a power cut after a
    # checkpoint was reported written could bring back the previous one.
    synced = []
    fsync = os.fsync

    def recording(fd):
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), os.path.exists(tmp_path / "f")))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    write_text_atomic(tmp_path / "f", "x")
    assert synced == [(False, False), (True, True)]  # the file's data, then the renamed entry


def test_an_output_that_cannot_be_written_is_refused_before_the_work(tmp_path):
    from cnnspace._atomic import check_writable
    (tmp_path / "f").write_text("")
    check_writable(tmp_path / "new" / "deeper" / "out.json", "-o")  # folders made on writing
    check_writable(tmp_path / "f", "-o")                            # replaced on writing
    with pytest.raises(CnnspaceError, match=r"^-o .* is a folder: give the name"):
        check_writable(tmp_path, "-o")
    with pytest.raises(CnnspaceError, match=f"^-o {tmp_path}/f/x/out.json: {tmp_path}/f is a "
                                            "file, not a folder$"):
        check_writable(tmp_path / "f" / "x" / "out.json", "-o")
    # a folder whose permission bits allow writing, where no file can be made (even by root)
    with pytest.raises(CnnspaceError, match="^--out /proc/x.csv: cannot write in /proc "):
        check_writable("/proc/x.csv", "--out")
    check_writable("/dev/null", "-o")  # written in place, as write_atomic does


def test_a_failed_write_that_torch_wraps_is_still_a_write_error(tmp_path):
    # torch.save's zip writer raises "[enforce fail at inline_container.cc:672] . unexpected
    # pos ..." over the OSError of a full disk: every torch file (checkpoints, detectors, int8
    # models) is told as the file that could not be written and why.
    import errno

    from cnnspace.errors import WriteError

    def filling(f):
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")

    with pytest.raises(WriteError, match=r"^cannot write .*/d\.pt: No space left on device$"):
        write_atomic(tmp_path / "d.pt", filling)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="a bug"):  # torch's own errors pass through
        write_atomic(tmp_path / "d.pt", lambda f: (_ for _ in ()).throw(RuntimeError("a bug")))


def test_an_output_folder_that_is_a_file_is_refused(tmp_path):
    from cnnspace._atomic import check_writable
    (tmp_path / "f").write_text("")
    check_writable(tmp_path / "new" / "run", "--out", folder=True)
    check_writable(tmp_path, "--out", folder=True)
    with pytest.raises(CnnspaceError, match=f"^--out {tmp_path}/f is a file: give a folder$"):
        check_writable(tmp_path / "f", "--out", folder=True)
    with pytest.raises(CnnspaceError, match="f is a file, not a folder$"):
        check_writable(tmp_path / "f" / "run", "--out", folder=True)
