"""`cnnspace scale`: a run that cannot happen is refused before any measuring, by its flags."""
import json

import pytest

from cnnspace import scale
from cnnspace.cli import main
from cnnspace.commands import scale as scale_command
from cnnspace.errors import CnnspaceError


@pytest.fixture
def no_measuring(monkeypatch):
    """Fails the test if `scale --preset measured` starts commbench or times a step."""
    def measured(*args, **kwargs):
        raise AssertionError("measured before the arguments were checked")
    monkeypatch.setattr(scale_command, "run_with_progress", measured)
    monkeypatch.setattr(scale, "measure_preset", measured)


@pytest.mark.parametrize("argv, message", [
    # the measured preset's batch is 128: 256 workers have no image each
    (["--workers", "1,256"], "--workers 256: 256 workers cannot share a global batch of 128 "
                             "images; use a --batch of at least"),
    # analyze takes batches up to 2**31 - 1; it used to say "field 'batch'" after measuring
    (["--batch", "3000000000", "--dataset-size", "4000000000"],
     "--batch must be at most 2,147,483,647, got 3,000,000,000"),
])
def test_measured_preset_refuses_a_run_that_cannot_happen_before_measuring(
        capsys, no_measuring, argv, message):
    assert main(["scale", "squeezenet1_1", "--input", "3x32x32", "--preset", "measured",
                 *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_worker_count_above_the_batch_names_both_flags(capsys):
    assert main(["scale", "squeezenet1_1", "--workers", "1,2000"]) == 2
    err = capsys.readouterr().err
    assert "--workers 2000" in err and "--batch" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "1e-300"], "--epochs 1e-300 of 1,281,167 images is less than one step of "
                             "1,024 (--batch)"),
    (["--baseline-epochs", "1e-9"], "--baseline-epochs 1e-09 of 1,281,167 images is less than "
                                    "one step of 32 (--baseline-batch)"),
])
def test_a_run_shorter_than_one_step_is_refused_not_given_a_speedup(capsys, argv, message):
    # 1e-300 epochs used to predict a total of 6e-297 s and a speedup of 6e+301
    assert main(["scale", "squeezenet1_1", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_recipe_of_one_step_is_the_shortest_there_is():
    assert scale.Recipe(batch=1024, epochs=1024 / 2048, dataset_size=2048).iterations == 1
    # exactly one step, though 0.29 x 100 is 28.999999999999996 in floats
    assert scale.Recipe(batch=29, epochs=0.29, dataset_size=100).iterations == pytest.approx(1)
    with pytest.raises(CnnspaceError, match="fraction of a step"):
        scale.Recipe(batch=1024, epochs=0.4, dataset_size=2048)


def test_a_saved_commbench_from_a_larger_machine_names_its_threads_field(capsys, tmp_path,
                                                                         no_measuring):
    # the compute step is timed with the benchmark processes' threads: 1000 said only
    # "threads: expected a positive integer at most 2", naming neither the file nor the field
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"nproc": 2, "backend": "gloo", "threads": 1000, "repeats": 3,
                                 "patterns": {"allreduce": {"sizes_bytes": [1_000_000, 10_000_000],
                                                            "times_s": [0.0011, 0.0101]}}}))
    assert main(["scale", "squeezenet1_1", "--preset", "measured", "--commbench",
                 str(bench)]) == 2
    err = capsys.readouterr().err
    assert f"--commbench {bench}: field 'threads': its processes ran 1000 threads each" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("plot, message", [
    ("scale.gif", "--plot {}: use a .png, .svg or .pdf file name"),
    ("plots.png", "--plot {} is a folder: give the name of the file to write"),
    # a path through a file failed only when the plot was written, after the measuring
    ("notes.txt/scale.png", "--plot {}: {} is a file, not a folder"),
])
def test_a_plot_that_cannot_be_written_is_refused_before_measuring(capsys, tmp_path, no_measuring,
                                                                     plot, message):
    (tmp_path / "plots.png").mkdir()
    (tmp_path / "notes.txt").write_text("")
    path = tmp_path / plot
    assert main(["scale", "squeezenet1_1", "--preset", "measured", "--plot", str(path)]) == 2
    err = capsys.readouterr().err
    assert message.format(path, tmp_path / "notes.txt") in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--alpha=-1"], "alpha must be a finite number >= 0 seconds, got -1.0"),
    (["--beta", "nan"], "beta must be a finite number >= 0 seconds per byte, got nan"),
    (["--device-flops", "0"], "device FLOP/s must be a finite number > 0, got 0.0"),
])
def test_a_bad_link_or_device_value_is_refused_before_measuring(capsys, no_measuring, argv,
                                                                message):
    assert main(["scale", "squeezenet1_1", "--preset", "measured", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_given_link_is_not_measured_and_a_given_device_is_not_timed(capsys, monkeypatch):
    # --alpha and --beta replace the whole measured link: commbench ran first (tens of seconds)
    # and its fit was then thrown away.
    def commbench(*args, **kwargs):
        raise AssertionError("commbench ran for a link given on the command line")
    monkeypatch.setattr(scale_command, "run_with_progress", commbench)
    argv = ["scale", "squeezenet1_1", "--input", "3x32x32", "--preset", "measured",
            "--alpha", "2e-5", "--beta", "1e-9", "--workers", "1,2", "--format", "json"]
    assert main([*argv, "--batch", "8"]) == 0
    timed = json.loads(capsys.readouterr().out)
    assert any("compute: " in s for s in timed["sources"])       # the step was timed here
    assert not any("commbench" in s for s in timed["sources"])

    def step(*args, **kwargs):
        raise AssertionError("a step was timed for a device given on the command line")
    monkeypatch.setattr(scale._measure, "time_train_step", step)
    assert main([*argv, "--device-flops", "1e12"]) == 0
    given = json.loads(capsys.readouterr().out)
    assert not any("compute: " in s or "commbench" in s for s in given["sources"])
    assert given["preset"].startswith("measured")
