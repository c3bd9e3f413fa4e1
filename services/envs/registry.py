"""Environments by name: `family:id` (e.g. `gym:CartPole-v1`, `atari:Pong`) -> Gymnasium envs.

Each family is a module found by import path, so a family's heavy dependencies load only when
one of its environments is made. Env ids and their grammar are the spec's (`seedrl.spec.env`).
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any

from seedrl.spec.env import (
    CUSTOM, FAMILIES, FAMILY_ACTIONS, ActionKind, EnvOptions, UnknownEnvError, check_options, split_env_id,
)

# family -> module. Each module defines
#   make(name, seed, options, render_mode=None) -> (gymnasium env, frames_per_step)   one env
#   check(name)                  raises UnknownEnvError for names it does not know
#   reward_threshold(name)       -> float | None
# and may define
#   FRAME_STACK: int             observations stacked by default (1 when absent)
#   make_vector(name, num_envs, seed, options) -> VectorBackend | None   a vectorised implementation
FAMILY_MODULES: dict[str, str] = {family: f"seedrl.envs.{family}" for family in (*FAMILIES, CUSTOM)}


def family_module(family: str) -> ModuleType:
    return importlib.import_module(FAMILY_MODULES[family])


def check_env_id(env_id: str, options: EnvOptions | None = None) -> None:
    """Raise UnknownEnvError unless `env_id` (with `options`) names an environment that can be made.

    Only the family and options are checked when the family's package is not installed
    (e.g. in a controller image without environments): the actors then report unknown names.
    """
    family, name = split_env_id(env_id)
    if options is not None:
        try:
            check_options(family, options)
        except ValueError as error:
            raise UnknownEnvError(f"{env_id}: {error}") from None
    try:
        module = family_module(family)
        module.check(name)
    except ImportError:
        return


def frame_stack(env_id: str, options: EnvOptions | None = None) -> int:
    """How many observations the actors stack for `env_id`."""
    if options is not None and options.frame_stack is not None:
        return options.frame_stack
    return getattr(family_module(split_env_id(env_id)[0]), "FRAME_STACK", 1)


def make_env(
    env_id: str, seed: int | None = None, options: EnvOptions | None = None, render_mode: str | None = None
) -> tuple[Any, int]:
    """Make one environment, without frame stacking; returns (gymnasium env, frames per agent step)."""
    family, name = split_env_id(env_id)
    return family_module(family).make(name, seed, options or EnvOptions(), render_mode=render_mode)


def make_vector(env_id: str, num_envs: int, seed: int, options: EnvOptions | None = None) -> Any | None:
    """A vectorised implementation of `num_envs` copies (a VectorBackend), or None where the family has none."""
    family, name = split_env_id(env_id)
    module = family_module(family)
    if not hasattr(module, "make_vector"):
        return None
    return module.make_vector(name, num_envs, seed, options or EnvOptions())


def action_kind(env_id: str, options: EnvOptions | None = None) -> ActionKind | None:
    """Whether `env_id`'s actions are discrete or continuous; None where that cannot be known here
    (custom factories, whose code is not run to validate a spec, or a family's package missing)."""
    family, name = split_env_id(env_id)
    if family == CUSTOM:
        return None
    try:
        return FAMILY_ACTIONS.get(family) or _made_action_kind(env_id, (options or EnvOptions()).model_dump_json())
    except ImportError:
        return None


@functools.lru_cache(maxsize=256)
def _made_action_kind(env_id: str, options_json: str) -> ActionKind:
    """The action kind read off one made env (cached: specs are validated often)."""
    from gymnasium import spaces

    env, _ = make_env(env_id, options=EnvOptions.model_validate_json(options_json))
    try:
        return "continuous" if isinstance(env.action_space, spaces.Box) else "discrete"
    finally:
        env.close()


def reward_threshold(env_id: str) -> float | None:
    """The return at which `env_id` counts as solved, where its family defines one."""
    family, name = split_env_id(env_id)
    return family_module(family).reward_threshold(name)
