"""The `mujoco` family: Gymnasium's MuJoCo tasks, e.g. `mujoco:HalfCheetah-v5`.

Observations are float32 (MuJoCo gives float64) and actions are rescaled so that the
agent always acts in [-1, 1]^d (a policy squashed with tanh fits every task unchanged).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seedrl.envs.errors import MissingEnvPackage
from seedrl.spec.env import EnvOptions, UnknownEnvError

INSTALL = "pip install 'seedrl[mujoco]'"


def _import_gymnasium_mujoco() -> Any:

    try:
        import gymnasium
        import mujoco  # noqa: F401
    except ImportError as error:
        raise MissingEnvPackage(f"mujoco environments need the mujoco package: {INSTALL}") from error
    return gymnasium


def _is_mujoco(gymnasium: Any, name: str) -> bool:
    return "mujoco" in str(gymnasium.spec(name).entry_point)


def make(name: str, seed: int | None, options: EnvOptions, render_mode: str | None = None) -> tuple[Any, int]:
    """One MuJoCo env: float32 observations, float32 actions in [-1, 1]."""
    gymnasium = _import_gymnasium_mujoco()
    from gymnasium.wrappers import RescaleAction

    from seedrl.envs.wrappers import float32_observations

    check(name)
    env = gymnasium.make(name, render_mode=render_mode)
    env = RescaleAction(env, np.float32(-1.0), np.float32(1.0))
    env = float32_observations(env)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env, 1


def check(name: str) -> None:

    gymnasium = _import_gymnasium_mujoco()
    try:
        if _is_mujoco(gymnasium, name):
            return
    except gymnasium.error.Error:
        pass
    raise UnknownEnvError(f"mujoco:{name}: not a Gymnasium MuJoCo task (e.g. mujoco:HalfCheetah-v5, mujoco:Hopper-v5)")


def reward_threshold(name: str) -> float | None:
    return _import_gymnasium_mujoco().spec(name).reward_threshold
