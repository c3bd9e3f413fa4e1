"""Env families other than Atari and DeepMind Lab: MuJoCo, Football (envpool, and the gfootball
package where it is built), any Gymnasium env, custom `module:callable` factories behind the
operator's switch, and per-family options."""

import importlib.util

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pydantic import ValidationError

from seedrl.envs.batch import EnvBatch
from seedrl.envs.describe import env_spec
from seedrl.envs.registry import check_env_id, make_env
from seedrl.spec.env import ALLOW_CUSTOM_ENVS, UnknownEnvError
from seedrl.spec.env import EnvOptions
from seedrl.common.spaces import BoxSpace, DiscreteSpace
from seedrl.spec.experiment import ExperimentSpec, LearningSpec


def test_mujoco_gives_float32_observations_and_actions_in_minus_one_one():
    env, _ = make_env("mujoco:HalfCheetah-v5", seed=0)
    check_env(env, skip_render_check=True)
    spec = env_spec("mujoco:HalfCheetah-v5")
    assert isinstance(spec.action_space, BoxSpace) and spec.action_space.dtype == "float32"
    assert spec.action_space.shape == (6,)
    np.testing.assert_array_equal(spec.action_space.low, -1.0)
    np.testing.assert_array_equal(spec.action_space.high, 1.0)
    assert spec.observation_space.dtype == "float32" and spec.observation_space.shape == (17,)
    batch = EnvBatch.make("mujoco:HalfCheetah-v5", 2, seed=0)
    batch.reset()
    result = batch.step(np.ones((2, 6), np.float32))
    assert result.observations.dtype == np.float32 and result.rewards.shape == (2,)
    with pytest.raises(UnknownEnvError, match="MuJoCo"):
        check_env_id("mujoco:CartPole-v1")


def test_football_through_envpool_stacks_four_super_mini_maps_and_ends_episodes():
    spec = env_spec("football:academy_empty_goal_close")
    assert spec.observation_space.shape == (72, 96, 16) and spec.observation_space.dtype == "uint8"
    assert spec.action_space == DiscreteSpace(19)
    batch = EnvBatch.make("football:academy_empty_goal_close", 2, seed=0)
    first = batch.reset().observations
    assert first.shape == (2, 72, 96, 16) and first.any()
    returns = []
    for _ in range(450):  # the scenario lasts at most 400 steps
        result = batch.step(np.full(2, 5))  # 5: run right, towards the empty goal
        returns += result.episode_returns.tolist()
    assert len(returns) >= 2 and all(r in (0.0, 1.0) for r in returns)
    with pytest.raises(UnknownEnvError, match="academy_empty_goal_close"):
        check_env_id("football:no_such_scenario")


GFOOTBALL = pytest.mark.skipif(
    importlib.util.find_spec("gfootball") is None,
    reason="the gfootball package builds from source with apt libraries (docs/environments.md); CI runs "
           "Football through envpool",
)


@GFOOTBALL
def test_football_through_gfootball_serves_envpools_spec_and_scores():
    """The real gfootball package: Gymnasium's checks, the same spec as envpool, goals scored running right,
    and `scoring,checkpoints` adding the checkpoint rewards on the way."""
    gfootball = EnvOptions(backend="gfootball")
    env, frames_per_step = make_env("football:academy_empty_goal_close", seed=0, options=gfootball)
    check_env(env, skip_render_check=True)
    assert frames_per_step == 1
    envpool = env_spec("football:academy_empty_goal_close")
    assert env_spec("football:academy_empty_goal_close", gfootball).differences(envpool) == []
    for rewards, highest in (("scoring", 1.0), ("scoring,checkpoints", 2.0)):
        options = EnvOptions(backend="gfootball", rewards=rewards)
        batch = EnvBatch.make("football:academy_empty_goal_close", 2, seed=0, options=options)
        assert batch.reset().observations.shape == (2, 72, 96, 16)
        returns = []
        for _ in range(450):  # the scenario lasts at most 400 steps
            returns += batch.step(np.full(2, 5)).episode_returns.tolist()  # 5: run right, towards the goal
        assert len(returns) >= 2 and max(returns) > 0 and all(0 <= r <= highest + 1e-6 for r in returns), returns
        if rewards == "scoring,checkpoints":
            assert max(returns) > 1.0, "checkpoint rewards are paid on the way to the goal"


def test_gymnasium_envs_with_structured_observations_are_flattened():
    env, _ = make_env("gym:Blackjack-v1", seed=0)  # Tuple(Discrete(32), Discrete(11), Discrete(2))
    check_env(env, skip_render_check=True)
    spec = env_spec("gym:Blackjack-v1")
    assert isinstance(spec.observation_space, BoxSpace) and spec.observation_space.shape == (45,)  # one-hot parts
    observation = EnvBatch.make("gym:Blackjack-v1", 3, seed=0).reset().observations
    np.testing.assert_array_equal(observation.sum(axis=1), 3)  # one hot per part


def test_frame_stack_is_an_option_of_any_family():
    stacked = env_spec("gym:CartPole-v1", EnvOptions(frame_stack=3))
    assert stacked.observation_space.shape == (12,)
    unstacked = env_spec("atari:Pong", EnvOptions(frame_stack=1))
    assert unstacked.observation_space.shape == (84, 84, 1)


def test_custom_factories_need_the_operator_switch(monkeypatch):
    monkeypatch.delenv(ALLOW_CUSTOM_ENVS, raising=False)
    with pytest.raises(UnknownEnvError, match=ALLOW_CUSTOM_ENVS):
        make_env("tests.unit.custom_envs:cartpole")
    with pytest.raises(ValidationError) as error:
        LearningSpec(env="tests.unit.custom_envs:cartpole")
    assert error.value.errors()[0]["loc"] == ("env",) and ALLOW_CUSTOM_ENVS in str(error.value)

    monkeypatch.setenv(ALLOW_CUSTOM_ENVS, "1")
    assert LearningSpec(env="tests.unit.custom_envs:cartpole").env == "tests.unit.custom_envs:cartpole"
    spec = env_spec("tests.unit.custom_envs:cartpole")
    assert spec.action_space == DiscreteSpace(2) and spec.observation_space.shape == (4,)
    for bad, reason in (("tests.unit.custom_envs:nothing_here", "nothing_here"), ("tests.unit.custom_envs:not_an_env", "not a Gymnasium env")):
        with pytest.raises(UnknownEnvError, match=reason):
            make_env(bad)


def test_spaces_that_cannot_travel_are_refused_before_training(monkeypatch):
    monkeypatch.setenv(ALLOW_CUSTOM_ENVS, "1")
    with pytest.raises(TypeError, match="MultiBinary"):
        env_spec("tests.unit.custom_envs:MultiBinaryActions")


def test_multi_discrete_actions_become_one_discrete_of_all_combinations(monkeypatch):
    monkeypatch.setenv(ALLOW_CUSTOM_ENVS, "1")
    assert env_spec("tests.unit.custom_envs:multi_discrete_actions").action_space == DiscreteSpace(6)
    env, _ = make_env("tests.unit.custom_envs:multi_discrete_actions")
    env.reset(seed=0)
    # Joint action a is (a // 3, a % 3) shifted by the space's start (1, -1): every combination once.
    reached = [tuple(env.step(a)[0].astype(int)) for a in range(6)]
    assert reached == [(1 + a // 3, -1 + a % 3) for a in range(6)]
    with pytest.raises(TypeError, match="1,000,000 joint actions"):
        env_spec("tests.unit.custom_envs:huge_multi_discrete_actions")


def test_options_a_family_does_not_read_are_refused_naming_the_field():
    with pytest.raises(ValidationError) as error:
        LearningSpec(env="gym:CartPole-v1", env_options={"sticky_actions": True})
    assert error.value.errors()[0]["loc"] == ("env_options",) and "sticky_actions" in str(error.value)
    with pytest.raises(ValidationError, match="backend"):
        LearningSpec(env="atari:Pong", env_options={"backend": "gfootball"})
    with pytest.raises(ValidationError, match="scoring rewards only"):
        LearningSpec(env="football:academy_empty_goal_close", env_options={"backend": "envpool", "rewards": "scoring,checkpoints"})
    spec = LearningSpec(env="atari:Pong", env_options={"sticky_actions": True, "full_action_space": True})
    assert spec.env_options.sticky_actions and spec.env_options.given() == {"sticky_actions", "full_action_space"}


def test_the_learner_and_the_actors_get_the_specs_env_options():
    from seedrl.controller.runtimes.process_configs import actor_config, learner_config
    from seedrl.spec.learner import LearnerConfig

    spec = ExperimentSpec(name="pong", env="atari:Pong", env_options={"sticky_actions": True, "frame_stack": 2})
    learner = LearnerConfig.model_validate(learner_config(spec, "runs/pong", 5555, -1, None))
    actor = actor_config(spec, "actor-0", "localhost:5555")
    assert learner.env_options == actor.env_options == spec.env_options
    assert env_spec(actor.env, actor.env_options).observation_space.shape == (84, 84, 2)


def test_box2d_envs_come_with_the_all_extra():
    """`seedrl[all]` (what the tests install) brings Gymnasium's Box2D envs."""
    spec = env_spec("gym:LunarLander-v3")
    assert spec.observation_shape == (8,) and spec.action_space == DiscreteSpace(4)


@pytest.mark.parametrize(("env_id", "extra"), [("gym:LunarLander-v3", "box2d"), ("gym:HalfCheetah-v5", "mujoco"),
                                               ("gym:CartPole-v1", "all")])
def test_a_registered_env_whose_package_is_missing_is_refused_naming_the_extra(monkeypatch, env_id, extra):
    import gymnasium

    def missing(*args, **kwargs):
        raise gymnasium.error.DependencyNotInstalled("Box2D is not installed")

    monkeypatch.setattr(gymnasium, "make", missing)
    with pytest.raises(UnknownEnvError, match=rf"install `seedrl\[{extra}\]`"):
        make_env(env_id)
