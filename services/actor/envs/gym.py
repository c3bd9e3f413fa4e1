"""The `gym` family: any environment registered with Gymnasium, e.g. `gym:CartPole-v1`."""

from __future__ import annotations

from typing import Any


def make(name: str, seed: int | None) -> tuple[Any, int]:
    import gymnasium

    from seedrl.actor.envs import UnknownEnvError

    try:
        env = gymnasium.make(name)
    except gymnasium.error.Error as error:
        raise UnknownEnvError(f"gym:{name}: {error}") from error
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env, 1


def check(name: str) -> None:
    import gymnasium

    from seedrl.actor.envs import UnknownEnvError

    try:
        gymnasium.spec(name)
    except gymnasium.error.Error as error:
        raise UnknownEnvError(f"gym:{name}: {error}") from error


def reward_threshold(name: str) -> float | None:
    import gymnasium

    return gymnasium.spec(name).reward_threshold
