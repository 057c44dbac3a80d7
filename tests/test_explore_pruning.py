"""Early stopping in a single-objective study: Optuna's pruner sees each epoch's accuracy and the
trial stops there, recorded as pruned with the epochs it ran."""
from __future__ import annotations

from _explore_studies import write_study

from cnnspace.cli import main
from cnnspace.explore import load_results


def test_pruned_trials_stop_after_the_epoch_that_pruned_them(tmp_path):
    # A threshold no accuracy reaches prunes every trial once its warm-up epochs are over.
    study = write_study(tmp_path, name="pruned", axes={"sr": [0.25, 0.5]}, epochs=4,
                        objectives=["top1"],
                        pruner={"name": "threshold", "lower": 1.01, "n_warmup_steps": 2})
    out = tmp_path / "out"
    assert main(["explore", str(study), "--out", str(out)]) == 0
    results = load_results(out)
    assert results.counts.pruned == 2 and results.counts.trained == 0
    for t in results.trials:
        assert t.state.name == "PRUNED" and t.user_attrs["outcome"] == "pruned"
        # never pruned in the 2 warm-up epochs (as Optuna means n_warmup_steps), pruned on the
        # first report after them
        assert sorted(t.intermediate_values) == [1, 2, 3]
        assert [c["epoch"] for c in t.user_attrs["curve"]] == [1, 2, 3]
        assert t.user_attrs["results"]["epochs"] == 3
        assert t.user_attrs["stopped"] == "pruned by Optuna after epoch 3"
    assert "2 pruned" in (out / "report.html").read_text()
