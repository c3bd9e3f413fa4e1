"""The `dmlab` family: DeepMind Lab levels, e.g. `dmlab:explore_goal_locations_small`.

A DMLab-30 name maps to `contributed/dmlab30/<name>`; any other name is passed to
DeepMind Lab as a level path (`dmlab:seekavoid_arena_01`, `dmlab:contributed/dmlab30/...`).
`deepmind_lab` is built from source (docs/environments.md); untested against the real
library (dmlab_env.py).
"""

from __future__ import annotations

from typing import Any

from seedrl.envs.errors import MissingEnvPackage
from seedrl.spec.env import EnvOptions

DEFAULT_ACTION_REPEAT = 4
DMLAB30 = frozenset({
    "rooms_collect_good_objects_train", "rooms_exploit_deferred_effects_train", "rooms_select_nonmatching_object",
    "rooms_watermaze", "rooms_keys_doors_puzzle", "language_select_described_object",
    "language_select_located_object", "language_execute_random_task", "language_answer_quantitative_question",
    "lasertag_one_opponent_small", "lasertag_three_opponents_small", "lasertag_one_opponent_large",
    "lasertag_three_opponents_large", "natlab_fixed_large_map", "natlab_varying_map_regrowth",
    "natlab_varying_map_randomized", "skymaze_irreversible_path_hard", "skymaze_irreversible_path_varied",
    "psychlab_arbitrary_visuomotor_mapping", "psychlab_continuous_recognition", "psychlab_sequential_comparison",
    "psychlab_visual_search", "explore_object_locations_small", "explore_object_locations_large",
    "explore_obstructed_goals_small", "explore_obstructed_goals_large", "explore_goal_locations_small",
    "explore_goal_locations_large", "explore_object_rewards_few", "explore_object_rewards_many",
})
INSTALL = (
    "DeepMind Lab is not on PyPI: build its Python package from https://github.com/google-deepmind/lab "
    "(bazel build -c opt //python/pip_package:build_pip_package, then pip install the wheel), "
    "as docs/environments.md describes"
)


def level_path(name: str) -> str:
    """The level DeepMind Lab loads for `dmlab:<name>`."""
    return f"contributed/dmlab30/{name}" if name in DMLAB30 else name


def _require_lab() -> None:
    from importlib.util import find_spec


    if find_spec("deepmind_lab") is None:
        raise MissingEnvPackage(f"dmlab environments need the deepmind_lab module. {INSTALL}")


def make(name: str, seed: int | None, options: EnvOptions, render_mode: str | None = None) -> tuple[Any, int]:
    from seedrl.envs.dmlab_env import DMLabEnv, LevelCache

    _require_lab()
    cache = LevelCache(options.level_cache_dir) if options.level_cache_dir else None
    action_repeat = options.action_repeat or DEFAULT_ACTION_REPEAT
    env = DMLabEnv(level_path(name), action_repeat, cache, render_mode=render_mode)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env, action_repeat


def check(name: str) -> None:
    _require_lab()


def reward_threshold(name: str) -> float | None:
    return None
