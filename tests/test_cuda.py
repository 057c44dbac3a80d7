"""The CUDA and NCCL paths: building and running on a GPU, training there (alone and as a
torchrun worker on NCCL), exact resume with deterministic kernels, and the measured metrics
(latency, % of peak, energy through NVML). They need a CUDA device, so they are skipped on
CPU-only machines such as CI; docs/gpu.md records where and when they last ran."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from cnnspace import CnnspaceError, analyze, get_spec
from cnnspace.cli import main
from cnnspace.data import get_dataset
from cnnspace.metrics import benchmark, gemm_peak
from cnnspace.nn import build
from cnnspace.spec import loads
from cnnspace.train import TrainConfig, load_checkpoint, train
from _nets import tiny_yaml

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

TINY = tiny_yaml(dropout=None)


@pytest.mark.parametrize("name, shape", [("squeezenet1_1", (3, 64, 64)),
                                         ("alexnet_caffe", (3, 227, 227)),
                                         ("googlenet_aux", (3, 96, 96))])
def test_a_built_module_computes_on_the_gpu_what_it_computes_on_the_cpu(name, shape):
    torch.manual_seed(0)
    module = build(get_spec(name, input=shape)).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        expected = module(x)
        got = module.cuda()(x.cuda())
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    for e, g in zip(expected, got, strict=True):
        # cuDNN may use TF32: agreement to about 1e-3 of the output's scale
        torch.testing.assert_close(g.cpu(), e, rtol=1e-2, atol=1e-3 * e.abs().max().item())


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_squeezenet_trains_on_the_gpu_to_97_percent_and_its_checkpoint_loads_anywhere(tmp_path,
                                                                                     precision):
    result = train("squeezenet1_1", "digits",
                   TrainConfig.from_recipe("digits", device="cuda", out=str(tmp_path),
                                           progress=False, precision=precision))
    assert next(result.model.parameters()).device.type == "cuda"
    assert result.final["top1"] >= 0.97
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")  # mapped to the CPU
    assert all(t.device.type == "cpu" for t in checkpoint.model_state.values())
    assert all("cuda" in worker for worker in checkpoint.payload["rng"])
    rebuilt = build(checkpoint.spec)
    rebuilt.load_state_dict(checkpoint.model_state)
    x = torch.randn(4, *checkpoint.spec.input)
    with torch.no_grad():
        expected = rebuilt.eval()(x)
        torch.testing.assert_close(result.model.eval()(x.cuda()).cpu(), expected, rtol=1e-2,
                                   atol=1e-2 * expected.abs().max().item())  # TF32 on the GPU


def test_deterministic_gpu_runs_repeat_bit_for_bit(tmp_path):
    # Exact resume on the GPU is tested in test_train_resume.py.
    data = get_dataset("digits", image_size=8)
    options = dict(epochs=2, batch_size=32, lr=0.01, seed=3, deterministic=True, device="cuda",
                   progress=False)
    first = train(loads(TINY), data, TrainConfig(**options))
    again = train(loads(TINY), data, TrainConfig(**options))
    for name, value in first.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[name]), name


def test_a_torchrun_worker_trains_on_nccl_and_counts_its_gradient_traffic(tmp_path):
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(TINY)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1",
         "-m", "cnnspace.cli", "train", str(spec_file), "--data=digits", "--image-size=8",
         "--epochs=2", "--device=cuda", "--no-progress", f"--out={out}"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "NCCL_DEBUG": "INFO"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "NCCL" in done.stdout + done.stderr  # the process group really is NCCL
    result = json.loads((out / "result.json").read_text())
    assert result["workers"] == 1
    assert result["comm_bytes_per_step"] == analyze(loads(TINY)).totals.comm_bytes_data_parallel


@pytest.mark.skipif(torch.cuda.device_count() > 1, reason="for machines with a single GPU")
def test_more_workers_than_gpus_is_a_clear_error(tmp_path, capsys):
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(TINY)
    assert main(["train", str(spec_file), "--data=digits", "--image-size=8", "--device=cuda",
                 "--nproc=2", f"--out={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert "one GPU per worker" in err and "--device cpu" in err


def test_bench_on_the_gpu_measures_latency_peak_and_energy():
    spec = get_spec("squeezenet1_1", input=(3, 224, 224))
    result = benchmark(spec, device="cuda", batches=(1, 32), backends=("torch",),
                       min_time_s=0.2, peak_sizes=(4096,)).to_json()
    assert result["peak_flops"] > 1e13  # any datacenter GPU: well over 10 TFLOP/s in a GEMM
    torch_backend = result["backends"][0]
    assert 0 < torch_backend["pct_of_peak"] < 100
    fps = torch_backend["throughput_fps_by_batch"]
    assert fps["32"] > fps["1"]  # a GPU is starved at batch 1
    energy, reason = result["energy_j_per_frame"], result["energy_unavailable_reason"]
    assert (energy is not None and energy > 0 and result["energy_source"]) or reason, result
    assert 0 < result["train_step"]["pct_of_peak"] < 100


def test_a_batch_beyond_the_gpus_free_memory_is_refused_before_it_runs():
    # The GPU's own free bytes, not the machine's: CUDA_VISIBLE_DEVICES's first GPU.
    from cnnspace.metrics._memory_need import batch_memory, free_memory

    spec = get_spec("squeezenet1_1", input=(3, 224, 224))
    free = free_memory(torch.device("cuda"))
    assert 0 < free <= torch.cuda.get_device_properties(0).total_memory
    batch = free // batch_memory(spec, 1, training=False) + 1
    with pytest.raises(CnnspaceError, match=rf"a forward pass of {batch} images .* cuda(:0)? has "):
        benchmark(spec, batches=(1, batch), device="cuda", backends="torch",
                  min_time_s=0.02, peak_sizes=(256,))
    with pytest.raises(CnnspaceError, match=r"peak size 1000000: .* cuda(:0)? has .* GB free"):
        gemm_peak("cuda", sizes=(10 ** 6,))


def test_a_cuda_graph_replays_the_forward_pass_faster_than_eager_launches():
    from cnnspace.metrics import make_runner

    spec = get_spec("squeezenet1_1", input=(3, 224, 224))
    module, device = build(spec).eval(), torch.device("cuda")
    torch.manual_seed(0)
    got = make_runner("torch_cuda_graph", module, spec.input, device, 1).call(2)()
    torch.manual_seed(0)  # the runner's input: the first draw after the seed
    x = torch.randn(2, *spec.input, device=device)
    with torch.no_grad():
        expected = module.cuda()(x)
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3 * expected.abs().max().item())
    result = benchmark(spec, batches=(1,), device="cuda", backends=("torch", "torch_cuda_graph"),
                       per_layer=False, train_batch=0, min_time_s=0.2, peak_sizes=(1024,))
    eager, graph = (next(b for b in result.backends if b.name == name)
                    for name in ("torch", "torch_cuda_graph"))
    # SqueezeNet at batch 1 is launch-bound on a GPU (about 1% of peak eager)
    assert graph.latency.median_s < eager.latency.median_s


def test_bf16_bench_on_the_gpu_uses_the_tensor_cores_peak_and_graphs():
    spec = get_spec("squeezenet1_1", input=(3, 224, 224))
    fp32, bf16 = (benchmark(spec, device="cuda", batches=(1, 64),
                            backends=("torch_channels_last", "torch_cuda_graph"),
                            per_layer=False, train_batch=64, min_time_s=0.2, peak_sizes=(8192,),
                            precision=precision) for precision in ("fp32", "bf16"))
    assert bf16.peak.dtype == "bfloat16" and bf16.peak.flops > fp32.peak.flops
    assert {b.name for b in bf16.backends} == {"torch_channels_last", "torch_cuda_graph"}
    assert all(0 < b.pct_of_peak < 100 for b in bf16.backends)
    assert bf16.train is not None and 0 < bf16.train.pct_of_peak < 100
