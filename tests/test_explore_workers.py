"""Two `cnnspace explore` processes share one study (the default journal file); one is killed
with SIGKILL in the middle of a trial. Its trial must be detected through the heartbeat, queued
again and finished by the survivor, which resumes it from the dead worker's last epoch: every
point trained exactly once, none lost."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from _explore_studies import cli, write_study
from optuna.trial import TrialState

from cnnspace.explore import _trial, count, open_storage, retried_numbers
from cnnspace.explore._trial import TrialRunner
from cnnspace.train import available_cpus, read_metrics

POINTS = [0.125, 0.25, 0.375, 0.5, 0.75, 1.0]
HEARTBEAT = ["--heartbeat", "1", "--grace", "5"]


def trials_of(location: str, name: str) -> list[optuna.trial.FrozenTrial]:
    try:
        return optuna.load_study(study_name=name, storage=open_storage(location, None)).trials
    except KeyError:  # not created yet: the workers are still starting
        return []


def wait_for_victim(location: str, name: str, pid: int, deadline_s: float = 240):
    """A trial the worker ``pid`` is training, with at least one epoch done and saved (its run
    folder's metrics.jsonl is written after the epoch's checkpoint)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for t in trials_of(location, name):
            folder = t.user_attrs.get("run_folder")
            if (t.state == TrialState.RUNNING and t.user_attrs.get("worker", "").endswith(
                    f":{pid}") and folder and (Path(folder) / "metrics.jsonl").exists()):
                return t
        time.sleep(0.2)
    raise AssertionError(f"worker {pid} never got a trial mid-training within {deadline_s} s")


def run_and_kill_one(tmp_path: Path, name: str, storage: str | None):
    """Returns the study's trials, the killed one, its retry, and the epochs the killed run had
    saved."""
    study = write_study(tmp_path, name=name, axes={"sr": POINTS}, epochs=3)
    location = storage or str(tmp_path / "shared")

    def start(machine: str) -> subprocess.Popen:
        where = ["--storage", storage, "--out", str(tmp_path / machine)] if storage \
            else ["--out", location]
        return subprocess.Popen(cli("explore", str(study), *where, "--study-name", name,
                                    *HEARTBEAT, "--no-report"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    victim_proc, survivor = start("a"), start("b")
    try:
        victim = wait_for_victim(location, name, victim_proc.pid)
        os.kill(victim_proc.pid, signal.SIGKILL)
        victim_proc.wait()
        saved = read_metrics(Path(victim.user_attrs["run_folder"]) / "metrics.jsonl")
        out, err = survivor.communicate(timeout=300)
        assert survivor.returncode == 0, err
    finally:
        for p in (victim_proc, survivor):
            if p.poll() is None:
                p.kill()
            p.wait()
    trials = trials_of(location, name)
    killed = next(t for t in trials if t.number == victim.number)
    assert killed.state == TrialState.FAIL and killed.number in retried_numbers(trials)
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == victim.number)
    assert retry.state == TrialState.COMPLETE
    assert retry.user_attrs["point_id"] == victim.user_attrs["point_id"]
    assert retry.user_attrs["worker"].endswith(f":{survivor.pid}")
    # Every point trained exactly once: no trial lost, none duplicated.
    trained = sorted(t.user_attrs["point_id"] for t in trials
                     if t.user_attrs.get("outcome") == "trained")
    assert len(trained) == len(set(trained)) == len(POINTS)
    counts = count(trials)
    assert counts.done == len(POINTS) and counts.lost == 0 and counts.running == 0
    return trials, victim, retry, saved


def test_killed_worker_trial_is_retried_and_resumed(tmp_path):
    _, _, retry, saved = run_and_kill_one(tmp_path, "shared", storage=None)
    # Same machine, same run folder: the retry resumed from the dead worker's checkpoint, so its
    # curve starts with the epochs the victim had finished (as they were when it was killed).
    assert saved and [(c["epoch"], c["top1"], c["loss"]) for c in retry.user_attrs["curve"]][
        :len(saved)] == [(r["epoch"], r["top1"], r["loss"]) for r in saved]
    assert [c["epoch"] for c in retry.user_attrs["curve"]] == [1, 2, 3]


def test_workers_option_runs_local_processes_on_one_study(tmp_path):
    study = write_study(tmp_path, name="local", axes={"sr": POINTS[:4]})
    out = tmp_path / "out"
    done = subprocess.run(cli("explore", str(study), "--out", str(out), "--workers", "2",
                              "--no-report"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "2 workers" in done.stderr and "trials 4/4 done" in done.stderr
    trials = trials_of(str(out), "local")
    assert sorted(t.user_attrs["outcome"] for t in trials) == ["trained"] * 4
    assert len({t.user_attrs["point_id"] for t in trials}) == 4
    # trained by the worker processes, not by the command itself
    workers = {t.user_attrs["worker"].rsplit(":", 1)[1] for t in trials}
    assert 1 <= len(workers) <= 2 and str(os.getpid()) not in workers


def _wait_for_a_running_trial(out, name: str, parent: subprocess.Popen) -> None:
    deadline = time.monotonic() + 240
    while not any(t.state == TrialState.RUNNING and t.user_attrs.get("run_folder")
                  for t in trials_of(str(out), name)):
        assert time.monotonic() < deadline and parent.poll() is None, "no trial started"
        time.sleep(0.2)


def test_sigterm_to_the_command_stops_its_workers_and_requeues_their_trials(tmp_path):
    study = write_study(tmp_path, name="term", axes={"sr": POINTS}, epochs=3)
    out = tmp_path / "out"
    parent = subprocess.Popen(cli("explore", str(study), "--out", str(out), "--workers", "2",
                                  "--no-report"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        _wait_for_a_running_trial(out, "term", parent)
        parent.send_signal(signal.SIGTERM)  # to the command alone, not its process group
        _, err = parent.communicate(timeout=120)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert parent.returncode == 143 and err.count("cnnspace explore: terminated") == 1, err
    assert "(cut short; queued again)" in err  # the last look at the study, once they stopped
    # passed on as what it was: the workers said "interrupted (Ctrl-C)"
    assert "terminated (SIGTERM): a resumable checkpoint" in err and "Ctrl-C" not in err
    trials = trials_of(str(out), "term")
    workers = {int(t.user_attrs["worker"].rsplit(":", 1)[1]) for t in trials
               if "worker" in t.user_attrs}
    for pid in workers:  # none trains on without the command
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert count(trials).running == 0 and retried_numbers(trials)


def test_more_workers_than_cpus_are_refused(tmp_path):
    study = write_study(tmp_path, name="many", axes={"sr": POINTS[:2]})
    done = subprocess.run(cli("explore", str(study), "--out", str(tmp_path / "out"), "--workers",
                              str(available_cpus() + 1)), capture_output=True, text=True)
    assert done.returncode == 2 and "each worker trains on at least one" in done.stderr
    assert f"--workers={available_cpus() + 1}:" in done.stderr  # the flag, as given
    assert "start `cnnspace explore` on each with one --storage" in done.stderr
    assert not (tmp_path / "out").exists()


def test_workers_stop_when_the_command_is_killed(tmp_path):
    study = write_study(tmp_path, name="orphans", axes={"sr": POINTS[:4]}, epochs=50)
    out = tmp_path / "out"
    parent = subprocess.Popen(cli("explore", str(study), "--out", str(out), "--workers", "2",
                                  "--no-report"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_for_a_running_trial(out, "orphans", parent)
        parent.kill()  # SIGKILL: it cannot pass anything on
        parent.wait()
        workers = {int(t.user_attrs["worker"].rsplit(":", 1)[1])
                   for t in trials_of(str(out), "orphans") if "worker" in t.user_attrs}
        deadline = time.monotonic() + 60
        alive = set(workers)
        while alive and time.monotonic() < deadline:
            alive = {pid for pid in alive if _running(pid)}
            time.sleep(0.2)
        assert workers and not alive, f"workers {alive} train on without their command"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    trials = trials_of(str(out), "orphans")
    assert count(trials).running == 0 and retried_numbers(trials)  # stopped as for SIGTERM


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False



def test_a_trial_waits_for_an_earlier_one_still_choosing_its_point(monkeypatch):
    # Two workers start at once: when trial 1 looks for a twin, trial 0 is running but has not
    # yet recorded its point id. It may be training the same network (measured: 2 of 5 runs of
    # a twin-holding grid on 2 workers trained one network twice).
    study = optuna.create_study(directions=["maximize", "minimize"])
    first, second = study.ask(), study.ask()
    second.set_user_attr("point_id", "net")

    def first_trains_meanwhile(seconds):
        first.set_user_attr("point_id", "net")
        first.set_user_attr("outcome", "trained")
        study.tell(first, [0.9, 1.0])

    monkeypatch.setattr(_trial.time, "sleep", first_trains_meanwhile)
    runner = TrialRunner(SimpleNamespace(study=SimpleNamespace(pruner=SimpleNamespace(
        name="none"), objectives=())))
    assert runner._trained_twin(second, "net").number == 0


def test_local_workers_get_a_gpu_each_where_the_machine_has_them(monkeypatch):
    # A plain process trains on the first GPU it sees: `--workers 8` on an 8-GPU machine put all
    # eight trainings on GPU 0.
    import torch

    from cnnspace.explore import _run

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert _run.visible_gpus() == ["0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5, 7")  # the GPUs this command was given
    assert _run.visible_gpus() == ["5", "7"]
    envs = _run.worker_environments(3, _run.visible_gpus())
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["5", "7", "5"]
    assert all(e["OMP_NUM_THREADS"] == str(max(1, available_cpus() // 3)) for e in envs)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _run.worker_environments(2, _run.visible_gpus())[0]["CUDA_VISIBLE_DEVICES"] == "5, 7"
