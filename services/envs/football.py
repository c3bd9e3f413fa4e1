"""The `football` family: Google Research Football scenarios, e.g. `football:academy_empty_goal_close`.

SEED RL's representation: the 72x96 super mini-map (SMM, 4 uint8 planes: left team, right
team, ball, active player), 4 frames stacked by the actors (72x96x16), 19 actions.

Backends: envpool (bundles the game engine, runs offline; `scoring` rewards) is used when
installed; the `gfootball` package (built from source, docs/environments.md) also offers the
`scoring,checkpoints` reward and is used when asked for (`backend: gfootball`) or when
envpool is absent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seedrl.envs.errors import MissingEnvPackage
from seedrl.spec.env import EnvOptions, UnknownEnvError

FRAME_STACK = 4
SMM_SHAPE = (72, 96, 4)
INSTALL = (
    "pip install 'seedrl[football]' (envpool), or build gfootball as docs/environments.md describes "
    "(needed for scoring,checkpoints rewards)"
)


def _backend(options: EnvOptions) -> str:
    """envpool or gfootball, as asked and as installed."""
    from seedrl.envs.envpool_backend import envpool_installed

    backend = options.backend or "auto"
    if backend == "auto":
        if options.rewards == "scoring,checkpoints" or not envpool_installed():
            backend = "gfootball"
        else:
            backend = "envpool"
    if backend == "envpool":
        if options.rewards not in (None, "scoring"):
            raise ValueError(f"the envpool football backend gives scoring rewards only, not {options.rewards!r}; "
                             "use backend gfootball")
        if not envpool_installed():
            raise MissingEnvPackage(f"football environments need envpool: {INSTALL}")
    elif not _gfootball_installed():
        raise MissingEnvPackage(f"the gfootball backend needs the gfootball package: {INSTALL}")
    return backend


def _gfootball_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("gfootball") is not None


def make_vector(name: str, num_envs: int, seed: int, options: EnvOptions) -> Any | None:
    """`num_envs` envpool football envs, or None where the gfootball backend is used."""
    if _backend(options) != "envpool":
        return None
    import envpool
    from gymnasium import spaces

    from seedrl.envs.envpool_backend import EnvpoolBackend

    env = envpool.make_gymnasium(f"gfootball/{name}-v1", num_envs=num_envs, batch_size=num_envs, seed=seed)
    return EnvpoolBackend(env, spaces.Box(0, 255, SMM_SHAPE, np.uint8))


def make(name: str, seed: int | None, options: EnvOptions, render_mode: str | None = None) -> tuple[Any, int]:
    """One gfootball env (the envpool backend is vectorised only: see make_vector)."""
    if _backend(options) == "envpool":
        raise ValueError(f"football:{name} through envpool is vectorised only; single envs need backend gfootball")
    from seedrl.envs.gfootball import GFootballEnv

    env = GFootballEnv(name, options.rewards or "scoring", render=render_mode is not None)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env, 1


def check(name: str) -> None:
    from seedrl.envs.envpool_backend import envpool_installed

    if envpool_installed():
        import envpool

        if f"gfootball/{name}-v1" in envpool.list_all_envs():
            return
    elif _gfootball_installed():
        from importlib.util import find_spec

        if find_spec(f"gfootball.scenarios.{name}") is not None:
            return
    else:
        raise ImportError("no football backend installed")  # the actors report unknown names
    raise UnknownEnvError(
        f"football:{name}: no such scenario (e.g. football:academy_empty_goal_close, football:11_vs_11_easy_stochastic)"
    )


def reward_threshold(name: str) -> float | None:
    return None
