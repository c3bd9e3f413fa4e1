"""Environments by name: `family:id` (e.g. `gym:CartPole-v1`) -> a Gymnasium env.

Families register a factory by import path, so a family's heavy dependencies load
only when one of its environments is made.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from seedrl.common.spaces import EnvSpec, space_from_gymnasium

# family -> "module:function"; the function takes (name, seed) and returns (env, frames_per_step).
FAMILIES: dict[str, str] = {
    "gym": "seedrl.actor.envs.gym:make",
}


class UnknownEnvError(ValueError):
    """The env id names no registered family, or the family does not know the name."""


def split_env_id(env_id: str) -> tuple[str, str]:
    family, sep, name = env_id.partition(":")
    if not sep or not name:
        raise UnknownEnvError(f"env id {env_id!r} is not of the form family:name (e.g. gym:CartPole-v1)")
    if family not in FAMILIES:
        raise UnknownEnvError(f"env family {family!r} is unknown; known: {sorted(FAMILIES)}")
    return family, name


def _factory(family: str) -> Callable[[str, int | None], tuple[Any, int]]:
    module, _, function = FAMILIES[family].partition(":")
    return getattr(importlib.import_module(module), function)


def make_env(env_id: str, seed: int | None = None) -> tuple[Any, int]:
    """Make one environment; returns (gymnasium env, frames per agent step)."""
    family, name = split_env_id(env_id)
    return _factory(family)(name, seed)


def reward_threshold(env_id: str) -> float | None:
    """The return at which `env_id` counts as solved, where its family defines one."""
    family, name = split_env_id(env_id)
    if family == "gym":
        import gymnasium

        return gymnasium.spec(name).reward_threshold
    return None


def env_spec(env_id: str) -> EnvSpec:
    """The spec of `env_id`, read off one freshly made environment."""
    env, frames_per_step = make_env(env_id)
    try:
        return EnvSpec(
            env_id=env_id,
            observation_space=space_from_gymnasium(env.observation_space),
            action_space=space_from_gymnasium(env.action_space),
            frames_per_step=frames_per_step,
        )
    finally:
        env.close()
