"""Review 13 of resuming on data that changed in place: the same folder and image count, but
other classes or other images, would continue the run on other numbers."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from cnnspace.data import get_dataset, write_cifar10
from cnnspace.spec import NetSpec, loads
from cnnspace.train import Callback, CheckpointError, StopTraining, train
from _training import quick


def _folder(root: Path, classes: tuple[str, ...]) -> Path:
    for split in ("train", "val"):
        for value, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (10, 10), (60 * value + 10 * i,) * 3).save(
                    root / split / name / f"{i}.png")
    return root


class StopAtFirstStep(Callback):
    def on_step_end(self, state):
        raise StopTraining("stopped for the test")


def _net(classes: int) -> NetSpec:
    return loads(f"""
name: n
input: [3, 8, 8]
layers:
  - {{name: conv, type: conv2d, out_channels: 4, kernel: 3, padding: 1}}
  - {{name: pool, type: global_avgpool}}
  - {{name: flat, type: flatten}}
  - {{name: fc, type: linear, out_features: {classes}}}
""")


def test_a_resume_after_class_folders_were_renamed_is_refused(tmp_path):
    # Classes are numbered in the sorted order of their folders: cat, dog renamed to zebra, dog
    # made dog class 0. The resume trained on, every label now the other class's.
    root = _folder(tmp_path / "data", ("cat", "dog"))
    config = quick(epochs=2, batch_size=2, out=str(tmp_path / "run"))
    train(_net(2), get_dataset(f"imagefolder:{root}", image_size=8), config,
          callbacks=[StopAtFirstStep()])
    for split in ("train", "val"):
        (root / split / "cat").rename(root / split / "zebra")
    with pytest.raises(CheckpointError, match=r"was trained on the classes cat, dog; "
                       rf"imagefolder:{root} now has dog, zebra \(class 0 is cat there, dog "
                       r"here\), so its labels would score other classes: start a new --out"):
        train(_net(2), get_dataset(f"imagefolder:{root}", image_size=8),
              config.with_options(resume=True))


def test_a_resume_on_cifar_batches_rewritten_with_other_images_is_refused(tmp_path):
    # The normalisation comes from the training images: replaced (as many), the model would
    # continue on inputs scaled otherwise than the ones it has trained on.
    generator = torch.Generator().manual_seed(0)

    def write(high: int) -> str:
        images = torch.randint(0, high, (12, 3, 32, 32), dtype=torch.uint8, generator=generator)
        labels = torch.arange(12) % 2
        write_cifar10(tmp_path / "c10", images[:10], labels[:10], images[10:], labels[10:],
                      ["a", "b"])
        return f"cifar10:{tmp_path / 'c10'}"

    config = quick(epochs=2, batch_size=4, out=str(tmp_path / "run"))
    train(_net(2), get_dataset(write(256), image_size=8), config, callbacks=[StopAtFirstStep()])
    with pytest.raises(CheckpointError, match=r"its training images differ from the ones it was "
                       r"trained on \(channel means [\d.]+, [\d.]+, [\d.]+ there, [\d.]+, "
                       r"[\d.]+, [\d.]+ here\): start a new --out"):
        train(_net(2), get_dataset(write(128), image_size=8), config.with_options(resume=True))


def test_a_resume_on_the_same_data_in_another_folder_continues_and_says_so(tmp_path, capsys):
    # A cluster job stages its data to a scratch folder named by the job: the next job's
    # --resume read the same images from another path and was refused ("was trained on
    # 'imagefolder:/scratch/job1', not 'imagefolder:/scratch/job2'"), so no preempted run
    # could continue. The same kind, classes, image count and statistics now continue it.
    import shutil
    first = _folder(tmp_path / "job1", ("cat", "dog"))
    config = quick(epochs=2, batch_size=2, out=str(tmp_path / "run"))
    train(_net(2), get_dataset(f"imagefolder:{first}", image_size=8), config,
          callbacks=[StopAtFirstStep()])
    second = tmp_path / "job2"
    shutil.move(first, second)
    capsys.readouterr()
    result = train(_net(2), get_dataset(f"imagefolder:{second}", image_size=8),
                   config.with_options(resume=True))
    assert result.epochs == 2
    assert (f"note: {tmp_path / 'run'} was trained on imagefolder:{first} and continues on "
            f"imagefolder:{second}: the same classes and as many images (6)"
            ) in capsys.readouterr().err
    # Another kind of data is still another dataset, whatever it holds.
    with pytest.raises(CheckpointError, match=rf"was trained on 'imagefolder:{second}', not "
                       r"'cifar10:/data'"):
        from dataclasses import replace
        train(_net(2), replace(get_dataset(f"imagefolder:{second}", image_size=8),
                               name="cifar10:/data"), config.with_options(resume=True))
