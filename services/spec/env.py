"""What a spec can say about its environment: env ids, the families, and their options.

An env is named `family:id` (`gym:CartPole-v1`, `atari:Pong`), or `module.path:callable` for a
custom factory, allowed only when the operator sets SEEDRL_ALLOW_CUSTOM_ENVS=1 (it runs arbitrary
code in every process). `EnvOptions` are per-family settings (the spec's `env_options` field): every
field defaults to None, meaning "the family's default" (docs/environments.md lists them), and setting
a field that the env's family does not read is an error, so a typo'd experiment fails at validation
rather than silently training on something else.

Imports nothing heavy: the controller validates specs without any environment installed. What needs
an env's package (is `gym:Foo-v9` registered? are its actions discrete?) is asked of an
`EnvCatalogue` passed in the validation context (`seedrl.envs.catalogue` is the installed one);
without one, the checks below use what the family names alone tell.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal, Mapping, Protocol

from pydantic import Field

from seedrl.spec.base import SpecModel

FAMILIES = ("gym", "atari", "mujoco", "football", "dmlab")
CUSTOM = "custom"
ALLOW_CUSTOM_ENVS = "SEEDRL_ALLOW_CUSTOM_ENVS"
# Roots (comma-separated local folders or URLs) under which an operator lets dmlab's level cache live.
LEVEL_CACHE_ROOTS = "SEEDRL_LEVEL_CACHE_ROOTS"

# The names a family reaches files with follow its grammar: a DeepMind Lab level is a path of words
# under Lab's level folders (`seekavoid_arena_01`, `contributed/dmlab30/rooms_watermaze`), never `..`.
NAME_GRAMMARS: dict[str, tuple[re.Pattern[str], str]] = {
    "dmlab": (re.compile(r"^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*$"),
              "a DeepMind Lab level name: words of letters, digits and '_' joined by '/'"),
}

ActionKind = Literal["discrete", "continuous"]
# The action kind of every env of a family, where the family alone decides it (gym and custom envs
# must be made to find out).
FAMILY_ACTIONS: dict[str, ActionKind] = {
    "atari": "discrete", "mujoco": "continuous", "football": "discrete", "dmlab": "discrete",
}


class UnknownEnvError(ValueError):
    """The env id names no registered family, or the family does not know the name."""


def custom_envs_allowed() -> bool:
    return os.environ.get(ALLOW_CUSTOM_ENVS) == "1"


def split_env_id(env_id: str) -> tuple[str, str]:
    """(family, name); custom factories give ("custom", "module.path:callable")."""
    prefix, sep, name = env_id.partition(":")
    if not sep or not name:
        raise UnknownEnvError(f"env id {env_id!r} is not of the form family:name (e.g. gym:CartPole-v1)")
    if prefix in FAMILIES:
        grammar = NAME_GRAMMARS.get(prefix)
        if grammar is not None and not grammar[0].match(name):
            raise UnknownEnvError(f"env id {env_id!r}: {name!r} is not {grammar[1]}")
        return prefix, name
    if custom_envs_allowed():
        return CUSTOM, env_id
    raise UnknownEnvError(
        f"env family {prefix!r} is unknown; known: {sorted(FAMILIES)}. Custom `module:callable` environments "
        f"run arbitrary code and are allowed only when the operator sets {ALLOW_CUSTOM_ENVS}=1"
    )

Backend = Literal["auto", "envpool", "ale", "gfootball"]
FootballRewards = Literal["scoring", "scoring,checkpoints"]


class EnvOptions(SpecModel):
    """Settings of the environment family; None keeps the family's default."""

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
        description="dmlab: compiled-level cache. In an experiment: a relative path (a folder of the actors' "
                    "working directory), or a folder or URL (gs://...) under one of the roots the operator lists "
                    f"in {LEVEL_CACHE_ROOTS}.",
    )

    def given(self) -> set[str]:
        """Names of the options set (not None)."""
        return {name for name, value in self if value is not None}


_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def level_cache_roots() -> list[str]:
    """The level cache roots the operator allows (LEVEL_CACHE_ROOTS), without trailing slashes."""
    return [root.strip().rstrip("/") for root in os.environ.get(LEVEL_CACHE_ROOTS, "").split(",") if root.strip()]


def check_level_cache(location: str, roots: list[str]) -> None:
    """Raise ValueError unless `location` is a plain relative path or lies under one of `roots`.

    A relative path is words joined by '/' (no `..`, no scheme); anything else (an absolute path,
    a URL) must be one of `roots` or below it, and may not climb out of it with `..`.
    """
    scheme, sep, rest = location.partition("://")
    segments = (rest if sep else location).split("/")
    if sep and not scheme.isalnum():
        raise ValueError(f"level_cache_dir {location!r} is not a folder or a URL")
    if not sep and not location.startswith("/") and all(_PLAIN_SEGMENT.match(part) for part in segments):
        return
    climbs = any(part in (".", "..") for part in segments[1 if location.startswith("/") else 0:])
    inside = any(location.rstrip("/") == root or location.startswith(f"{root}/") for root in roots)
    if climbs or not inside:
        allowed = ", ".join(roots) if roots else "none set"
        raise ValueError(
            f"level_cache_dir {location!r} is outside the allowed level caches: use a relative folder, or one under "
            f"a root the operator lists in {LEVEL_CACHE_ROOTS} (now: {allowed})"
        )


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


class EnvCatalogue(Protocol):
    """What spec validation asks about environments beyond their ids' grammar."""

    def check(self, env_id: str) -> None:
        """Raise UnknownEnvError unless `env_id` names an environment that can be made."""

    def action_kind(self, env_id: str, options: EnvOptions) -> ActionKind | None:
        """Whether `env_id`'s actions are discrete or continuous; None where that cannot be known."""


class FamilyCatalogue:
    """The `EnvCatalogue` of the family names alone: no env package is imported."""

    def check(self, env_id: str) -> None:
        split_env_id(env_id)

    def action_kind(self, env_id: str, options: EnvOptions) -> ActionKind | None:
        return FAMILY_ACTIONS.get(split_env_id(env_id)[0])


# The validation context's key for the catalogue: `Model.model_validate(data, context={ENV_CATALOGUE: ...})`.
ENV_CATALOGUE = "env_catalogue"


def catalogue_in(context: Mapping[str, Any] | None) -> EnvCatalogue:
    """The catalogue a validation context carries, else the family names' own."""
    return (context or {}).get(ENV_CATALOGUE) or FamilyCatalogue()
