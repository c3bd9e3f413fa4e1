"""`EnvOptions`: per-family environment settings (the spec's `env_options` field).

Every field defaults to None, meaning "the family's default" (docs/environments.md lists
them). Setting a field that the env's family does not read is an error, so a typo'd
experiment fails at validation rather than silently training on something else.
Imports nothing heavy: the controller validates specs without any environment installed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Backend = Literal["auto", "envpool", "ale", "gfootball"]
FootballRewards = Literal["scoring", "scoring,checkpoints"]


class EnvOptions(BaseModel):
    """Settings of the environment family; None keeps the family's default."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    backend: Backend | None = Field(
        None,
        description="Implementation: auto (envpool when installed, else the Python one), envpool, ale (atari) "
                    "or gfootball (football).",
    )
    frame_stack: int | None = Field(
        None, ge=1, le=32,
        description="Stack the last N observations along the last axis (actor side). Default 4 for atari and "
                    "football, 1 otherwise.",
    )
    sticky_actions: bool | None = Field(
        None, description="atari: repeat the previous action with probability 0.25 (default false, as SEED)."
    )
    full_action_space: bool | None = Field(None, description="atari: all 18 actions instead of the game's minimal set.")
    noop_max: int | None = Field(None, ge=0, le=1000, description="atari: up to N no-op actions at reset (default 30).")
    max_episode_frames: int | None = Field(
        None, ge=4, le=10**7, description="atari: truncate episodes after this many emulator frames (default 108000)."
    )
    rewards: FootballRewards | None = Field(
        None, description="football: scoring, or scoring,checkpoints (gfootball backend only; default scoring)."
    )
    action_repeat: int | None = Field(None, ge=1, le=100, description="dmlab: frames per agent step (default 4).")
    level_cache_dir: str | None = Field(
        None, min_length=1, max_length=1000,
        description="dmlab: compiled-level cache shared across experiments; a local path or a gs:// bucket path.",
    )

    def given(self) -> set[str]:
        """Names of the options set (not None)."""
        return {name for name, value in self if value is not None}


# The options each family reads; `backend` values each family accepts.
FAMILY_OPTIONS: dict[str, frozenset[str]] = {
    "gym": frozenset({"frame_stack"}),
    "atari": frozenset({"backend", "frame_stack", "sticky_actions", "full_action_space", "noop_max", "max_episode_frames"}),
    "mujoco": frozenset({"frame_stack"}),
    "football": frozenset({"backend", "frame_stack", "rewards"}),
    "dmlab": frozenset({"frame_stack", "action_repeat", "level_cache_dir"}),
    "custom": frozenset({"frame_stack"}),
}
FAMILY_BACKENDS: dict[str, frozenset[str]] = {
    "atari": frozenset({"auto", "envpool", "ale"}),
    "football": frozenset({"auto", "envpool", "gfootball"}),
}


def check_options(family: str, options: EnvOptions) -> None:
    """Raise ValueError if `options` sets something the family does not read."""
    unknown = options.given() - FAMILY_OPTIONS[family]
    if unknown:
        readable = ", ".join(sorted(FAMILY_OPTIONS[family])) or "none"
        raise ValueError(f"{', '.join(sorted(unknown))} not read by the {family} family (it reads: {readable})")
    if options.backend is not None and options.backend not in FAMILY_BACKENDS[family]:
        raise ValueError(f"backend {options.backend!r} is not one of the {family} family's: {sorted(FAMILY_BACKENDS[family])}")
    if options.backend == "envpool" and options.rewards == "scoring,checkpoints":
        raise ValueError("the envpool football backend gives scoring rewards only; use backend gfootball (or auto)")
