"""A `VectorBackend` over an envpool env: K environments stepped by envpool's C++ threads.

envpool resets an ended env on the *next* step (the action sent then is ignored); the
actor protocol wants the new episode's first observation in the same step. So after a
step where episodes ended, those envs alone are stepped once more (envpool's `env_id`
argument) to fetch their first observations.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from seedrl.envs.backend import BackendStep

Transform = Callable[[np.ndarray], np.ndarray]


def _identity(observations: np.ndarray) -> np.ndarray:
    return observations


class EnvpoolBackend:
    """K envpool environments with same-step autoreset.

    Args:
      env: an env from `envpool.make_gymnasium(..., num_envs=K)` (synchronous: batch_size == num_envs).
      observation_space: the space of one transformed observation.
      transform: envpool's observations [N, ...] -> [N, *observation_space.shape] (e.g. to channel-last).
      frames_per_step: emulator frames per agent step.
    """

    def __init__(self, env: Any, observation_space: Any, transform: Transform = _identity, frames_per_step: int = 1):
        self._env = env
        self._transform = transform
        self.num_envs = int(env.spec.config.num_envs)
        self.frames_per_step = frames_per_step
        self.observation_space = observation_space
        self.action_space = env.action_space
        self._action_dtype = np.dtype(env.action_space.dtype)

    def reset(self) -> np.ndarray:
        observations, info = self._env.reset()
        return self._ordered(self._transform(observations), info["env_id"])

    def step(self, actions: Any) -> BackendStep:
        observations, rewards, terminated, truncated, info = self._env.step(np.asarray(actions, self._action_dtype))
        observations = self._ordered(self._transform(observations), info["env_id"])
        order = np.argsort(info["env_id"])
        rewards = np.asarray(rewards, np.float32)[order]
        terminated, truncated = np.asarray(terminated, bool)[order], np.asarray(truncated, bool)[order]
        truncated &= ~terminated
        final_indices = np.flatnonzero(truncated).astype(np.int32)
        final_observations = observations[final_indices]
        ended = np.flatnonzero(terminated | truncated)
        if len(ended):
            noop = np.zeros((len(ended), *self.action_space.shape), self._action_dtype)
            first, *_, reset_info = self._env.step(noop, ended.astype(np.int32))
            observations[reset_info["env_id"]] = self._transform(first)
        return BackendStep(observations, rewards, terminated, truncated, final_indices, final_observations)

    def _ordered(self, observations: np.ndarray, env_ids: np.ndarray) -> np.ndarray:
        """Rows by env id (a synchronous envpool already returns them in order: then no copy)."""
        if np.array_equal(env_ids, np.arange(len(env_ids))):
            return observations if observations.flags.writeable else observations.copy()
        ordered = np.empty_like(observations)
        ordered[env_ids] = observations
        return ordered

    def close(self) -> None:
        self._env.close()


def envpool_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("envpool") is not None
