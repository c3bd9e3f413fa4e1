"""The DeepMind Lab adapter, driven by a stand-in for `deepmind_lab.Lab`.

DeepMind Lab installs from no registry this project can reach, so `StandInLab` below
implements the documented Python API (reset/is_running/observations/step/close) with a
scripted level; the adapter is untested against the real library.
"""

import importlib.machinery
import sys
import types

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from seedrl.envs.errors import MissingEnvPackage
from seedrl.envs.registry import make_env
from seedrl.spec.env import EnvOptions
from seedrl.envs.dmlab import DMLAB30, level_path
from seedrl.envs.dmlab_env import ACTION_SET, DMLabEnv, LevelCache


class StandInLab:
    """A stand-in for deepmind_lab.Lab: a level that ends after `length` agent steps, reward 1 per forward frame."""

    instances: list["StandInLab"] = []

    def __init__(self, level, observations, config, renderer, level_cache=None, length=5):
        self.level, self.observation_names, self.config = level, observations, config
        self.renderer, self.level_cache, self.length = renderer, level_cache, length
        self.steps, self.seeds, self.actions, self.closed = 0, [], [], False
        StandInLab.instances.append(self)

    def reset(self, seed=None):
        self.seeds.append(seed)
        self.steps = 0

    def is_running(self):
        return self.steps < self.length

    def observations(self):
        assert self.is_running(), "DeepMind Lab has no observations once the episode ended"
        height, width = int(self.config["height"]), int(self.config["width"])
        return {"RGB_INTERLEAVED": np.full((height, width, 3), self.steps, np.uint8)}

    def step(self, action, num_steps=1):
        assert action.dtype == np.intc and action.shape == (7,)
        self.actions.append((action.copy(), num_steps))
        self.steps += 1
        return float(num_steps if action[3] == 1 else 0)

    def close(self):
        self.closed = True


def test_the_adapter_speaks_deepmind_labs_api_with_seeds_settings():
    env = DMLabEnv("contributed/dmlab30/explore_goal_locations_small", action_repeat=4, lab_factory=StandInLab)
    lab = StandInLab.instances[-1]
    assert lab.observation_names == ["RGB_INTERLEAVED"] and lab.config["width"] == "96" and lab.config["height"] == "72"
    observation, _ = env.reset(seed=3)
    assert observation.shape == (72, 96, 3) and observation.dtype == np.uint8
    assert env.action_space.n == 9 and len(lab.seeds) == 1
    _, reward, terminated, truncated, _ = env.step(0)  # forward
    assert reward == 4.0 and not terminated and not truncated
    action, repeats = lab.actions[-1]
    np.testing.assert_array_equal(action, ACTION_SET[0])
    assert repeats == 4
    env.step(4)  # look left
    np.testing.assert_array_equal(lab.actions[-1][0], (-20, 0, 0, 0, 0, 0, 0))
    for _ in range(3):
        observation, _, terminated, truncated, _ = env.step(8)  # fire
    assert terminated and not truncated  # the level stopped running
    assert observation[0, 0, 0] == 4  # the last observation before the end stands for it
    env.close()
    assert lab.closed


def test_the_adapter_passes_gymnasiums_checker():
    check_env(DMLabEnv("seekavoid_arena_01", lab_factory=StandInLab), skip_render_check=True)


def test_dmlab30_names_map_to_their_level_paths():
    assert len(DMLAB30) == 30
    assert level_path("explore_goal_locations_small") == "contributed/dmlab30/explore_goal_locations_small"
    assert level_path("seekavoid_arena_01") == "seekavoid_arena_01"


def test_without_deepmind_lab_the_error_says_how_to_install_it():
    with pytest.raises(MissingEnvPackage, match="github.com/google-deepmind/lab"):
        make_env("dmlab:explore_goal_locations_small")


def test_the_family_passes_the_level_action_repeat_and_cache_to_lab(monkeypatch, tmp_path):
    stand_in = types.ModuleType("deepmind_lab")
    stand_in.__spec__ = importlib.machinery.ModuleSpec("deepmind_lab", None)
    stand_in.Lab = StandInLab
    monkeypatch.setitem(sys.modules, "deepmind_lab", stand_in)
    options = EnvOptions(action_repeat=2, level_cache_dir=str(tmp_path / "levels"))
    env, frames_per_step = make_env("dmlab:explore_goal_locations_small", seed=1, options=options)
    lab = StandInLab.instances[-1]
    assert frames_per_step == 2 and lab.level == "contributed/dmlab30/explore_goal_locations_small"
    assert isinstance(lab.level_cache, LevelCache) and (tmp_path / "levels").is_dir()
    env.step(0)
    assert lab.actions[-1][1] == 2


@pytest.mark.parametrize("root", ["local", "memory://dmlab-cache"])
def test_the_level_cache_shares_compiled_levels_between_runs(tmp_path, root):
    cache = LevelCache(str(tmp_path / "cache") if root == "local" else root)
    compiled = tmp_path / "compiled.pk3"
    compiled.write_bytes(b"level bytes")
    fetched = tmp_path / "fetched.pk3"
    assert not cache.fetch("key-1", str(fetched))
    cache.write("key-1", str(compiled))
    assert cache.fetch("key-1", str(fetched)) and fetched.read_bytes() == b"level bytes"
    compiled.write_bytes(b"other bytes")
    cache.write("key-1", str(compiled))  # the first writer wins
    other_run = LevelCache(str(tmp_path / "cache") if root == "local" else root)
    assert other_run.fetch("key-1", str(fetched)) and fetched.read_bytes() == b"level bytes"
