"""A batch of K environments stepped together with same-step autoreset.

Where an episode ends, the environment is reset within the same step: the batch
returns the new episode's first observation together with the ended episode's
last reward and its `terminated`/`truncated` flags (kept apart, Gymnasium
semantics). For truncated episodes the last observation before the reset is kept
in `final_observations`, so the learner can bootstrap from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from seedrl.actor.envs import make_env
from seedrl.common.spaces import EnvSpec, space_from_gymnasium


@dataclass
class StepResult:
    """One step of all K environments.

    Attributes:
      observations: [K, *obs_shape] the observation to act on next.
      rewards: [K] float32, reward of the last action (0 after a reset).
      terminated: [K] bool, the episode ended in a terminal state.
      truncated: [K] bool, the episode was cut by a time limit.
      final_indices: [M] int32, ascending indices of the truncated environments.
      final_observations: [M, *obs_shape], their last observation before the reset.
      episode_returns: [E] float64, undiscounted returns of the episodes that ended.
    """

    observations: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_indices: np.ndarray
    final_observations: np.ndarray
    episode_returns: np.ndarray


class EnvBatch:
    """K Gymnasium environments behind one `step(actions[K])`."""

    def __init__(self, envs: Sequence[Any], action_start: int = 0, frames_per_step: int = 1):
        if not envs:
            raise ValueError("an env batch needs at least one environment")
        self._envs = list(envs)
        self.frames_per_step = frames_per_step
        space = self._envs[0].observation_space
        self._obs_shape, self._obs_dtype = tuple(space.shape), np.dtype(space.dtype)
        self._action_start = action_start
        self._returns = np.zeros(len(self._envs), np.float64)

    @classmethod
    def make(cls, env_id: str, num_envs: int, seed: int) -> "EnvBatch":
        """Make `num_envs` copies of `env_id`, env i seeded with `seed + i`."""
        made = [make_env(env_id, seed + i) for i in range(num_envs)]
        envs = [env for env, _ in made]
        start = getattr(envs[0].action_space, "start", 0)
        return cls(envs, action_start=int(start), frames_per_step=made[0][1])

    def spec(self, env_id: str) -> EnvSpec:
        """The spec these environments present to the learner."""
        env = self._envs[0]
        return EnvSpec(
            env_id=env_id,
            observation_space=space_from_gymnasium(env.observation_space),
            action_space=space_from_gymnasium(env.action_space),
            frames_per_step=self.frames_per_step,
        )

    def __len__(self) -> int:
        return len(self._envs)

    def reset(self) -> StepResult:
        """Reset every environment; rewards are 0 and no episode has ended."""
        k = len(self._envs)
        observations = np.empty((k, *self._obs_shape), self._obs_dtype)
        for i, env in enumerate(self._envs):
            observations[i], _ = env.reset()
        self._returns[:] = 0.0
        no_end = np.zeros(k, bool)
        return StepResult(
            observations, np.zeros(k, np.float32), no_end, no_end.copy(),
            np.zeros(0, np.int32), np.zeros((0, *self._obs_shape), self._obs_dtype), np.zeros(0),
        )

    def step(self, actions: np.ndarray) -> StepResult:
        """Step env i with actions[i] (actions index the space from 0); reset ended episodes."""
        k = len(self._envs)
        if len(actions) != k:
            raise ValueError(f"got {len(actions)} actions for {k} environments")
        observations = np.empty((k, *self._obs_shape), self._obs_dtype)
        rewards = np.empty(k, np.float32)
        terminated = np.empty(k, bool)
        truncated = np.empty(k, bool)
        final_indices: list[int] = []
        final_observations: list[np.ndarray] = []
        env_actions = (actions + self._action_start).tolist() if actions.ndim == 1 else actions
        for i, env in enumerate(self._envs):
            obs, reward, terminated[i], truncated[i], _ = env.step(env_actions[i])
            rewards[i] = reward
            if terminated[i] or truncated[i]:
                if truncated[i] and not terminated[i]:
                    final_indices.append(i)
                    final_observations.append(obs)
                obs, _ = env.reset()
            observations[i] = obs
        self._returns += rewards
        ended = terminated | truncated
        episode_returns = self._returns[ended].copy()
        self._returns[ended] = 0.0
        truncated &= ~terminated  # an episode that ends in a terminal state is terminated, not truncated
        finals = (
            np.stack(final_observations).astype(self._obs_dtype, copy=False)
            if final_observations else np.zeros((0, *self._obs_shape), self._obs_dtype)
        )
        return StepResult(
            observations, rewards, terminated, truncated,
            np.asarray(final_indices, np.int32), finals, episode_returns,
        )

    def close(self) -> None:
        for env in self._envs:
            env.close()
