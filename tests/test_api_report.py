"""write_report from Python: a folder where the study's results belong says how to read them."""
import pytest

from cnnspace import CnnspaceError
from cnnspace.report import write_report


def test_write_report_of_a_folder_says_to_load_the_results(tmp_path):
    with pytest.raises(CnnspaceError, match=r"got str: cnnspace.explore.load_results\('runs/demo'\)"):
        write_report("runs/demo", tmp_path)
    with pytest.raises(CnnspaceError, match="expected a StudyResults, got NoneType"):
        write_report(None, tmp_path)
    assert list(tmp_path.iterdir()) == []
