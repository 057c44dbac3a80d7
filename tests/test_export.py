"""ONNX export: opset >= 17, and onnxruntime computes what torch does (relative error < 1e-4)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from cnnspace import get_spec
from cnnspace.cli import main
from cnnspace.errors import CnnspaceError
from cnnspace.nn import build, check_onnx, export_onnx, onnx_bytes
from cnnspace.spec import Layer, NetSpec, to_dict

# Every layer kind the exporter must handle, in one small network with two outputs.
MIXED = NetSpec("mixed", (3, 19, 19), (
    Layer("conv", "conv2d", (), {"out_channels": 8, "kernel": [3, 5], "stride": 2,
                                 "padding": [1, 2], "bias": False}),
    Layer("bn", "batchnorm"),
    Layer("act", "leaky_relu", (), {"negative_slope": 0.1}),
    Layer("lrn", "lrn", (), {"size": 3}),
    Layer("pool", "maxpool", (), {"kernel": 3, "stride": 2, "ceil_mode": True}),
    Layer("fire", "fire", (), {"squeeze": 4, "expand1x1": 4, "expand3x3": 4}),
    Layer("skip", "add", ("fire", "pool")),
    # squeeze-and-excitation: a (C, 1, 1) gate times the (C, H, W) map
    Layer("se_pool", "global_avgpool"),
    Layer("se_gate", "hardsigmoid"),
    Layer("se", "mul", ("se_gate", "skip")),
    Layer("hswish", "hardswish"),
    Layer("grouped", "conv2d", (), {"out_channels": 8, "kernel": 1, "groups": 4}),
    Layer("avg", "avgpool", (), {"kernel": 2, "stride": 1, "padding": 1,
                                 "count_include_pad": False}),
    Layer("gap", "global_avgpool"),
    Layer("flat", "flatten"),
    Layer("fc", "linear", (), {"out_features": 6}),
    Layer("silu", "silu"),
    Layer("drop", "dropout"),
    Layer("prob", "softmax"),
    Layer("side", "global_maxpool", ("grouped",)),
    Layer("side_act", "tanh"),
    Layer("logp", "log_softmax", ("fc",)),
), outputs=("prob", "side_act", "logp"))


def _trained_like(spec):
    """Non-trivial batchnorm statistics, so that a wrong export of them would show."""
    module = build(spec)
    module.train()
    with torch.no_grad():
        for _ in range(3):
            module(torch.randn(4, *spec.input) * 2 + 1)
    return module.eval()


@pytest.mark.parametrize("spec", [MIXED, get_spec("squeezenet1_1", input=(3, 64, 64))],
                         ids=["mixed", "squeezenet1_1"])
def test_onnxruntime_matches_torch(tmp_path, spec):
    module = _trained_like(spec)
    path = export_onnx(module, tmp_path / "m.onnx", dynamic_batch=True)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version >= 17
    assert [o.name for o in model.graph.output] == list(module.outputs)
    for batch in (1, 3):  # the batch dimension is dynamic
        check = check_onnx(path, module, spec.input, batch=batch, seed=batch)
        assert check.max_relative_error < 1e-4
    assert module.training is False  # the exporter worked on a copy


def test_fixed_batch_export_and_the_relative_error_is_real(tmp_path):
    spec = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))
    module = build(spec).eval()
    path = export_onnx(module, tmp_path / "fixed.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 32, 32]
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(session.run(None, {"input": x})[0], expected, rtol=1e-4,
                               atol=1e-5 * np.abs(expected).max())
    with torch.no_grad():  # a different model: the check must see the difference
        module.layers["conv10"].bias += 1.0
    assert check_onnx(path, module, spec.input).max_relative_error > 1e-3


def test_cli_export_checks_and_refuses_cleanly(tmp_path, capsys):
    out = tmp_path / "sq.onnx"
    assert main(["export", "squeezenet1_1", "--input", "3x32x32", "--onnx", str(out),
                 "--dynamic-batch"]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and "onnxruntime matches torch" in printed and "opset 17" in printed
    # Adaptive pooling from 2x2 up to 3x3 has no ONNX form: one line, no IR dump.
    spec = tmp_path / "up.yaml"
    spec.write_text("name: up\ninput: [3, 8, 8]\nlayers:\n"
                    "- {name: conv, type: conv2d, out_channels: 4, kernel: 4, stride: 4}\n"
                    "- {name: pool, type: adaptive_avgpool, output_size: 3}\n")
    code = main(["export", str(spec), "--onnx", str(tmp_path / "up.onnx")])
    captured = capsys.readouterr()
    assert code == 2 and "ONNX export failed at input [3, 8, 8]" in captured.err
    assert "graph(" not in captured.out + captured.err and not (tmp_path / "up.onnx").exists()
    assert main(["export", "squeezenet1_1", "--onnx", str(out), "--opset", "13"]) == 2
    with pytest.raises(CnnspaceError, match="give input_shape"):
        export_onnx(torch.nn.Conv2d(3, 3, 1), tmp_path / "x.onnx")


def test_a_model_that_fails_the_check_is_not_written_and_keeps_the_old_file(tmp_path, capsys):
    from cnnspace.train import TrainConfig, save_checkpoint

    spec = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))
    module = build(spec)
    with torch.no_grad():
        module.layers["conv10"].bias[3] = float("nan")  # NaN once counted as zero error
    broken = tmp_path / "nan.pt"
    save_checkpoint(broken, {"model": module.state_dict(), "spec": to_dict(spec), "epoch": 1,
                             "batch": 0, "step": 1, "config": TrainConfig().to_dict()})
    out = tmp_path / "model.onnx"
    out.write_bytes(b"the good model of yesterday")
    assert main(["export", str(broken), "--onnx", str(out)]) == 2
    assert "model.onnx not written: the model's own outputs hold NaN" in capsys.readouterr().err
    assert out.read_bytes() == b"the good model of yesterday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "nan.pt"]


def test_onnx_outputs_with_nan_are_no_agreement(tmp_path):
    spec = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))
    module = build(spec).eval()
    with torch.no_grad():
        module.layers["conv10"].bias[3] = float("nan")
    data = onnx_bytes(module, spec.input)
    with torch.no_grad():
        module.layers["conv10"].bias[3] = 0.0  # torch finite, onnxruntime NaN
    assert check_onnx(data, module, spec.input).max_relative_error == float("inf")


def test_weights_beyond_what_an_onnx_file_holds_are_refused_before_exporting(tmp_path, capsys,
                                                                              monkeypatch):
    # torch's own refusal ended in "Please specify the output file name", given as --onnx, after
    # the whole export had run. The limit is lowered here so as not to build 2 GiB of weights.
    import cnnspace.nn._export as backends

    spec = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))
    weights = sum(t.numel() * t.element_size() for t in build(spec).state_dict().values())
    monkeypatch.setattr(backends, "ONNX_MAX_BYTES", weights - 1)
    out = tmp_path / "sq.onnx"
    assert main(["export", "squeezenet1_1", "--set", "num_classes=10", "--input", "3x32x32",
                 "--onnx", str(out)]) == 2
    err = capsys.readouterr().err
    assert "sq.onnx not written: squeezenet1_1's weights take 0.00 GiB, and an ONNX file holds " \
           "at most 2 GiB" in err and not out.exists()
    monkeypatch.setattr(backends, "ONNX_MAX_BYTES", weights)
    assert main(["export", "squeezenet1_1", "--set", "num_classes=10", "--input", "3x32x32",
                 "--onnx", str(out), "--no-check"]) == 0 and out.exists()


def test_an_onnx_path_that_is_the_checkpoint_itself_is_refused(tmp_path, capsys):
    # export best.pt --onnx best.pt replaced the trained weights with the ONNX file
    from cnnspace.train import TrainConfig, save_checkpoint

    spec = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))
    path = tmp_path / "best.pt"
    save_checkpoint(path, {"model": build(spec).state_dict(), "spec": to_dict(spec), "epoch": 1,
                           "batch": 0, "step": 1, "config": TrainConfig().to_dict()})
    before = path.read_bytes()
    (tmp_path / "link.pt").symlink_to(path)
    for target in (path, tmp_path / "link.pt"):
        assert main(["export", str(path), "--onnx", str(target)]) == 2
        assert "is the model file itself" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_onnx_bytes_itself_refuses_weights_beyond_an_onnx_file(monkeypatch):
    # Its callers need not check first: torch's error asked for a file name none of them has.
    import cnnspace.nn._export as export

    module = build(get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32)))
    monkeypatch.setattr(export, "ONNX_MAX_BYTES", 1000)
    with pytest.raises(CnnspaceError, match="the model's weights take 0.00 GiB, and an ONNX file "
                                             "holds at most 2 GiB"):
        onnx_bytes(module, (3, 32, 32))


def test_an_input_whose_forward_pass_cannot_fit_is_refused_before_exporting(tmp_path, capsys,
                                                                              monkeypatch):
    # Exporting runs the network: at 3x15000x15000 squeezenet1_1's conv1 output alone is 14 GB,
    # which an overcommitting kernel grants and then kills the process for.
    from cnnspace.metrics import _memory_need

    spec = get_spec("squeezenet1_1", num_classes=10, input=(3, 32, 32))
    weights = sum(t.numel() * 4 for t in build(spec).parameters())  # built by the command
    need = _memory_need.batch_memory(spec, 2, training=False) + weights
    monkeypatch.setattr(_memory_need, "available_memory", lambda: need - 1)
    out = tmp_path / "sq.onnx"
    argv = ["export", "squeezenet1_1", "--set", "num_classes=10", "--input", "3x32x32",
            "--onnx", str(out), "--no-check"]
    assert main([*argv, "--dynamic-batch"]) == 2
    err = capsys.readouterr().err
    assert "sq.onnx not written: a forward pass of 2 images of squeezenet1_1" in err
    assert err.strip().endswith("give a smaller --input") and not out.exists()
    assert main(argv) == 0 and out.exists()  # one image fits
