"""Each env family that runs here trains for a few seconds through `seedrl train`: real learner and actor
processes over gRPC. Frames flow, the learner serves the family's spec (the handshake and every step are
checked against it), episodes end, returns are reported and the learner takes gradient steps."""

from __future__ import annotations

import pytest

from tests.integration.helpers import pids_with, train
from tests.unit.test_envs_families import GFOOTBALL

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# envpool's football engine now and then dies with signal 11 while a game starts, after "Could not load
# font" (seen once in a suite run on a loaded 2-core machine; not reproduced in 24 starts, loaded or not).
# The runtime restarts the actor, which is what a user sees: training goes on (docs/environments.md).
FOOTBALL_START_CRASH = "Could not load font"

FAMILIES = {
    # id: (flags, spec the learner must serve, frame budget[, what the log of an engine crash the runtime
    # recovers from by restarting the actor says])
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
        "frames_per_step=1", 1_500, FOOTBALL_START_CRASH,
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
    flags, served_spec, frames, _ = FAMILIES["football-envpool"]
    train_briefly(tmp_path, [*flags, "--env-options.backend", "gfootball"], served_spec, frames)


def train_briefly(tmp_path, flags: list[str], served_spec: str, frames: int, start_crash: str | None = None) -> None:
    """`seedrl train` for `frames` frames with one actor of 4 envs: it ends by its budget, serves `served_spec`,
    ends episodes, reports returns, takes steps and leaves no process behind. The actor is never restarted,
    but after a crash of the env's engine whose log says `start_crash` (one restart each)."""
    summary = train(
        tmp_path, *flags, "--actors", "1", "--envs-per-actor", "4", "--streams-per-actor", "2",
        "--vtrace.batch-size", "2", "--vtrace.unroll-length", "8", "--total-frames", str(frames), max_seconds=150,
    ).summary
    assert summary["stop_reason"] == "total_frames", summary
    actor_log = (tmp_path / "logs" / "actor-0.log").read_text()
    assert summary["frames"] >= frames
    assert summary["actor_restarts"] <= (actor_log.count(start_crash) if start_crash else 0), actor_log[-3000:]
    assert summary["episodes"] >= 1 and summary["mean_return_100"] is not None  # episodes ended, returns reported
    assert summary["learner_steps"] >= 1
    assert served_spec in (tmp_path / "logs" / "learner.log").read_text()
    assert "refused by the learner" not in actor_log
    assert pids_with(str(tmp_path)) == []
