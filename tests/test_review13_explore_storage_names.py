"""A storage given as a new file name that is no storage kind is refused: `--storage foo.json`
made a folder foo.json/ holding study.journal, without a word."""
import pytest

from cnnspace.errors import CnnspaceError
from cnnspace.explore._storage import storage_url


@pytest.mark.parametrize("name, hint", [("study.json", ""), ("study.yaml", ""),
                                        ("study.sqlite", "sqlite:///")])
def test_a_new_file_name_of_another_kind_is_refused(tmp_path, name, hint):
    with pytest.raises(CnnspaceError, match="a study is stored in a folder, a .journal or .db "
                                            "file, or a storage URL") as e:
        storage_url(tmp_path / name)
    assert hint in str(e.value)
    assert not (tmp_path / name).exists()


def test_folders_journals_databases_and_urls_still_mean_what_they_did(tmp_path):
    assert storage_url(tmp_path / "run-0.5").endswith("run-0.5/study.journal")  # a dotted folder
    assert storage_url(tmp_path / "s.journal").endswith("s.journal")
    assert storage_url(tmp_path / "s.db") == f"sqlite:///{tmp_path / 's.db'}"
    assert storage_url("postgresql://h/db") == "postgresql://h/db"
    (tmp_path / "old.json").mkdir()  # an existing folder of that name stays a folder
    assert storage_url(tmp_path / "old.json").endswith("old.json/study.journal")
