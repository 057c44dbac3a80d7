"""The training library in one process: options, schedules, run files, checkpoints, callbacks,
losses, evaluation and the gradient-traffic count of DDP's communication hooks."""
from __future__ import annotations

import json
import math
import socket
from dataclasses import replace

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
import yaml

from cnnspace.data import TensorImages, get_dataset
from cnnspace.metrics import analyze
from cnnspace.spec import Layer, SpecError, loads
from cnnspace.train import (Callback, CheckpointError, ClassificationLoss, ConfigError,
                            NonFiniteLossError, StopTraining, TrainConfig, available_cpus,
                            default_recipe,
                            evaluate, fit_spec, load_checkpoint, lr_factor, make_optimizer,
                            make_scheduler, read_metrics, save_checkpoint, train, zoo_spec)
from cnnspace.train._schedule import onecycle_too_short_note
from _nets import three_heads_yaml, tiny_yaml
from _training import quick

TINY = tiny_yaml()
THREE_HEADS = three_heads_yaml()


# -- options ------------------------------------------------------------------------------------

def test_defaults_are_the_adam_onecycle_recipe():
    assert TrainConfig() == TrainConfig.from_recipe("adam-onecycle")
    sq = TrainConfig.from_recipe("squeezenet", epochs=3, lr=None)
    assert (sq.optimizer, sq.lr, sq.schedule, sq.batch_size, sq.epochs) == ("sgd", 0.04, "poly",
                                                                           512, 3)


def test_digits_train_with_their_own_recipe_by_default():
    assert (default_recipe("digits"), default_recipe("cifar10:/data")) == ("digits",
                                                                          "adam-onecycle")
    digits = TrainConfig.from_recipe("digits")
    assert (digits.optimizer, digits.lr, digits.schedule, digits.batch_size) == ("adam", 1e-3,
                                                                               "onecycle", 32)
    assert digits.classifier_init == "imprint" and TrainConfig().classifier_init == "spec"


def test_firecaffe_recipe_scales_the_lr_linearly_with_the_global_batch():
    # published-numbers.md (FireCaffe): batch 1024, initial LR 0.08, poly, 72 epochs
    fc = TrainConfig.from_recipe("firecaffe")
    assert (fc.batch_size, fc.effective_lr, fc.schedule, fc.epochs) == (1024, 0.08, "poly", 72)
    assert fc.with_options(batch_size=256).effective_lr == pytest.approx(0.02)
    assert fc.with_options(lr_scaling="none", batch_size=256).effective_lr == 0.08


def test_config_round_trips_through_yaml():
    config = TrainConfig(epochs=3, lr=0.5, num_workers=2, out="runs/x", warmup_epochs=1.5)
    assert TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict()))) == config


@pytest.mark.parametrize("options, message", [
    ({"optimizer": "rmsprop"}, "option 'optimizer': expected one of adam, adamw, sgd"),
    ({"batch_size": 0}, "option 'batch_size': expected a positive integer"),
    ({"lr": float("nan")}, "option 'lr': expected a positive number"),
    ({"momentum": 1.0}, r"option 'momentum': expected a number in \[0, 1\)"),
    ({"warmup_epochs": 5, "epochs": 5}, "option 'warmup_epochs': expected fewer than the 5"),
    ({"resume": True}, "option 'resume': expected an out folder"),
    ({"grad_compression": "int8"}, "expected one of none, fp16, bf16, powersgd"),
    ({"threads": 0}, "option 'threads': expected a positive integer or null"),
    ({"seed": 2**64}, r"option 'seed': expected a non-negative integer below 2\*\*63"),
])
def test_bad_options_name_the_option(options, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**options)
    with pytest.raises(ConfigError, match="unknown training option 'learning_rate'"):
        TrainConfig.from_dict({"learning_rate": 1})


def test_global_batch_must_split_evenly_over_workers():
    assert TrainConfig(batch_size=128).per_worker_batch(4) == 32
    with pytest.raises(ConfigError, match="batch_size 100 is not divisible by 3 workers"):
        TrainConfig(batch_size=100).per_worker_batch(3)


# -- schedules ----------------------------------------------------------------------------------

def test_warmup_then_poly_reaches_zero_at_the_last_step():
    f = lr_factor(TrainConfig(epochs=10, schedule="poly", warmup_epochs=2), steps_per_epoch=10)
    assert [f(s) for s in (0, 9, 19)] == [pytest.approx(0.05), pytest.approx(0.5), 1.0]
    assert f(20 + 40) == pytest.approx(0.5)    # power 1: linear from 1 down to 0
    assert f(99) == pytest.approx(1 / 80)
    squared = lr_factor(TrainConfig(epochs=10, schedule="poly", poly_power=2.0), 10)
    assert squared(50) == pytest.approx(0.25)


def test_cosine_and_step_schedules():
    cos = lr_factor(TrainConfig(epochs=4, schedule="cosine"), 25)
    assert (cos(0), cos(50)) == (1.0, pytest.approx(0.5))
    step = lr_factor(TrainConfig(epochs=9, schedule="step", step_epochs=3, step_gamma=0.5), 2)
    assert [step(s) for s in (5, 6, 12, 17)] == [1.0, 0.5, 0.25, 0.25]


def _lrs(config: TrainConfig, steps_per_epoch: int) -> list[float]:
    """The learning rate each step of ``config``'s schedule uses."""
    optimizer = make_optimizer([torch.nn.Parameter(torch.zeros(1))], config)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch=steps_per_epoch)
    lrs = []
    for _ in range(config.epochs * steps_per_epoch):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_onecycle_peaks_at_the_lr_after_30_percent_of_the_steps():
    lrs = _lrs(TrainConfig(epochs=10, lr=0.1), steps_per_epoch=10)
    assert max(lrs) == pytest.approx(0.1) and lrs.index(max(lrs)) in (29, 30)
    assert lrs[0] == pytest.approx(0.1 / 25) and lrs[-1] < 1e-5


def test_an_epochs_lr_is_the_one_its_last_step_used(digits8):
    # One step per epoch: the LR after the last step would be one-cycle's cosine taken past
    # its end, climbing back up (the last epoch showed 4.6e-4 after one of 4e-8).
    config = quick(epochs=3, batch_size=len(digits8.train), lr=1e-3)
    result = train(loads(TINY), digits8, config)
    used = _lrs(config, steps_per_epoch=1)
    assert [m["lr"] for m in result.history] == pytest.approx(used)
    assert used[2] < 1e-7  # the schedule's end, not past it


def test_a_onecycle_run_too_short_to_cycle_says_what_it_trains_at(digits8, capsys):
    # One step of one-cycle trains at the schedule's end, 4e-9: a quick check of a recipe
    # learned nothing, without a word.
    train(loads(TINY), digits8, quick(epochs=1, batch_size=len(digits8.train), lr=1e-3))
    assert ("note: one-cycle over 1 step cannot rise and fall: the last step trains at 4e-09 "
            "(the full learning rate / 25e4), the only one; --schedule constant trains at the "
            "learning rate given") in capsys.readouterr().err
    assert onecycle_too_short_note(TrainConfig(epochs=1), 3).startswith(
        "note: one-cycle over 3 steps")
    assert onecycle_too_short_note(TrainConfig(epochs=2), 2) is None  # 4 steps rise and fall
    assert onecycle_too_short_note(TrainConfig(epochs=1, schedule="constant"), 1) is None


# -- a run and its files ------------------------------------------------------------------------

def test_run_folder_holds_config_metrics_checkpoints_and_result(tmp_path, digits8):
    spec = loads(TINY)
    result = train(spec, digits8, quick(out=str(tmp_path)), run_info={"command": "test"})
    metrics = read_metrics(tmp_path / "metrics.jsonl")
    assert [m["epoch"] for m in metrics] == [1, 2] and metrics == result.history
    for m in metrics:
        assert {"loss", "top1", "top5", "images_per_s", "seconds", "lr"} <= set(m)
        assert m["test_images"] == len(digits8.test) and 0 <= m["top1"] <= m["top5"] <= 1
    assert metrics[1]["step"] == 2 * math.ceil(len(digits8.train) / 64)
    saved = json.loads((tmp_path / "result.json").read_text())
    totals = analyze(spec, batch=64).totals
    assert saved["analysis"]["params"] == totals.params
    assert saved["analysis"]["macs"] == totals.macs
    assert saved["final"]["top1"] == metrics[-1]["top1"] and saved["workers"] == 1
    assert saved["best"]["top1"] == max(m["top1"] for m in metrics)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert TrainConfig.from_dict(config["train"]) == quick(out=str(tmp_path))
    assert config["data"] == "digits" and config["input_shape"] == [1, 8, 8]
    assert config["command"] == "test" and config["spec"]["name"] == "tiny"
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (checkpoint.epoch, checkpoint.batch, checkpoint.step) == (2, 0, metrics[1]["step"])
    x, _ = digits8.test.batch(range(16))
    result.model.eval()
    assert torch.equal(checkpoint.build_model().eval()(x), result.model(x))
    best = load_checkpoint(tmp_path / "best.pt")
    assert best.history[-1]["top1"] == saved["best"]["top1"]


def test_an_existing_run_is_not_overwritten_and_resume_checks_options(tmp_path, digits8):
    train(loads(TINY), digits8, quick(out=str(tmp_path), epochs=1))
    with pytest.raises(ConfigError, match="already holds a run; continue it with --resume"):
        train(loads(TINY), digits8, quick(out=str(tmp_path), epochs=1))
    with pytest.raises(CheckpointError, match="other options .*lr: 0.01 -> 0.02"):
        train(loads(TINY), digits8, quick(out=str(tmp_path), epochs=1, lr=0.02, resume=True))
    done = train(loads(TINY), digits8, quick(out=str(tmp_path), epochs=1, resume=True))
    assert done.epochs == 1 and done.steps == math.ceil(len(digits8.train) / 64)


# -- callbacks ----------------------------------------------------------------------------------

class Recorder(Callback):
    def __init__(self, stop_after_epoch=None):
        self.steps, self.epochs, self.ended, self.stop_after = 0, [], None, stop_after_epoch

    def on_step_end(self, state):
        self.steps += 1

    def on_epoch_end(self, state, record):
        self.epochs.append(record["top1"])
        if record["epoch"] == self.stop_after:
            raise StopTraining("pruned by the test")

    def on_train_end(self, state, result):
        self.ended = result


def test_callbacks_see_every_step_and_can_stop_after_an_epoch(digits8):
    recorder = Recorder(stop_after_epoch=1)
    result = train(loads(TINY), digits8, quick(epochs=5), callbacks=[recorder])
    assert result.stopped == "pruned by the test" and result.epochs == 1
    assert recorder.steps == result.steps == math.ceil(len(digits8.train) / 64)
    assert recorder.epochs == [result.history[0]["top1"]] and recorder.ended is result


def test_a_step_hook_can_keep_pruned_weights_at_zero(digits8):
    class Mask(Callback):
        def on_train_start(self, state):
            self.mask = torch.rand_like(state.model.layers["conv1"].weight) > 0.5

        def on_step_end(self, state):
            with torch.no_grad():
                state.model.layers["conv1"].weight.mul_(self.mask)

    mask = Mask()
    result = train(loads(TINY), digits8, quick(epochs=1), callbacks=[mask])
    weight = result.model.layers["conv1"].weight
    assert torch.all(weight[~mask.mask] == 0) and torch.all(weight[mask.mask] != 0)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(tmp_path, digits8):
    calls = []

    def poisoned(outputs, targets):
        calls.append(1)
        loss = F.cross_entropy(outputs, targets)
        return loss * float("nan") if len(calls) == 5 else loss

    # --resume with a lower --lr is refused (other options), and without replays the nan
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 1, step 5.*last "
                                                 r"good checkpoint is .*checkpoint\.pt, but "
                                                 r"--resume would repeat these steps: start a "
                                                 r"new --out with a lower --lr"):
        train(loads(TINY), digits8, quick(out=str(tmp_path), checkpoint_every=2),
              loss_fn=poisoned)
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")
    assert checkpoint.step == 4 and checkpoint.batch == 4
    assert all(torch.isfinite(t).all() for t in checkpoint.model_state.values())


def test_custom_evaluation_picks_the_best_checkpoint_by_its_own_metric(tmp_path, digits8):
    scores = iter([None, 0.5, 0.25])  # e.g. a detector's mAP: none before anything is found

    def evaluate_fn(model, dataset):
        return {"mAP": next(scores), "images": len(dataset)}

    result = train(loads(TINY), digits8, quick(epochs=3, monitor="mAP", out=str(tmp_path)),
                   evaluate_fn=evaluate_fn)
    assert [r["mAP"] for r in result.history] == [None, 0.5, 0.25]
    assert result.best["epoch"] == 2 and "top1" not in result.final
    assert load_checkpoint(tmp_path / "best.pt").history[-1]["epoch"] == 2
    assert json.loads((tmp_path / "result.json").read_text())["best"]["epoch"] == 2


def test_channels_last_training(digits8):
    result = train(loads(TINY), digits8, quick(epochs=1, channels_last=True))
    weight = result.model.layers["conv1"].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert 0 < result.final["top5"] <= 1


def test_image_files_are_decoded_in_loader_processes(tmp_path):
    from PIL import Image
    for split in ("train", "val"):
        for label, color in enumerate([(250, 10, 10), (10, 10, 250)]):
            folder = tmp_path / split / f"class{label}"
            folder.mkdir(parents=True)
            for i in range(6):
                Image.new("RGB", (10, 12), color).save(folder / f"{i}.png")
    data = get_dataset(f"imagefolder:{tmp_path}", image_size=8)
    spec = loads(TINY.replace("[1, 8, 8]", "[3, 8, 8]").replace("out_channels: 10",
                                                                 "out_channels: 2"))
    result = train(spec, data, quick(epochs=3, batch_size=4, lr=0.05, num_workers=2))
    assert result.final["test_images"] == 12 and result.final["top1"] == 1.0


# -- models and losses --------------------------------------------------------------------------

def test_auxiliary_outputs_weigh_in_at_0_3():
    torch.manual_seed(0)
    main, a1, a2 = (torch.randn(4, 10) for _ in range(3))
    y = torch.tensor([1, 2, 3, 4])
    expected = F.cross_entropy(main, y) + 0.3 * (F.cross_entropy(a1, y) + F.cross_entropy(a2, y))
    assert torch.allclose(ClassificationLoss()((main, a1, a2), y), expected)
    assert torch.allclose(ClassificationLoss(0.0)((main, a1, a2), y), F.cross_entropy(main, y))


def test_multi_output_model_trains_and_evaluates_on_its_main_output(digits8):
    result = train(loads(THREE_HEADS), digits8, quick(epochs=1, aux_weight=0.3))
    model = result.model.eval()
    x, y = digits8.test.batch(range(len(digits8.test)))
    main = model(x)[0]
    assert result.final["top1"] == pytest.approx((main.argmax(1) == y).float().mean().item())


def test_model_fits_the_dataset_or_says_why(digits8, tmp_path):
    fitted = zoo_spec("squeezenet1_1", get_dataset("digits"))
    assert fitted.input == (1, 32, 32) and analyze(fitted).layers[-1].out_shape == (10,)
    with pytest.raises(SpecError, match="digits sets num_classes to 10; remove --set "
                                        "num_classes=5"):
        zoo_spec("squeezenet1_1", digits8, num_classes=5)
    wrong = loads(TINY.replace("out_channels: 10", "out_channels: 7"))
    with pytest.raises(SpecError, match="output 'logits' has shape \\[7\\], but digits has 10"):
        fit_spec(wrong, digits8)
    with pytest.raises(SpecError, match="does not fit the images of digits \\(1x8x8\\)"):
        fit_spec(zoo_spec("squeezenet1_1", get_dataset("digits")), digits8)


CAFFE_STYLE = """
name: caffe_style
input: [1, 8, 8]
layers:
  - {name: conv1, type: conv2d, out_channels: 10, kernel: 3, padding: 1}
  - {name: relu1, type: relu}
  - {name: pool10, type: global_avgpool}
"""


def test_a_network_ending_in_global_pooling_trains_and_a_softmax_output_is_refused(digits8):
    # Caffe's SqueezeNet ends in a global pool of [classes, 1, 1]: a flatten makes it scores
    fitted = fit_spec(loads(CAFFE_STYLE), digits8)
    assert fitted.layers[-1] == Layer("pool10_scores", "flatten", ("pool10",))
    assert fitted.outputs == ("pool10_scores",)
    result = train(loads(CAFFE_STYLE), digits8, quick(epochs=1))
    assert result.final["test_images"] > 0 and math.isfinite(result.final["loss"])
    # its deploy file adds a softmax, whose probabilities cross-entropy must not be fed
    with_prob = loads(CAFFE_STYLE + "  - {name: prob, type: softmax}\n")
    with pytest.raises(SpecError, match="'prob'.*the output is a softmax"):
        fit_spec(with_prob, digits8)


def test_training_starts_from_a_checkpoints_weights(tmp_path, digits8):
    train(loads(TINY), digits8, quick(out=str(tmp_path / "a"), epochs=1))
    checkpoint = load_checkpoint(tmp_path / "a" / "checkpoint.pt")

    class Initial(Callback):
        def on_train_start(self, state):
            self.weights = {k: v.clone() for k, v in state.model.state_dict().items()}

    initial = Initial()
    train(checkpoint, digits8, quick(epochs=1), callbacks=[initial])
    assert all(torch.equal(initial.weights[k], v) for k, v in checkpoint.model_state.items())


# -- evaluation ---------------------------------------------------------------------------------

class Nearest(torch.nn.Module):
    """Class scores from an image's mean brightness; perfect on images filled with 20 x label."""
    def __init__(self):
        super().__init__()
        self.centres = torch.nn.Parameter(torch.arange(10.0) * 20 / 255, requires_grad=False)

    def forward(self, x):
        return -(x.mean(dim=(1, 2, 3))[:, None] - self.centres).abs()


def test_evaluate_counts_top1_and_top5_exactly():
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 9])
    images = (labels * 20).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 4, 4).contiguous()
    data = TensorImages(images, labels, [0.0], [1.0])
    perfect = evaluate(Nearest(), data, batch_size=4)
    assert (perfect.top1, perfect.top5, perfect.images) == (1.0, 1.0, 13)
    constant = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 10))
    with torch.no_grad():
        constant[1].weight.zero_()
        constant[1].bias.copy_(torch.arange(10.0, 0, -1))  # ranks classes 0, 1, 2, ...
    result = evaluate(constant, data, batch_size=5)
    assert result.top1 == pytest.approx(3 / 13)            # the three 0s
    assert result.top5 == pytest.approx(7 / 13)            # labels 0..4
    assert result.loss == pytest.approx(
        F.cross_entropy(constant(data.batch(range(13))[0]), labels).item())


# -- checkpoints --------------------------------------------------------------------------------

def test_corrupt_foreign_and_missing_checkpoints_are_clear_errors(tmp_path, digits8):
    train(loads(TINY), digits8, quick(out=str(tmp_path / "run"), epochs=1))
    good = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="cut.pt: corrupt or truncated checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign.pt: not a cnnspace checkpoint .*foreign"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format": "cnnspace-detector", "version": 1}, tmp_path / "detector.pt")
    with pytest.raises(CheckpointError, match="detector.pt: a cnnspace-detector file, not a "
                       "training checkpoint; .* best.pt and checkpoint.pt"):
        load_checkpoint(tmp_path / "detector.pt")
    torch.save({"evil": Recorder()}, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match="pickled.pt: not a cnnspace checkpoint: .*weights-only loading refuses"):
        load_checkpoint(tmp_path / "pickled.pt")
    (tmp_path / "spec.pt").write_text("name: tiny\ninput: [1, 8, 8]\n")
    with pytest.raises(CheckpointError, match="spec.pt: not a checkpoint .*a text file") as e:
        load_checkpoint(tmp_path / "spec.pt")
    assert "weights_only" not in str(e.value)  # torch's advice to load unsafely is not passed on
    (tmp_path / "model.pt").write_bytes(b"CNNZ\x01" + bytes(100))
    with pytest.raises(CheckpointError, match=r"model.pt: not a checkpoint .*begins b'CNNZ"):
        load_checkpoint(tmp_path / "model.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pt: an empty file, not a checkpoint"):
        load_checkpoint(tmp_path / "empty.pt")
    (tmp_path / "folder.pt").mkdir()
    with pytest.raises(CheckpointError, match="folder.pt: a folder, not a checkpoint file"):
        load_checkpoint(tmp_path / "folder.pt")
    with pytest.raises(CheckpointError, match="nothing.pt: no such checkpoint"):
        load_checkpoint(tmp_path / "nothing.pt")
    save_checkpoint(tmp_path / "odd.pt", {"config": {"epochs": -1}, "spec": None})
    with pytest.raises(CheckpointError, match="odd.pt: damaged checkpoint: option 'epochs'"):
        load_checkpoint(tmp_path / "odd.pt")


def test_a_checkpoint_missing_an_entry_is_a_clear_error_on_load_and_on_resume(tmp_path, digits8):
    out = tmp_path / "run"
    train(loads(TINY), digits8, quick(out=str(out), epochs=1))
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    for entry in ("config", "model"):
        save_checkpoint(tmp_path / "cut.pt", {k: v for k, v in payload.items() if k != entry})
        with pytest.raises(CheckpointError, match=f"cut.pt: damaged checkpoint: no '{entry}'"):
            load_checkpoint(tmp_path / "cut.pt")
    # a 'model' entry of another kind: evaluate, export, bench and compress failed with an
    # AttributeError traceback
    for model in (None, [1, 2], {"fc.weight": "not a tensor"}):
        save_checkpoint(tmp_path / "odd.pt", {**payload, "model": model})
        with pytest.raises(CheckpointError, match="odd.pt: damaged checkpoint: its 'model' entry "
                                                  "is not a mapping of weight names to tensors"):
            load_checkpoint(tmp_path / "odd.pt")
    save_checkpoint(out / "checkpoint.pt", {k: v for k, v in payload.items()
                                            if k != "optimizer"})
    with pytest.raises(CheckpointError, match="damaged checkpoint: no 'optimizer' entry"):
        train(loads(TINY), digits8, quick(out=str(out), epochs=1, resume=True))


def test_resuming_on_a_training_set_of_another_size_is_refused(tmp_path, digits8):
    from dataclasses import replace

    class StopAtStep2(Callback):
        def on_step_end(self, state):
            if state.step == 2:
                raise StopTraining("paused")

    out = str(tmp_path / "run")
    train(loads(TINY), digits8, quick(out=out), callbacks=[StopAtStep2()])
    # An image folder that gained images keeps its name; its epochs and schedule would not line
    # up with the checkpoint's (torch's one-cycle raised a ValueError epochs later).
    t = digits8.train
    grown = replace(digits8, train=TensorImages(torch.cat([t.images, t.images[:100]]),
                                                torch.cat([t.labels, t.labels[:100]]),
                                                t.mean, t.std, t.augmentation))
    with pytest.raises(CheckpointError, match="was trained on 1,437 training images; digits now "
                                              "has 1,537, so its epochs and schedule"):
        train(loads(TINY), grown, quick(out=out, resume=True))


def test_batchnorm_over_a_batch_of_one_image_is_a_config_error(digits8):
    spec = loads(TINY.replace("  - {name: conv2,", "  - {name: pool0, type: global_avgpool}\n"
                              "  - {name: bn, type: batchnorm}\n  - {name: conv2,"))
    with pytest.raises(ConfigError, match="batch normalisation has one value per channel to "
                                          "normalise in a batch of 1 image"):
        train(spec, digits8, quick(batch_size=1, epochs=1))


# -- gradient traffic (DDP in this process, one worker) -----------------------------------------

@pytest.fixture
def one_worker_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    yield
    dist.destroy_process_group()


def test_measured_gradient_bytes_per_step_match_the_analytic_figure(one_worker_group, digits8):
    spec = loads(TINY)
    expected = analyze(spec).totals.comm_bytes_data_parallel  # foundation: = 32-bit model size
    for compression, share in (("none", 1.0), ("fp16", 0.5), ("bf16", 0.5)):
        result = train(spec, digits8, quick(epochs=1, grad_compression=compression))
        assert result.comm_bytes_per_step == expected * share
        assert result.history[0]["comm_bytes_per_step"] == expected * share


def test_powersgd_sends_exact_gradients_for_an_epoch_then_low_rank_factors(one_worker_group,
                                                                            digits8):
    spec = loads(TINY)
    # device auto: PowerSGD is refused on the CPU of a machine with a GPU (next test).
    result = train(spec, digits8, quick(epochs=3, grad_compression="powersgd", device="auto"))
    full = analyze(spec).totals.comm_bytes_data_parallel
    first, *later = [r["comm_bytes_per_step"] for r in result.history]
    assert first == full
    # conv1 8x9 and conv2 10x8 become rank-1 factors (8+9, 10+8); biases (18) go uncompressed
    assert later == [4 * (8 + 9 + 10 + 8 + 18)] * 2


def test_powersgd_on_the_cpu_of_a_gpu_machine_is_refused_before_training(one_worker_group,
                                                                           digits8, monkeypatch):
    # torch's hook would call torch.cuda.synchronize on the CPU inside backward() (seen on an
    # H200 machine): one clear error instead.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(ConfigError, match="grad_compression.*powersgd fails on the CPU of a "
                                          "machine with a GPU"):
        train(loads(TINY), digits8, quick(epochs=1, grad_compression="powersgd"))


def test_threads_apply_while_training_and_are_restored(digits8):
    seen = []

    class Threads(Callback):
        def on_train_start(self, state):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    train(loads(TINY), digits8, quick(epochs=1, threads=other), callbacks=[Threads()])
    assert seen == [other] and torch.get_num_threads() == before


def test_explicit_threads_hold_in_a_torchrun_worker(tmp_path, monkeypatch, digits8):
    # A worker torchrun started on this machine, alone in its group: without --threads it
    # takes its share of the cores; with --threads N, N.
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port.getsockname()[1]))
    port.close()
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"),
                       ("LOCAL_WORLD_SIZE", "1")):
        monkeypatch.setenv(key, value)

    class Threads(Callback):
        def on_epoch_end(self, state, record):
            seen.append(torch.get_num_threads())

    for threads, expected in ((1, 1), (None, available_cpus())):
        seen = []
        train(loads(TINY), digits8, quick(epochs=1, threads=threads), callbacks=[Threads()])
        assert seen == [expected]


def test_a_run_stopped_in_its_first_epoch_reports_what_it_did(tmp_path, digits8):
    # result.json said 0 images/s and 0 seconds after 45 steps when a run stopped in epoch 1
    class StopAtStep(Callback):
        def on_step_end(self, state):
            if state.step == 3:
                raise StopTraining("enough")

    result = train(loads(TINY), digits8, quick(epochs=2, batch_size=16, out=str(tmp_path)),
                   callbacks=[StopAtStep()])
    assert result.stopped == "enough" and result.epochs == 0 and result.steps == 3
    assert result.images_per_s > 0 and result.wall_seconds > 0
    written = json.loads((tmp_path / "result.json").read_text())
    assert written["images_per_s"] == result.images_per_s > 0


def test_gradient_bytes_of_an_epoch_survive_a_resume_inside_it(one_worker_group, digits8,
                                                                tmp_path):
    # The count lived in the process: an epoch resumed at its last batch had no figure
    class StopAtStep(Callback):
        def on_step_end(self, state):
            if state.step == 2:
                raise StopTraining("cut")

    spec, out = loads(TINY), str(tmp_path / "run")
    expected = analyze(spec).totals.comm_bytes_data_parallel
    config = quick(epochs=1, batch_size=len(digits8.train) // 3, out=out)
    assert train(spec, digits8, config, callbacks=[StopAtStep()]).stopped == "cut"
    resumed = train(spec, digits8, replace(config, resume=True))
    assert resumed.history[0]["comm_bytes_per_step"] == expected
    assert resumed.comm_bytes_per_step == expected


def test_config_yaml_lists_each_resume_with_its_workers_and_threads(tmp_path, digits8):
    # It described the first session only: a resume on other threads or workers was unrecorded
    class StopAtStep(Callback):
        def on_step_end(self, state):
            if state.step == 2:
                raise StopTraining("cut")

    spec, out = loads(TINY), str(tmp_path / "run")
    config = quick(epochs=1, out=out, threads=1)
    train(spec, digits8, config, callbacks=[StopAtStep()], run_info={"command": "first"})
    more = min(2, available_cpus())
    train(spec, digits8, replace(config, resume=True, threads=more), run_info={"command": "again"})
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert written["command"] == "first" and written["train"]["threads"] == 1
    assert written["resumes"] == [{"step": 2, "workers": 1, "device": "cpu", "threads": more,
                                   "command": "again"}]
    # Resuming the now complete run trains nothing, and is not listed each time.
    for _ in range(2):
        train(spec, digits8, replace(config, resume=True), run_info={"command": "done"})
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()) == written
