"""Training runs that several integration tests inspect, made once per session."""

from __future__ import annotations

import pytest

from tests.integration.helpers import Run, train_until_solved
from tests.integration.test_train_on_policy import CARTPOLE_FRAME_BUDGET, on_policy


@pytest.fixture(scope="session")
def solved_ppo_cartpole(tmp_path_factory) -> Run:
    """CartPole-v1 trained by the ppo preset (feed-forward, 2 actors x 16 envs) to a mean return of 475, ending
    with a checkpoint: the PPO learning test checks how it learned, the evaluation and export tests use it."""
    return train_until_solved(
        tmp_path_factory.mktemp("cartpole-ppo"), *on_policy("gym:CartPole-v1", "ppo"), frames=CARTPOLE_FRAME_BUDGET,
        target=475,
    )
