"""Wrappers every family shares: observation spaces made to travel, float32 observations."""

from __future__ import annotations

from typing import Any

import numpy as np

# Observation spaces that travel as they are; Dict, Tuple, MultiDiscrete and MultiBinary are flattened.
NATIVE_OBSERVATION_SPACES = ("Box", "Discrete")


def flatten_structured_observations(env: Any) -> Any:
    """Flatten Dict, Tuple, MultiDiscrete and MultiBinary observations into one Box.

    Gymnasium's `flatten_space` order is used: Dict entries by sorted key, discrete parts one-hot.
    Box and Discrete observations pass through unchanged.
    """
    from gymnasium.wrappers import FlattenObservation

    if type(env.observation_space).__name__ in NATIVE_OBSERVATION_SPACES:
        return env
    return FlattenObservation(env)


def float32_observations(env: Any) -> Any:
    """Cast a floating Box observation space (e.g. MuJoCo's float64) to float32."""
    from gymnasium import spaces
    from gymnasium.wrappers import DtypeObservation

    space = env.observation_space
    if isinstance(space, spaces.Box) and np.dtype(space.dtype) != np.float32:
        return DtypeObservation(env, np.float32)
    return env


# Largest joint action space a MultiDiscrete action space is turned into.
MAX_JOINT_ACTIONS = 65_536


def joint_multi_discrete_actions(env: Any) -> Any:
    """Turn a MultiDiscrete action space with nvec (n_1, ..., n_k) into one Discrete(n_1 * ... * n_k).

    Joint action a is the tuple `np.unravel_index(a, nvec)` (plus the space's `start`), so every
    discrete agent handles it; the policy is a categorical over all combinations. Spaces with more
    than MAX_JOINT_ACTIONS combinations are refused with a TypeError.
    """
    import gymnasium
    from gymnasium import spaces

    space = env.action_space
    if not isinstance(space, spaces.MultiDiscrete):
        return env
    nvec = np.asarray(space.nvec, np.int64).ravel()
    combinations = int(np.prod(nvec))
    if combinations > MAX_JOINT_ACTIONS:
        raise TypeError(
            f"unsupported action space {space!r}: its {combinations:,} joint actions exceed {MAX_JOINT_ACTIONS:,}"
        )
    start = np.asarray(space.start, space.dtype).ravel()
    shape = space.shape

    class JointActions(gymnasium.ActionWrapper):
        def __init__(self, inner: Any):
            super().__init__(inner)
            self.action_space = spaces.Discrete(combinations)

        def action(self, action: Any) -> np.ndarray:
            return (np.array(np.unravel_index(int(action), nvec), space.dtype) + start).reshape(shape)

    return JointActions(env)
