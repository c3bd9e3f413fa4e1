"""`seedrl eval`: a checkpoint of a real `seedrl train` run plays fresh episodes in one process, no learner."""

from __future__ import annotations

import json
import subprocess
import sys

import imageio_ffmpeg
import pytest

from tests.integration.helpers import seedrl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EPISODE_STEPS = 100  # the run's max_episode_frames (400) over Atari's frame skip (4)


@pytest.fixture(scope="module")
def pong_run(tmp_path_factory):
    """A short Pong run (ALE backend, 100-step episodes) with a final checkpoint."""
    logdir = tmp_path_factory.mktemp("pong")
    process = seedrl(
        "train", "--env", "atari:Pong", "--env-options.backend", "ale", "--env-options.max-episode-frames", "400",
        "--actors", "1", "--envs-per-actor", "2", "--vtrace.batch-size", "2", "--vtrace.unroll-length", "8",
        "--total-frames", "1600", "--logdir", str(logdir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    out, _ = process.communicate(timeout=240)
    assert process.returncode == 0, out
    return logdir


def seedrl_eval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seedrl.cli", "eval", *args], capture_output=True, text=True, timeout=240)


def test_eval_prints_return_statistics_of_the_newest_checkpoint(pong_run):
    done = seedrl_eval("--checkpoint", str(pong_run), "--episodes", "3", "--envs", "2")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["episodes"] == 3 and len(result["returns"]) == 3 and result["policy"] == "greedy"
    assert result["checkpoint"].startswith(str(pong_run / "checkpoints" / "ckpt-"))
    assert result["min_return"] <= result["mean_return"] <= result["max_return"]
    assert all(-21 <= r <= 21 for r in result["returns"])
    assert result["mean_length"] == EPISODE_STEPS  # the run's env options (the time limit) are used


def test_eval_records_the_first_episode_as_a_video_and_can_sample_actions(pong_run, tmp_path):
    video = tmp_path / "pong.mp4"
    checkpoint = max((pong_run / "checkpoints").glob("ckpt-*.index")).with_suffix("")
    done = seedrl_eval("--checkpoint", str(checkpoint), "--episodes", "1", "--sample", "--video", str(video))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["video"] == str(video) and result["policy"] == "sampled"
    frames = imageio_ffmpeg.read_frames(str(video))
    meta = next(frames)
    assert meta["size"] == (160, 210)  # the full Atari screen, not the 84x84 observation
    assert sum(1 for _ in frames) >= EPISODE_STEPS


def test_eval_takes_other_env_options_but_refuses_envs_with_other_spaces(pong_run):
    done = seedrl_eval("--checkpoint", str(pong_run), "--episodes", "1",
                       "--env-options", '{"sticky_actions": true, "max_episode_frames": 200}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mean_length"] == 50
    done = seedrl_eval("--checkpoint", str(pong_run), "--episodes", "1", "--env", "atari:Breakout")
    assert done.returncode != 0 and "action_space" in done.stderr and "atari:Pong" in done.stderr
    done = seedrl_eval("--checkpoint", str(pong_run / "nothing"), "--episodes", "1")
    assert done.returncode != 0 and "no checkpoint" in done.stderr
