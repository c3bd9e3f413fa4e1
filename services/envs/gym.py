"""The `gym` family: any environment registered with Gymnasium, e.g. `gym:CartPole-v1`.

Dict, Tuple, MultiDiscrete and MultiBinary observations are flattened into one Box; MultiDiscrete
actions become one Discrete of all their combinations.
"""

from __future__ import annotations

from typing import Any

from seedrl.spec.env import EnvOptions, UnknownEnvError

# Gymnasium's env packages (the module its entry point lives in) -> the extra that installs their dependencies.
EXTRAS = {"gymnasium.envs.box2d": "box2d", "gymnasium.envs.mujoco": "mujoco"}


def make(name: str, seed: int | None, options: EnvOptions, render_mode: str | None = None) -> tuple[Any, int]:
    import gymnasium

    from seedrl.envs.wrappers import flatten_structured_observations, joint_multi_discrete_actions

    try:
        env = gymnasium.make(name, render_mode=render_mode)
    except gymnasium.error.DependencyNotInstalled as error:
        # Gymnasium is here, so the actors that would run this env are too: refuse the spec, naming the extra.
        raise UnknownEnvError(f"gym:{name} needs a package that is not installed ({error}); "
                              f"install `seedrl[{extra_for(name)}]`, or `seedrl[all]` for every family") from error
    except gymnasium.error.Error as error:
        raise UnknownEnvError(f"gym:{name}: {error}") from error
    env = joint_multi_discrete_actions(flatten_structured_observations(env))
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env, 1


def extra_for(name: str) -> str:
    """The extra of this project that installs what the registered env `name` needs ("all" if none is known)."""
    import gymnasium

    entry_point = str(gymnasium.spec(name).entry_point)
    return next((extra for package, extra in EXTRAS.items() if entry_point.startswith(f"{package}.")), "all")


def check(name: str) -> None:
    import gymnasium


    try:
        gymnasium.spec(name)
    except gymnasium.error.Error as error:
        raise UnknownEnvError(f"gym:{name}: {error}") from error


def reward_threshold(name: str) -> float | None:
    import gymnasium

    return gymnasium.spec(name).reward_threshold
