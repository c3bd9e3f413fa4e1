"""The `gym` family: any environment registered with Gymnasium, e.g. `gym:CartPole-v1`.

Dict, Tuple, MultiDiscrete and MultiBinary observations are flattened into one Box; MultiDiscrete
actions become one Discrete of all their combinations.
"""

from __future__ import annotations

from typing import Any

from seedrl.spec.env import EnvOptions, UnknownEnvError


def make(name: str, seed: int | None, options: EnvOptions, render_mode: str | None = None) -> tuple[Any, int]:
    import gymnasium

    from seedrl.envs.wrappers import flatten_structured_observations, joint_multi_discrete_actions

    try:
        env = gymnasium.make(name, render_mode=render_mode)
    except gymnasium.error.Error as error:
        raise UnknownEnvError(f"gym:{name}: {error}") from error
    env = joint_multi_discrete_actions(flatten_structured_observations(env))
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env, 1


def check(name: str) -> None:
    import gymnasium


    try:
        gymnasium.spec(name)
    except gymnasium.error.Error as error:
        raise UnknownEnvError(f"gym:{name}: {error}") from error


def reward_threshold(name: str) -> float | None:
    import gymnasium

    return gymnasium.spec(name).reward_threshold
