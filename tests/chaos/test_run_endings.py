"""Every way a run can end, and what it is reported as: never Succeeded unless the frame budget was reached.

Through `seedrl train` (summary.json's `stop_reason`) and through `LocalExperiment.supervise`,
whose Outcome is the controller's local runtime's phase and message for the experiment. The
learner's final status (`learner_status.json`) says why each learner ended. Training and
inference faults are injected by the custom envs of `tests.chaos.faults`; the OOM-like end is a
real SIGKILL. The budget, a stop on request and a solved run are covered here and in
tests/integration/test_train.py; a final checkpoint that cannot be written in test_full_disk.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from google.protobuf import json_format

from seedrl.controller.runtimes.local_experiment import LocalExperiment, LocalOptions, Outcome
from seedrl.spec.env import ALLOW_CUSTOM_ENVS
from seedrl.spec.experiment import ExperimentSpec
from seedrl.v1 import learner_pb2 as pb
from tests.integration.helpers import pids_with, read_summary, seedrl, status, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SMALL = ("--actors", "1", "--envs-per-actor", "8", "--vtrace.batch-size", "4", "--vtrace.unroll-length", "8")


def final_status(logdir: Path) -> pb.LearnerStatus:
    return json_format.Parse((logdir / "learner_status.json").read_text(), pb.LearnerStatus())


def train(logdir: Path, *flags: str, timeout: float = 240) -> tuple[int, dict]:
    """Run `seedrl train` with custom envs allowed to its end: its exit code and summary."""
    process = seedrl("train", *SMALL, "--total-frames", str(10**9), "--max-seconds", str(timeout), "--logdir", str(logdir),
                     *flags, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     env={**os.environ, ALLOW_CUSTOM_ENVS: "1"})
    code = process.wait(timeout + 60)
    assert pids_with(str(logdir)) == []
    return code, read_summary(logdir)


def test_a_trainer_that_raises_is_restarted_then_fails_the_run_with_its_cause(tmp_path):
    code, summary = train(tmp_path, "--env", "tests.chaos.faults:training_fault", "--learner-restarts", "1")
    assert code == 1 and summary["learner_restarts"] == 1
    reason = summary["stop_reason"]
    assert reason.startswith("failed: the learner exited 2 times"), reason
    assert "exit code 1: training failed: RuntimeError: injected training fault" in reason and "learner.log" in reason
    final = final_status(tmp_path)
    assert (final.end_reason, final.done) == ("failed", False)
    assert final.end_message == "training failed: RuntimeError: injected training fault"
    assert final.learner_steps == 3  # and it wrote no checkpoint of what it had become
    assert not list((tmp_path / "checkpoints").glob("ckpt-*.index"))


def test_a_learner_killed_like_the_oom_killer_fails_the_run_once_its_restarts_are_spent(tmp_path):
    process = seedrl("train", *SMALL, "--total-frames", str(10**9), "--max-seconds", "240", "--logdir", str(tmp_path),
                     "--learner-restarts", "0", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    learner = wait_for(lambda: pids_with(str(tmp_path / "learner.json")), 60, what="the learner")[0]
    wait_for(lambda: "serving" in (tmp_path / "logs" / "learner.log").read_text(), 120, what="the learner serving")
    os.kill(learner, signal.SIGKILL)
    assert process.wait(120) == 1
    summary = read_summary(tmp_path)
    assert summary["stop_reason"].startswith("failed: the learner exited 1 time within 300s (last: killed by SIGKILL)")
    assert summary["learner_restarts"] == 0 and pids_with(str(tmp_path)) == []


def supervise(run: LocalExperiment, timeout: float) -> Outcome:
    """What the controller's reconcile loop does with a run: supervise it until it ends on its own."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = run.supervise()
        if outcome is not None:
            return outcome
        time.sleep(0.25)
    raise TimeoutError("the run did not end")


@pytest.mark.parametrize("env, frames, phase, message, end_reason", [
    ("gym:CartPole-v1", 5_000, "Succeeded", "reached total_frames", "total_frames"),
    ("tests.chaos.faults:inference_fault", 10**9, "Failed", "inference failed: RuntimeError: injected inference fault",
     "failed"),
], ids=["budget", "inference-fault"])
def test_the_controllers_local_runtime_reports_how_a_run_ended(tmp_path, monkeypatch, env, frames, phase, message,
                                                              end_reason):
    monkeypatch.setenv(ALLOW_CUSTOM_ENVS, "1")
    spec = ExperimentSpec(name="ending", env=env, actors=1, envs_per_actor=8, total_frames=frames,
                          vtrace={"batch_size": 4, "unroll_length": 8})
    run = LocalExperiment(spec, tmp_path / "ending", tmp_path, LocalOptions(learner_max_restarts=0))
    try:
        run.start()
        outcome = supervise(run, 180)
    finally:
        run.stop()
    assert outcome.phase == phase and message in outcome.message, outcome
    final = final_status(tmp_path / "ending")
    assert final.end_reason == end_reason and final.done == (phase == "Succeeded")
    if phase == "Succeeded":
        assert final.frames >= frames and list((tmp_path / "ending" / "checkpoints").glob("ckpt-*.index"))
    else:
        assert "the learner exited 1 time within" in outcome.message and message in final.end_message
        assert status(run.port, run.folder.secret) is None  # nothing left running
