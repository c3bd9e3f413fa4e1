"""Custom environments: `module.path:callable`, a factory returning a Gymnasium env.

Allowed only when the operator sets SEEDRL_ALLOW_CUSTOM_ENVS=1 (the registry refuses the
id otherwise): making one imports and runs that module's code. The factory is called with
no arguments; the env is seeded through `reset(seed=)`. Dict, Tuple, MultiDiscrete and
MultiBinary observations are flattened as for the `gym` family.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from seedrl.spec.env import EnvOptions, UnknownEnvError

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
FACTORY_PATTERN = re.compile(rf"^{IDENTIFIER}(\.{IDENTIFIER})*:{IDENTIFIER}$")


def _split(env_id: str) -> tuple[str, str]:

    if not FACTORY_PATTERN.match(env_id):
        raise UnknownEnvError(f"custom env {env_id!r} is not of the form module.path:callable")
    module, _, factory = env_id.partition(":")
    return module, factory


def make(env_id: str, seed: int | None, options: EnvOptions, render_mode: str | None = None) -> tuple[Any, int]:
    from seedrl.envs.wrappers import flatten_structured_observations, joint_multi_discrete_actions

    module_name, factory_name = _split(env_id)
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as error:
        raise UnknownEnvError(f"custom env {env_id}: {error}") from error
    env = factory(render_mode=render_mode) if render_mode else factory()
    for attribute in ("reset", "step", "observation_space", "action_space"):
        if not hasattr(env, attribute):
            raise UnknownEnvError(f"custom env {env_id}: the factory returned {type(env).__name__}, not a Gymnasium env")
    env = joint_multi_discrete_actions(flatten_structured_observations(env))
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env, 1


def check(env_id: str) -> None:
    """The id's form only: validating a spec never imports (runs) the custom module."""
    _split(env_id)


def reward_threshold(env_id: str) -> float | None:
    return None
