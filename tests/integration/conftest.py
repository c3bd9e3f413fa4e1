"""Training runs that several integration tests inspect, made once per session."""

from __future__ import annotations

import pytest

from tests.integration.helpers import Run, train_until_solved
from tests.integration.test_train_on_policy import CARTPOLE_FRAME_BUDGET, on_policy
from tests.integration.test_train_replay import R2D2_CARTPOLE, R2D2_FRAME_BUDGET


@pytest.fixture(scope="session")
def solved_ppo_cartpole(tmp_path_factory) -> Run:
    """CartPole-v1 trained by the ppo preset (feed-forward, 2 actors x 16 envs) to a mean return of 475, ending
    with a checkpoint: the PPO learning test checks how it learned, the evaluation and export tests use it."""
    return train_until_solved(
        tmp_path_factory.mktemp("cartpole-ppo"), *on_policy("gym:CartPole-v1", "ppo"), frames=CARTPOLE_FRAME_BUDGET,
        target=475,
    )


@pytest.fixture(scope="session")
def solved_r2d2_cartpole(tmp_path_factory) -> Run:
    """CartPole-v1 solved by R2D2 on the gym family's defaults (an LSTM core of 32 units, 2 actors x 8 envs),
    ending with a checkpoint: the R2D2 learning test checks how it learned, the export test uses it."""
    return train_until_solved(
        tmp_path_factory.mktemp("cartpole-r2d2"), *R2D2_CARTPOLE, frames=R2D2_FRAME_BUDGET, target=475, max_seconds=300,
    )
