"""A batch of K environments stepped together with same-step autoreset.

Where an episode ends, the environment is reset within the same step: the batch
returns the new episode's first observation together with the ended episode's
last reward and its `terminated`/`truncated` flags (kept apart, Gymnasium
semantics). For truncated episodes the last observation before the reset is kept
in `final_observations`, so the learner can bootstrap from it.

The K environments live behind a `VectorBackend`: either K Gymnasium envs stepped
in a loop (`GymnasiumEnvs`), or a family's natively vectorised implementation
(envpool for Atari and Football). Frame stacking is done here, over the whole
batch, the same way for every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from seedrl.envs.registry import frame_stack, make_env, make_vector
from seedrl.spec.env import EnvOptions
from seedrl.envs.backend import BackendStep, VectorBackend
from seedrl.envs.frame_stack import FrameStack
from seedrl.common.spaces import BoxSpace, DiscreteSpace, EnvSpec, Space


def space_from_gymnasium(space: Any) -> Space:
    """Convert a `gymnasium.spaces.Box` or `Discrete` to the wire's `Space`; other spaces are refused."""
    import gymnasium

    if isinstance(space, gymnasium.spaces.Discrete):
        return DiscreteSpace(n=int(space.n), start=int(space.start))
    if isinstance(space, gymnasium.spaces.Box):
        return BoxSpace(
            shape=tuple(int(d) for d in space.shape),
            dtype=np.dtype(space.dtype).name,
            low=np.asarray(space.low),
            high=np.asarray(space.high),
        )
    raise TypeError(f"unsupported space {space!r}: only Box and Discrete spaces travel")


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


class GymnasiumEnvs:
    """K Gymnasium environments stepped one after the other (the `VectorBackend` of any env)."""

    def __init__(self, envs: Sequence[Any], frames_per_step: int = 1):
        if not envs:
            raise ValueError("an env batch needs at least one environment")
        self._envs = list(envs)
        self.num_envs = len(self._envs)
        self.frames_per_step = frames_per_step
        self.observation_space = self._envs[0].observation_space
        self.action_space = self._envs[0].action_space
        self._obs_shape, self._obs_dtype = tuple(self.observation_space.shape), np.dtype(self.observation_space.dtype)

    def reset(self) -> np.ndarray:
        observations = np.empty((self.num_envs, *self._obs_shape), self._obs_dtype)
        for i, env in enumerate(self._envs):
            observations[i], _ = env.reset()
        return observations

    def step(self, actions: Any) -> BackendStep:
        k = self.num_envs
        observations = np.empty((k, *self._obs_shape), self._obs_dtype)
        rewards = np.empty(k, np.float32)
        terminated = np.empty(k, bool)
        truncated = np.empty(k, bool)
        final_indices: list[int] = []
        final_observations: list[np.ndarray] = []
        for i, env in enumerate(self._envs):
            obs, reward, terminated[i], truncated[i], _ = env.step(actions[i])
            rewards[i] = reward
            if terminated[i] or truncated[i]:
                if truncated[i] and not terminated[i]:
                    final_indices.append(i)
                    final_observations.append(obs)
                obs, _ = env.reset()
            observations[i] = obs
        truncated &= ~terminated  # an episode that ends in a terminal state is terminated, not truncated
        finals = (
            np.stack(final_observations).astype(self._obs_dtype, copy=False)
            if final_observations else np.zeros((0, *self._obs_shape), self._obs_dtype)
        )
        return BackendStep(observations, rewards, terminated, truncated, np.asarray(final_indices, np.int32), finals)

    def close(self) -> None:
        for env in self._envs:
            env.close()


class EnvBatch:
    """K environments behind one `step(actions[K])`: episode returns, action offsets, frame stacking."""

    def __init__(self, backend: VectorBackend, stack: int = 1):
        self._backend = backend
        self.frames_per_step = backend.frames_per_step
        self._action_start = int(getattr(backend.action_space, "start", 0))
        self._stack = FrameStack(backend.observation_space, stack) if stack > 1 else None
        self.observation_space = self._stack.observation_space if self._stack else backend.observation_space
        self.action_space = backend.action_space
        self._returns = np.zeros(backend.num_envs, np.float64)
        self._no_finals = np.zeros((0, *self.observation_space.shape), self.observation_space.dtype)

    @classmethod
    def make(
        cls, env_id: str, num_envs: int, seed: int, options: EnvOptions | None = None, vectorised: bool = True
    ) -> "EnvBatch":
        """Make `num_envs` copies of `env_id`, env i seeded with `seed + i`.

        The family's vectorised implementation is used where it has one (and `vectorised`),
        else `num_envs` single Gymnasium envs.
        """
        backend = make_vector(env_id, num_envs, seed, options) if vectorised else None
        if backend is None:
            made = [make_env(env_id, seed + i, options) for i in range(num_envs)]
            backend = GymnasiumEnvs([env for env, _ in made], frames_per_step=made[0][1])
        return cls(backend, frame_stack(env_id, options))

    def spec(self, env_id: str) -> EnvSpec:
        """The spec these environments present to the learner."""
        spaces = {}
        for kind, space in (("observation", self.observation_space), ("action", self.action_space)):
            try:
                spaces[kind] = space_from_gymnasium(space)
            except TypeError as error:
                raise TypeError(f"{env_id}: its {kind} space cannot be used: {error}") from None
        return EnvSpec(env_id, spaces["observation"], spaces["action"], self.frames_per_step)

    def __len__(self) -> int:
        return self._backend.num_envs

    def reset(self) -> StepResult:
        """Reset every environment; rewards are 0 and no episode has ended."""
        k = len(self)
        observations = self._backend.reset()
        if self._stack:
            observations = self._stack.reset(observations)
        self._returns[:] = 0.0
        no_end = np.zeros(k, bool)
        return StepResult(
            observations, np.zeros(k, np.float32), no_end, no_end.copy(),
            np.zeros(0, np.int32), self._no_finals, np.zeros(0),
        )

    def step(self, actions: np.ndarray) -> StepResult:
        """Step env i with actions[i] (discrete actions index the space from 0); reset ended episodes."""
        k = len(self)
        if len(actions) != k:
            raise ValueError(f"got {len(actions)} actions for {k} environments")
        if actions.ndim == 1:
            actions = actions + self._action_start if self._action_start else actions
            if isinstance(self._backend, GymnasiumEnvs):
                actions = actions.tolist()  # Python ints step Gymnasium envs faster than NumPy scalars
        step = self._backend.step(actions)
        observations, finals = step.observations, step.final_observations
        if self._stack:
            observations, finals = self._stack.step(observations, step.terminated | step.truncated, step.final_indices, finals)
        self._returns += step.rewards
        ended = step.terminated | step.truncated
        episode_returns = self._returns[ended].copy()
        self._returns[ended] = 0.0
        return StepResult(
            observations, step.rewards, step.terminated, step.truncated, step.final_indices, finals, episode_returns,
        )

    def close(self) -> None:
        self._backend.close()
