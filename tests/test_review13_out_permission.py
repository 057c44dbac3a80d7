"""An existing output folder without write permission is refused by every command that writes
a folder (explore --out, compress --out) before its work: the check looked only at the folder
above it. `read_only` (conftest) makes root see the permission as anyone else would."""
import pytest

from cnnspace._atomic import check_writable
from cnnspace.errors import CnnspaceError
from _cli import run
from _explore_studies import write_study


def test_an_existing_folder_without_permission_is_refused(read_only):
    with pytest.raises(CnnspaceError, match="--out .*ro: cannot write in it \\(no permission\\)"):
        check_writable(read_only, "--out", folder=True)
    # a new folder inside it, as before: judged by the folder it would be made in
    with pytest.raises(CnnspaceError, match="new: cannot write in .*ro \\(no permission\\)"):
        check_writable(read_only / "new", "--out", folder=True)


def test_explore_refuses_a_read_only_out_before_opening_the_study(read_only, tmp_path, capsys):
    code, _, err = run(capsys, "explore", write_study(tmp_path), "--out", read_only)
    assert code == 2 and err.strip().endswith("cannot write in it (no permission)")
    assert not any(read_only.iterdir())
