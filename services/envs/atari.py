"""The `atari` family: Atari 2600 games through the Arcade Learning Environment, e.g. `atari:Pong`.

SEED RL's preprocessing: up to 30 no-op actions at reset (envpool: 0 to 30, ale: 1 to 30), frame skip 4 with a max-pool
over the last two frames, grayscale 84x84, no terminal on life loss, episodes truncated
after 108,000 emulator frames, optional sticky actions (0.25) and full action space;
4 frames stacked by the actors. Rewards are not clipped here (the agent's
`reward_clipping` does it). Observations: uint8 [84, 84, 1] per frame, [84, 84, 4] stacked.

Two implementations with the same observations and episode semantics: envpool
(vectorised C++, used when installed) and ale-py with Gymnasium's AtariPreprocessing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seedrl.envs.errors import MissingEnvPackage
from seedrl.spec.env import EnvOptions, UnknownEnvError

FRAME_STACK = 4
FRAME_SKIP = 4
SCREEN_SIZE = 84
STICKY_ACTION_PROBABILITY = 0.25
DEFAULT_NOOP_MAX = 30
DEFAULT_MAX_EPISODE_FRAMES = 108_000
INSTALL = "pip install 'seedrl[atari]'"


def _settings(options: EnvOptions) -> tuple[float, bool, int, int]:
    """(repeat_action_probability, full_action_space, noop_max, max_episode_steps)."""
    sticky = STICKY_ACTION_PROBABILITY if options.sticky_actions else 0.0
    noop_max = DEFAULT_NOOP_MAX if options.noop_max is None else options.noop_max
    frames = options.max_episode_frames or DEFAULT_MAX_EPISODE_FRAMES
    return sticky, bool(options.full_action_space), noop_max, frames // FRAME_SKIP


def _ale_id(name: str) -> str:
    return f"ALE/{name}-v5"


def _import_ale() -> Any:

    try:
        import ale_py
        import gymnasium
    except ImportError as error:
        raise MissingEnvPackage(f"atari environments need ale-py: {INSTALL}") from error
    gymnasium.register_envs(ale_py)
    return gymnasium


def make(name: str, seed: int | None, options: EnvOptions, render_mode: str | None = None) -> tuple[Any, int]:
    """One ALE env with SEED's preprocessing (unstacked frames [84, 84, 1])."""

    gymnasium = _import_ale()
    from gymnasium.wrappers import AtariPreprocessing, TimeLimit

    sticky, full_action_space, noop_max, max_steps = _settings(options)
    try:
        env = gymnasium.make(
            _ale_id(name), frameskip=1, repeat_action_probability=sticky, full_action_space=full_action_space,
            render_mode=render_mode, max_num_frames_per_episode=0,  # no ALE limit: the TimeLimit below truncates (as envpool counts)
        )
    except gymnasium.error.Error as error:
        raise UnknownEnvError(f"atari:{name}: {error}") from error
    env = AtariPreprocessing(
        env, noop_max=noop_max, frame_skip=FRAME_SKIP, screen_size=SCREEN_SIZE, terminal_on_life_loss=False,
        grayscale_obs=True, grayscale_newaxis=True, scale_obs=False,
    )
    env = TimeLimit(env, max_episode_steps=max_steps)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env, FRAME_SKIP


def make_vector(name: str, num_envs: int, seed: int, options: EnvOptions) -> Any | None:
    """`num_envs` envpool Atari envs, or None when envpool is not installed (or not asked for)."""
    from seedrl.envs.envpool_backend import EnvpoolBackend, envpool_installed

    backend = options.backend or "auto"
    if backend == "ale" or (backend == "auto" and not envpool_installed()):
        return None
    if not envpool_installed():
        raise MissingEnvPackage(f"backend envpool needs envpool: {INSTALL}")
    import envpool
    from gymnasium import spaces

    if f"{name}-v5" not in envpool.list_all_envs():
        if backend == "auto":
            return None
        raise UnknownEnvError(f"atari:{name}: envpool has no {name}-v5; use backend ale")
    sticky, full_action_space, noop_max, max_steps = _settings(options)
    env = envpool.make_gymnasium(
        f"{name}-v5", num_envs=num_envs, batch_size=num_envs, seed=seed, stack_num=1, frame_skip=FRAME_SKIP,
        noop_max=noop_max + 1,  # envpool draws 0..noop_max-1 no-ops (and crashes at 0); ALE's path 1..noop_max
        img_height=SCREEN_SIZE, img_width=SCREEN_SIZE, gray_scale=True, episodic_life=False,
        zero_discount_on_life_loss=False, reward_clip=False, use_fire_reset=False, use_inter_area_resize=True,
        repeat_action_probability=sticky, full_action_space=full_action_space, max_episode_steps=max_steps,
    )
    space = spaces.Box(0, 255, (SCREEN_SIZE, SCREEN_SIZE, 1), np.uint8)
    # envpool gives [N, 1, 84, 84]: the same bytes as [N, 84, 84, 1].
    return EnvpoolBackend(env, space, lambda frames: frames.reshape(len(frames), *space.shape), FRAME_SKIP)


def check(name: str) -> None:

    gymnasium = _import_ale()
    try:
        gymnasium.spec(_ale_id(name))
    except gymnasium.error.Error:
        raise UnknownEnvError(
            f"atari:{name}: no such game; games are named as in ALE/<Game>-v5, e.g. atari:Pong, atari:Breakout"
        ) from None


def reward_threshold(name: str) -> float | None:
    return None
