"""Each env family that runs here trains for a few seconds through `seedrl train`: real learner and actor
processes over gRPC. Frames flow, the learner serves the family's spec (the handshake and every step are
checked against it), episodes end, returns are reported and the learner takes gradient steps."""

from __future__ import annotations

import pytest

from tests.integration.helpers import pids_with, train
from tests.unit.test_envs_families import GFOOTBALL

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAMILIES = {
    # id: (flags, spec the learner must serve, frame budget)
    "atari-ale": (
        ["--env", "atari:Pong", "--env-options.backend", "ale", "--env-options.max-episode-frames", "400"],
        "observation_space=Box(shape=(84, 84, 4), dtype=uint8, low=0, high=255), action_space=Discrete(n=6), "
        "frames_per_step=4", 4_000,
    ),
    "atari-envpool": (
        ["--env", "atari:Pong", "--env-options.backend", "envpool", "--env-options.max-episode-frames", "400"],
        "observation_space=Box(shape=(84, 84, 4), dtype=uint8, low=0, high=255), action_space=Discrete(n=6), "
        "frames_per_step=4", 4_000,
    ),
    "football-envpool": (
        ["--env", "football:academy_empty_goal_close"],
        "observation_space=Box(shape=(72, 96, 16), dtype=uint8, low=0, high=255), action_space=Discrete(n=19), "
        "frames_per_step=1", 1_500,
    ),
    "mujoco": (
        ["--env", "mujoco:HalfCheetah-v5", "--agent", "ppo"],
        "observation_space=Box(shape=(17,), dtype=float32, low=-inf, high=inf), "
        "action_space=Box(shape=(6,), dtype=float32, low=-1, high=1), frames_per_step=1", 4_500,  # 1000-step episodes
    ),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_trains_through_the_learner_and_actors(tmp_path, family):
    train_briefly(tmp_path, *FAMILIES[family])


@GFOOTBALL
def test_football_trains_through_the_gfootball_backend(tmp_path):
    flags, served_spec, frames = FAMILIES["football-envpool"]
    train_briefly(tmp_path, [*flags, "--env-options.backend", "gfootball"], served_spec, frames)


def train_briefly(tmp_path, flags: list[str], served_spec: str, frames: int) -> None:
    """`seedrl train` for `frames` frames with one actor of 4 envs: it ends by its budget, serves `served_spec`,
    ends episodes, reports returns, takes steps and leaves no process behind."""
    summary = train(
        tmp_path, *flags, "--actors", "1", "--envs-per-actor", "4", "--streams-per-actor", "2",
        "--vtrace.batch-size", "2", "--vtrace.unroll-length", "8", "--total-frames", str(frames), max_seconds=150,
    ).summary
    assert summary["stop_reason"] == "total_frames", summary
    assert summary["frames"] >= frames and summary["actor_restarts"] == 0
    assert summary["episodes"] >= 1 and summary["mean_return_100"] is not None  # episodes ended, returns reported
    assert summary["learner_steps"] >= 1
    assert served_spec in (tmp_path / "logs" / "learner.log").read_text()
    assert "refused by the learner" not in (tmp_path / "logs" / "actor-0.log").read_text()
    assert pids_with(str(tmp_path)) == []
