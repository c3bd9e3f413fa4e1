"""The interface behind an env batch: K environments stepped by one call, with same-step autoreset.

`GymnasiumEnvs` (envs/batch.py) implements it for any Gymnasium env; families with a natively
vectorised implementation (envpool for Atari and Football) implement it themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass
class BackendStep:
    """One step of a backend's K environments, ended episodes already reset.

    Attributes:
      observations: [K, *obs_shape] the observation to act on next.
      rewards: [K] float32.
      terminated: [K] bool.
      truncated: [K] bool, False where terminated.
      final_indices: [M] int32, ascending indices of the truncated environments.
      final_observations: [M, *obs_shape], their last observation before the reset.
    """

    observations: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_indices: np.ndarray
    final_observations: np.ndarray


class VectorBackend(Protocol):
    """K environments behind one call, with same-step autoreset."""

    num_envs: int
    frames_per_step: int  # emulator frames per agent step
    observation_space: Any  # gymnasium.spaces.Box (or Discrete) of one env
    action_space: Any  # gymnasium space of one env

    def reset(self) -> np.ndarray:
        """Reset all envs; their first observations [K, *obs_shape]."""

    def step(self, actions: Any) -> BackendStep:
        """Step env i with actions[i] (in the env's own action values)."""

    def close(self) -> None: ...
