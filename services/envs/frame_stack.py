"""Frame stacking over a batch of environments: the last k observations along the last axis.

Stacking is done by the actors, so every backend (Gymnasium envs, envpool) stacks the same
way: at an episode's start all k slots hold its first observation, as Gymnasium's
`FrameStackObservation(padding_type="reset")` does. Observations of shape [..., C]
become [..., k*C], oldest first (an 84x84x1 Atari frame becomes 84x84x4).
"""

from __future__ import annotations

import numpy as np


class FrameStack:
    """Keeps the last `k` observations of K environments."""

    def __init__(self, space, k: int):
        from gymnasium import spaces

        if not isinstance(space, spaces.Box) or len(space.shape) == 0:
            raise ValueError(f"frame stacking needs a Box observation space with at least one axis, not {space!r}")
        self.k = k
        self._frame_shape = tuple(space.shape)
        self.observation_space = spaces.Box(
            np.concatenate([space.low] * k, axis=-1), np.concatenate([space.high] * k, axis=-1), dtype=space.dtype
        )
        self._stacked: np.ndarray | None = None  # [K, ..., k*C]

    def _frames(self, stacked: np.ndarray) -> np.ndarray:
        """View [N, ..., k*C] as [N, ..., k, C]."""
        return stacked.reshape(*stacked.shape[:-1], self.k, self._frame_shape[-1])

    def reset(self, observations: np.ndarray) -> np.ndarray:
        """observations [K, *frame_shape] -> [K, ..., k*C], every slot the first observation."""
        stacked = np.empty((len(observations), *self.observation_space.shape), self.observation_space.dtype)
        self._frames(stacked)[...] = observations[..., None, :]
        self._stacked = stacked
        return stacked

    def step(
        self, observations: np.ndarray, restarted: np.ndarray, final_indices: np.ndarray, final_observations: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Push one step's observations; environments that `restarted` start a fresh stack.

        Args:
          observations: [K, *frame_shape], first observations where `restarted`.
          restarted: [K] bool, the episode ended and the env was reset this step.
          final_indices: [M] indices of truncated envs; final_observations: [M, *frame_shape] their last frames.
        Returns:
          (stacked observations [K, ..., k*C], stacked final observations [M, ..., k*C]).
        """
        previous = self._frames(self._stacked)
        stacked = np.empty_like(self._stacked)
        frames = self._frames(stacked)
        frames[..., :-1, :] = previous[..., 1:, :]
        frames[..., -1, :] = observations
        finals = np.empty((len(final_indices), *stacked.shape[1:]), stacked.dtype)
        if len(final_indices):
            final_frames = self._frames(finals)
            final_frames[..., :-1, :] = previous[final_indices, ..., 1:, :]
            final_frames[..., -1, :] = final_observations
        if restarted.any():
            frames[restarted] = observations[restarted][..., None, :]
        self._stacked = stacked
        return stacked, finals
