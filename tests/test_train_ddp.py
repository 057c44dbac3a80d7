"""Two torchrun workers (gloo on CPU) against one process: the same global batches, the same
weights, the analytic gradient traffic per step, and evaluation without padded duplicates."""
from __future__ import annotations

import json

import pytest
import torch
import yaml

from cnnspace.cli import main
from cnnspace.data import get_dataset
from cnnspace.metrics import analyze
from cnnspace.spec import load
from cnnspace.train import TrainConfig, load_checkpoint, read_metrics, train
from _nets import tiny_yaml
from test_data import write_random_cifar10

pytestmark = pytest.mark.slow

# No dropout: each worker draws its own dropout masks, so only a deterministic model can be
# compared with the single-process run.
SPEC = tiny_yaml(channels=3, dropout=None, name="tiny_rgb")


def test_two_workers_train_like_one_process(tmp_path, capsys):
    # 5 x 8 = 40 training images (20 per worker), 7 test images: an odd count that padding
    # would have to duplicate.
    data_ref = f"cifar10:{write_random_cifar10(tmp_path, per_batch=8, test=7)}"
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(SPEC)
    out = tmp_path / "ddp"
    assert main(["train", str(spec_file), f"--data={data_ref}", "--image-size=8", "--epochs=2",
                 "--batch-size=16", "--lr=0.01", "--seed=1", "--deterministic", "--no-progress",
                 "--classifier-init=imprint", "--nproc=2", "--device=cpu", f"--out={out}"]) == 0

    result = json.loads((out / "result.json").read_text())
    # the command recorded reruns it as it ran: on two workers
    assert yaml.safe_load((out / "config.yaml").read_text())["command"].endswith(" --nproc=2")
    spec = load(spec_file)
    # The foundation's analytic figure: gradient bytes per worker per synchronous step.
    assert result["workers"] == 2
    assert result["comm_bytes_per_step"] == analyze(spec).totals.comm_bytes_data_parallel
    assert [m["test_images"] for m in read_metrics(out / "metrics.jsonl")] == [7, 7]
    assert result["steps"] == 2 * 3  # 20 images per worker in batches of 8: 8, 8, 4

    # One process, same options: the global batch of 16 is the two workers' 8 + 8, and the
    # imprinted classifier sums the same features (each worker's shard, all-reduced).
    options = yaml.safe_load((out / "config.yaml").read_text())["train"]
    alone = train(spec, get_dataset(data_ref, image_size=8),
                  TrainConfig.from_dict({**options, "out": None, "resume": False}))
    assert alone.steps == result["steps"] and alone.comm_bytes_per_step is None
    ddp_weights = load_checkpoint(out / "checkpoint.pt").model_state
    for name, value in alone.model.state_dict().items():
        torch.testing.assert_close(ddp_weights[name], value, rtol=1e-4, atol=1e-5)
    ddp_top1 = [m["top1"] for m in read_metrics(out / "metrics.jsonl")]
    assert ddp_top1 == [r["top1"] for r in alone.history]


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch's PowerSGD fails on the CPU of a "
                    "GPU machine, where it is refused (test_train.py holds that)")
def test_powersgd_on_two_cpu_workers_trains_and_sends_low_rank_factors(tmp_path):
    # SqueezeNet is big enough for DDP to make several gradient buckets, whose PowerSGD
    # all-reduces interleaved differently on each gloo worker until they shared one bucket.
    out = tmp_path / "powersgd"
    assert main(["train", "squeezenet1_1", "--data=digits", "--recipe=adam-onecycle",
                 "--epochs=3", "--nproc=2", "--device=cpu", "--grad-compression=powersgd",
                 "--no-progress", f"--out={out}"]) == 0
    sent = [m["comm_bytes_per_step"] for m in read_metrics(out)]
    assert len(sent) == 3 and sent[1] == sent[2] < sent[0] / 10  # an exact epoch, then factors
