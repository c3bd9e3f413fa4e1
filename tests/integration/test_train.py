"""`seedrl train` as a user runs it: real learner and actor processes over real sockets."""

from __future__ import annotations

import signal
import subprocess

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from seedrl.common import metrics as m
from seedrl.common.ports import free_port
from tests.integration.helpers import pids_with, read_summary, seedrl, status, train, train_until_solved, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# CartPole-v1 reaches a mean return of 475 after 0.3M-0.55M frames at 2 x 16 envs (docs/benchmarks.md);
# the budget leaves room for slower seeds on a loaded machine.
CARTPOLE_FRAME_BUDGET = 1_000_000
VTRACE_CARTPOLE = ["--env", "gym:CartPole-v1", "--agent", "vtrace", "--actors", "2", "--envs-per-actor", "16"]
SUMMARY_KEYS = {"frames", "wall_seconds", "fps", "mean_return_100", "episodes", "solved_at_seconds"}


def test_seedrl_train_solves_cartpole_within_the_frame_budget(tmp_path):
    run = train_until_solved(tmp_path, *VTRACE_CARTPOLE, frames=CARTPOLE_FRAME_BUDGET, target=475)
    assert SUMMARY_KEYS <= set(run.summary)
    assert 0 < run.summary["solved_at_seconds"] <= run.summary["wall_seconds"]
    assert "return(100)" in run.output  # the progress line
    assert list((run.logdir / "checkpoints").glob("ckpt-*.index"))  # final checkpoint
    assert_tensorboard_tags_are_metric_names(run.logdir / "tensorboard")


def assert_tensorboard_tags_are_metric_names(folder):
    """TensorBoard scalars are named as the Prometheus metrics (docs/metrics.md), or `<agent>/<name>`."""
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    tags = set(accumulator.Tags()["tensors"])
    catalogue = {spec.name for spec in m.CATALOGUE}
    assert {"seedrl_env_frames", "seedrl_episode_return_mean", "seedrl_learner_steps", "seedrl_loss/policy",
            "seedrl_gradient_norm", "seedrl_learning_rate", "seedrl_policy_lag_steps"} <= tags
    assert all(tag.split("/")[0] in catalogue or tag.startswith("vtrace/") for tag in tags), tags


def test_a_killed_actor_is_restarted_and_training_goes_on_until_ctrl_c(tmp_path):
    port = free_port()
    process = seedrl(
        "train", "--actors", "2", "--envs-per-actor", "16", "--total-frames", "100000000", "--port", str(port),
        "--max-seconds", "120", "--logdir", str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for(lambda: (s := status(port, tmp_path / "secret")) and s.frames > 20_000 and s.learner_steps > 10, 90, what="training")
        (victim,) = pids_with(str(tmp_path / "actor-0.json"))
        subprocess.run(["kill", "-KILL", str(victim)], check=True)
        frames_at_kill = status(port, tmp_path / "secret").frames
        wait_for(lambda: status(port, tmp_path / "secret").frames > frames_at_kill + 50_000, 60, what="frames after the kill")
        wait_for(lambda: (pids := pids_with(str(tmp_path / "actor-0.json"))) and victim not in pids, 30, what="restart")
        steps_before = status(port, tmp_path / "secret").learner_steps
        wait_for(lambda: status(port, tmp_path / "secret").learner_steps > steps_before + 20, 30, what="learner steps after the kill")
        process.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out
    result = read_summary(tmp_path)
    assert result["stop_reason"] == "interrupted"
    assert '"end_reason": "stopped"' in (tmp_path / "learner_status.json").read_text()
    assert result["actor_restarts"] >= 1
    assert result["frames"] > frames_at_kill
    assert result["last_checkpoint_step"] > 0  # a final checkpoint on the way out
    assert pids_with(str(tmp_path)) == []


def test_rerunning_with_the_same_logdir_resumes_from_the_checkpoint(tmp_path):
    def run(total_frames):
        return train(tmp_path, "--actors", "1", "--envs-per-actor", "16", "--total-frames", str(total_frames)).summary

    first = run(30_000)
    assert first["stop_reason"] == "total_frames" and first["frames"] >= 30_000
    assert first["frames_this_run"] == first["frames"]  # a fresh folder: every frame is this run's
    second = run(60_000)
    assert second["frames"] >= 60_000
    assert second["frames_this_run"] <= 60_000 - 25_000  # it went on from ~30k frames, not from 0
    assert second["learner_steps"] > first["learner_steps"]
    assert "resumed from" in (tmp_path / "logs" / "learner.log").read_text()
