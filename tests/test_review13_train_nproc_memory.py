"""Review 13 of --nproc with in-memory datasets: every worker reads its own copy of the images,
so N workers need N copies; more than the machine has is refused before any worker starts (the
out-of-memory killer ended them, and the command said only "killed by SIGKILL (out of
memory?)")."""
from __future__ import annotations

import cnnspace.commands.train as train_command
from _cli import run
from _nets import tiny_yaml


def test_workers_whose_copies_of_the_images_cannot_fit_are_refused(tmp_path, capsys,
                                                                   monkeypatch):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(tiny_yaml())
    # 1,797 digits at 64x64 are 7.36 MB a copy: 7 MB free besides the one read here is less
    # than the second worker's.
    monkeypatch.setattr(train_command, "available_memory", lambda: 7 * 10**6)
    code, _, err = run(capsys, "train", spec, "--data=digits", "--image-size=64", "--nproc=2",
                       f"--out={tmp_path / 'run'}")
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "cnnspace train: error: --nproc 2: each worker holds the images of digits in memory "
        "(0.00686 GiB), 0.0137 GiB for 2 workers, and 0.0134 GiB is available with this "
        "command's copy freed: use fewer workers or a smaller --image-size")
    assert not (tmp_path / "run").exists()
