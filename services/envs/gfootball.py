"""The `gfootball` package's environment (gym 0.25 API) as a Gymnasium env.

SEED's representation: `extracted` (the 72x96 super mini-map, 4 uint8 planes), unstacked
(the actors stack), with `scoring` or `scoring,checkpoints` rewards. The game's end
(a goal in academy scenarios, or the scenario's duration) is reported as terminated.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces

SMM_SHAPE = (72, 96, 4)


class GFootballEnv(gymnasium.Env):
    """One Google Research Football scenario through the gfootball package."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, scenario: str, rewards: str = "scoring", render: bool = False):
        from gfootball.env import create_environment

        self._scenario, self._rewards, self._render = scenario, rewards, render
        self._env = None
        self._create = create_environment
        self.render_mode = "rgb_array" if render else None
        self.observation_space = spaces.Box(0, 255, SMM_SHAPE, np.uint8)
        self.action_space = spaces.Discrete(19)

    def _make(self, seed: int) -> None:
        if self._env is not None:
            self._env.close()
        self._env = self._create(
            env_name=self._scenario, stacked=False, representation="extracted", rewards=self._rewards,
            render=self._render, write_goal_dumps=False, write_full_episode_dumps=False,
            other_config_options={"game_engine_random_seed": seed},
        )
        self.action_space = spaces.Discrete(int(self._env.action_space.n))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self._env is None or seed is not None:
            self._make(int(self.np_random.integers(2**31 - 1)))
        return np.asarray(self._env.reset(), np.uint8).reshape(SMM_SHAPE), {}

    def step(self, action):
        observation, reward, done, info = self._env.step(int(action))
        return np.asarray(observation, np.uint8).reshape(SMM_SHAPE), float(reward), bool(done), False, info

    def render(self):
        return self._env.render(mode="rgb_array") if self._env is not None else None

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
