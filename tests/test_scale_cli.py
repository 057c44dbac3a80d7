"""`cnnspace scale`: JSON schema, table, plot, presets, custom clusters and bad input."""
import json
import re

import pytest

from cnnspace.cli import main

STRATEGY_NAMES = {"parameter_server", "reduction_tree", "ring"}


def run_json(capsys, *argv) -> dict:
    assert main(["scale", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_schema_and_firecaffe_defaults(capsys):
    data = run_json(capsys, "googlenet_aux", "--workers", "1,32,128")
    assert data["model"] == "googlenet_aux" and data["preset"] == "titan-k20x"
    assert len(data["rows"]) == 3 * 3
    for row in data["rows"]:
        assert isinstance(row["workers"], int) and row["strategy"] in STRATEGY_NAMES
        for key in ("compute_s", "comm_s", "time_per_iter_s", "total_time_s", "speedup"):
            assert isinstance(row[key], float) and row[key] >= 0
        assert row["time_per_iter_s"] == pytest.approx(row["compute_s"] + row["comm_s"])
    assert data["recipe"] == {"batch": 1024, "epochs": 72, "dataset_size": 1_281_167}
    assert data["baseline"]["batch"] == 32 and data["baseline"]["epochs"] == 64
    assert any("HOTI 2011" in s for s in data["sources"])
    assert data["parallelism_comm"]["batch"] == 1024


def test_recipe_options_and_custom_cluster(capsys):
    data = run_json(capsys, "squeezenet1_1", "--input", "3x32x32", "--workers", "2,4",
                    "--strategies", "ring", "--alpha", "1e-5", "--beta", "1e-9",
                    "--device-flops", "1e11", "--batch", "128", "--epochs", "2",
                    "--dataset-size", "1000", "--baseline-batch", "128", "--baseline-epochs", "2")
    assert data["preset"] == "titan-k20x + custom" and data["bits"] == 32
    assert {r["strategy"] for r in data["rows"]} == {"ring"}
    ring2 = data["rows"][0]
    # ring on 2 workers: 2 alpha + beta x gradient bytes
    assert ring2["comm_s"] == pytest.approx(2e-5 + 1e-9 * data["costs"]["gradient_bytes"])
    assert ring2["compute_s"] == pytest.approx(64 * data["costs"]["train_flops_per_image"] / 1e11)
    assert ring2["total_time_s"] == pytest.approx(2 * 1000 / 128 * ring2["time_per_iter_s"])
    # fp16 gradients: half the bytes on the link, the same computation
    half = run_json(capsys, "squeezenet1_1", "--input", "3x32x32", "--workers", "2",
                    "--strategies", "ring", "--alpha", "1e-5", "--beta", "1e-9",
                    "--device-flops", "1e11", "--bits", "16")
    assert half["costs"]["gradient_bytes"] == data["costs"]["gradient_bytes"] // 2
    assert half["bits"] == 16
    assert half["rows"][0]["comm_s"] == pytest.approx(2e-5 + 1e-9 * half["costs"]["gradient_bytes"])
    assert half["parallelism_comm"]["data_parallel_bytes"] * 2 == \
        run_json(capsys, "squeezenet1_1", "--input", "3x32x32")["parallelism_comm"][
            "data_parallel_bytes"]


def test_one_link_or_device_value_replaces_the_presets_own(capsys):
    base = run_json(capsys, "googlenet_aux", "--preset", "10gbe", "--workers", "8")
    faster = run_json(capsys, "googlenet_aux", "--preset", "10gbe", "--workers", "8",
                      "--beta", str(base["link"]["beta_s_per_byte"] / 2))
    assert faster["preset"] == "10gbe + custom"
    assert faster["link"]["alpha_s"] == base["link"]["alpha_s"]
    assert faster["device"] == base["device"] and faster["recipe"] == base["recipe"]
    assert faster["rows"][0]["comm_s"] < base["rows"][0]["comm_s"]
    # no bandwidth term at all: only the latency of the messages is left
    free = run_json(capsys, "googlenet_aux", "--preset", "10gbe", "--workers", "8", "--beta", "0",
                    "--strategies", "reduction_tree")
    # a reduction tree over 8 workers: 2 log2(8) messages one after another
    assert free["rows"][0]["comm_s"] == pytest.approx(6 * base["link"]["alpha_s"])
    assert main(["scale", "googlenet_aux", "--beta", "0", "--workers", "2"]) == 0
    assert "unlimited bandwidth" in capsys.readouterr().out
    # at a small batch model parallelism sends less than data parallelism: 0.22x, not "0x"
    assert main(["scale", "squeezenet1_1", "--input", "3x32x32", "--batch", "12",
                 "--workers", "2"]) == 0
    assert re.search(r"weighted\s+layers,\s+0\.22x\)", capsys.readouterr().out)


def test_published_speedups_stand_beside_the_predictions_they_belong_to(capsys):
    data = run_json(capsys, "googlenet_aux", "--workers", "32,128")
    tree = {r["workers"]: r["speedup"] for r in data["rows"] if r["strategy"] == "reduction_tree"}
    # FireCaffe on Titan (seed slide 20): 20x on 32 GPUs, 47x on 128
    assert [(p["workers"], p["speedup"]) for p in data["published"]] == [(32, 20.0), (128, 47.0)]
    for p in data["published"]:
        assert p["predicted"] == tree[p["workers"]]
        assert p["error"] == pytest.approx(tree[p["workers"]] / p["speedup"] - 1)
    assert [p["speedup"] for p in run_json(capsys, "nin", "--workers", "128")["published"]] == [39.0]
    # not under other conditions than those measured, nor for another network
    for argv in (["googlenet_aux", "--preset", "10gbe"], ["googlenet_aux", "--batch", "512"],
                 ["googlenet_aux", "--input", "3x112x112"], ["squeezenet1_0"]):
        assert run_json(capsys, *argv, "--workers", "32,128")["published"] == []
    assert main(["scale", "nin", "--workers", "128"]) == 0
    assert "measured: 128 workers 39x, predicted 47.1x (+21%)" in capsys.readouterr().out


def test_csv_has_a_row_per_worker_count_and_strategy(capsys):
    import csv
    import io
    data = run_json(capsys, "googlenet_aux", "--workers", "1,128")
    assert main(["scale", "googlenet_aux", "--workers", "1,128", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(data["rows"]) == 6
    for row, expected in zip(rows, data["rows"]):
        assert row["model"] == "googlenet_aux" and row["preset"] == "titan-k20x"
        assert row["strategy"] == expected["strategy"]
        assert int(row["workers"]) == expected["workers"]
        assert float(row["speedup"]) == pytest.approx(expected["speedup"])


def test_table_and_plot(capsys, tmp_path):
    plot = tmp_path / "scale.png"
    assert main(["scale", "squeezenet1_0", "--workers", "1,8,64", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "reduction_tree" in out and "titan-k20x" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sources_of_replaced_figures_are_not_cited(capsys):
    def sources(*flags):
        return run_json(capsys, "googlenet_aux", "--workers", "8", *flags)["sources"]
    assert [s.split(":")[0] for s in sources()] == ["K20X", "efficiency", "Gemini"]
    assert [s.split(":")[0] for s in sources("--alpha", "1e-6")] == ["K20X", "efficiency",
                                                                      "Gemini"]  # beta is its
    assert [s.split(":")[0] for s in sources("--device-flops", "2e13")] == ["Gemini"]
    assert sources("--alpha", "5e-6", "--beta", "1e-10", "--device-flops", "2e13") == []


def test_measured_preset_from_saved_commbench(capsys, tmp_path):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"nproc": 2, "backend": "gloo", "threads": 1, "repeats": 3,
                                 "patterns": {"allreduce": {"sizes_bytes": [1_000_000, 10_000_000],
                                                            "times_s": [0.0011, 0.0101]}}}))
    assert main(["scale", "squeezenet1_1", "--input", "3x32x32", "--preset", "measured",
                 "--commbench", str(bench), "--workers", "1,2", "--batch", "8", "--epochs", "2",
                 "--format", "json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["preset"] == "measured"
    # a throughput comparison: the baseline runs the recipe given (it stayed at batch 128 for 1
    # epoch, so 2 epochs on one worker read as a 0.5x speedup)
    assert data["baseline"] == data["recipe"] == {"batch": 8, "epochs": 2,
                                                  "dataset_size": 1_281_167}
    one = next(r for r in data["rows"] if r["workers"] == 1)
    assert one["speedup"] == pytest.approx(1.0)
    # 2 processes, ring: a = 2 alpha, b = beta; fit through (1 MB, 1.1 ms), (10 MB, 10.1 ms)
    assert data["link"]["alpha_s"] == pytest.approx(0.0001 / 2)
    assert data["link"]["beta_s_per_byte"] == pytest.approx(1e-9)
    assert data["device"]["flops"] > 0
    # the two sizes of that file fit exactly: the prediction says what its link rests on
    assert "note: only 2 message sizes" in err


def test_a_saved_commbench_without_an_allreduce_or_with_one_process_is_named(capsys, tmp_path):
    bench = tmp_path / "bench.json"
    measured = {"sizes_bytes": [1_000_000, 10_000_000], "times_s": [0.0011, 0.0101]}
    for nproc, pattern, message in ((1, "allreduce", "field 'nproc': expected an integer >= 2"),
                                    (2, "parameter_server", "no allreduce measured")):
        bench.write_text(json.dumps({"nproc": nproc, "backend": "gloo", "threads": 1,
                                     "repeats": 3, "patterns": {pattern: measured}}))
        assert main(["scale", "squeezenet1_1", "--preset", "measured", "--commbench",
                     str(bench)]) == 2
        err = capsys.readouterr().err
        assert f"{bench}" in err and message in err and err.count("\n") == 1


def test_a_network_without_parameters_has_nothing_to_scale(capsys, tmp_path):
    spec = tmp_path / "pool.yaml"
    spec.write_text("name: pool\ninput: [3, 8, 8]\nlayers:\n"
                    "  - {name: p, type: maxpool, kernel: 2, stride: 2}\n")
    assert main(["scale", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "pool: the network has no parameters" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0,2"], "--workers"),
    (["--workers", "two"], "--workers"),
    (["--strategies", "gossip"], "--strategies: unknown 'gossip'; choose from"),
    (["--alpha=-1e-6"], "alpha must be a finite number >= 0 seconds, got"),
    (["--beta=-1e-9"], "beta must be a finite number >= 0 seconds per byte, got"),
    (["--device-flops", "0"], "device FLOP/s must be a finite number > 0"),
    (["--dataset-size", "10"], "smaller than one batch of 1,024"),
    (["--workers", "2048"], "global batch of 1024"),
    (["--commbench", "x.json"], "--preset measured only"),
    (["--preset", "measured", "--commbench", "missing.json"], "missing.json"),
    (["--plot", "out.gif"], ".png"),
    (["--batch", "0"], "--batch must be a positive integer, got 0"),
    (["--epochs", "0"], "--epochs must be > 0"),
    # the baseline's values are named as such, not as the parallel run's
    (["--baseline-batch", "0"], "--baseline-batch must be a positive integer, got 0"),
    (["--baseline-epochs", "0"], "--baseline-epochs must be > 0"),
    (["--baseline-batch", "2000000"], "--dataset-size 1,281,167 is smaller than one batch of "
                                      "2,000,000 (--baseline-batch)"),
    (["--device-flops", "inf"], "device FLOP/s must be a finite number > 0"),
    # values that overflow the times (inf, nan: no JSON, no prediction)
    (["--beta", "1e300"], "the predicted times overflow"),
    (["--device-flops", "1e-300"], "the predicted times overflow"),
    (["--baseline-epochs", "1e308"], "the predicted times overflow"),
    # --nproc is for the processes commbench starts: nothing else would read it
    (["--nproc", "4"], "--nproc applies to --preset measured without --commbench only"),
    (["--preset", "measured", "--commbench", "x.json", "--nproc", "4"], "--nproc applies"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert main(["scale", "squeezenet1_1", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
