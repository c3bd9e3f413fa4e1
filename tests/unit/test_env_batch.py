"""EnvBatch: same-step autoreset, terminated vs truncated, final observations."""

import gymnasium
import numpy as np

from seedrl.envs.batch import EnvBatch, GymnasiumEnvs
from seedrl.envs.describe import env_spec
from seedrl.envs.registry import make_env, reward_threshold


def short_cartpoles(count, max_steps):
    envs = []
    for i in range(count):
        env = gymnasium.make("CartPole-v1", max_episode_steps=max_steps)
        env.reset(seed=i)
        envs.append(env)
    return EnvBatch(GymnasiumEnvs(envs))


def test_truncated_envs_report_their_final_observation_and_restart_in_the_same_step():
    batch = short_cartpoles(3, max_steps=3)
    first = batch.reset()
    assert first.observations.shape == (3, 4) and not first.terminated.any()
    last_obs = first.observations
    for _ in range(2):
        result = batch.step(np.zeros(3, np.int64))
        assert not result.truncated.any()
        last_obs = result.observations
    result = batch.step(np.zeros(3, np.int64))  # third step hits the time limit
    assert result.truncated.all() and not result.terminated.any()
    np.testing.assert_array_equal(result.final_indices, [0, 1, 2])
    assert not np.allclose(result.final_observations, last_obs)  # the real final state, one step on
    assert np.abs(result.observations).max() <= 0.05  # fresh episodes start near the origin
    np.testing.assert_array_equal(result.episode_returns, [3.0, 3.0, 3.0])


def test_terminated_envs_have_no_final_observation():
    batch = short_cartpoles(2, max_steps=500)
    batch.reset()
    for _ in range(200):  # always pushing left topples the pole well before the limit
        result = batch.step(np.zeros(2, np.int64))
        if result.terminated.any():
            break
    assert result.terminated.any() and not result.truncated.any()
    assert len(result.final_indices) == 0 and result.final_observations.shape == (0, 4)


def test_the_registry_makes_envs_and_specs_by_family_name():
    env, frames_per_step = make_env("gym:CartPole-v1", seed=1)
    assert frames_per_step == 1 and env.observation_space.shape == (4,)
    spec = env_spec("gym:CartPole-v1")
    assert spec.action_space.n == 2 and spec.env_id == "gym:CartPole-v1"
    assert reward_threshold("gym:CartPole-v1") == 475.0
    for bad in ("CartPole-v1", "nope:CartPole-v1", "gym:NoSuchEnv-v0"):
        try:
            make_env(bad)
        except ValueError as error:
            assert bad.split(":")[-1] in str(error) or "family" in str(error)
        else:
            raise AssertionError(f"{bad} was accepted")
