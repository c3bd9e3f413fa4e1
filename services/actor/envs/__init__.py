"""Environments by name: `family:id` (e.g. `gym:CartPole-v1`) -> a Gymnasium env.

Families register a factory by import path, so a family's heavy dependencies load
only when one of its environments is made.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from seedrl.common.spaces import EnvSpec, space_from_gymnasium

# family -> module. Each module defines `make(name, seed) -> (env, frames_per_step)`,
# `check(name)` (raises UnknownEnvError for names it does not know) and
# `reward_threshold(name) -> float | None`.
FAMILIES: dict[str, str] = {
    "gym": "seedrl.actor.envs.gym",
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


def _family(family: str) -> ModuleType:
    return importlib.import_module(FAMILIES[family])


def check_env_id(env_id: str) -> None:
    """Raise UnknownEnvError unless `env_id` names an environment that can be made here.

    Only the family is checked when the family's package is not installed (e.g. in a
    controller image without environments): the actors then report unknown names.
    """
    family, name = split_env_id(env_id)
    try:
        module = _family(family)
    except ImportError:
        return
    module.check(name)


def make_env(env_id: str, seed: int | None = None) -> tuple[Any, int]:
    """Make one environment; returns (gymnasium env, frames per agent step)."""
    family, name = split_env_id(env_id)
    return _family(family).make(name, seed)


def reward_threshold(env_id: str) -> float | None:
    """The return at which `env_id` counts as solved, where its family defines one."""
    family, name = split_env_id(env_id)
    return _family(family).reward_threshold(name)


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
