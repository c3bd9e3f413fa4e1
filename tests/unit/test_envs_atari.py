"""The atari family: SEED's preprocessing, and the ALE and envpool backends agreeing on what the learner sees."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from seedrl.envs.batch import EnvBatch
from seedrl.envs.registry import check_env_id, make_env
from seedrl.spec.env import UnknownEnvError
from seedrl.spec.env import EnvOptions

BACKENDS = ("ale", "envpool")


def batch(backend, game="Pong", num_envs=2, **options):
    return EnvBatch.make(f"atari:{game}", num_envs, seed=0, options=EnvOptions(backend=backend, **options))


def run(batch_, actions, steps):
    """Observations [steps+1, K, ...] and the step results of `steps` steps of constant `actions`."""
    observations, results = [batch_.reset().observations], []
    for _ in range(steps):
        results.append(batch_.step(actions))
        observations.append(results[-1].observations)
    return np.array(observations), results


def test_the_ale_env_passes_gymnasiums_checker_with_seeds_preprocessing():
    env, frames_per_step = make_env("atari:Pong", seed=0)
    check_env(env, skip_render_check=True)
    assert frames_per_step == 4
    assert env.observation_space.shape == (84, 84, 1) and env.observation_space.dtype == np.uint8


@pytest.mark.slow
def test_both_backends_present_the_same_spec_and_the_same_frames():
    specs = [batch(backend).spec("atari:Pong") for backend in BACKENDS]
    assert specs[0].differences(specs[1]) == []
    assert specs[0].observation_space.shape == (84, 84, 4) and specs[0].frames_per_step == 4
    assert specs[0].action_space.n == 6
    # Without no-op starts both run the same emulator through the same preprocessing.
    frames = [run(batch(backend, noop_max=0), np.arange(2) + 1, 60)[0] for backend in BACKENDS]
    assert frames[0].shape == frames[1].shape == (61, 2, 84, 84, 4)
    assert frames[0].std() > 0  # the screen moves
    assert np.mean(frames[0] != frames[1]) < 0.01  # the two differ on under 1% of pixels


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_are_stacked_oldest_first_and_restart_with_the_episode(backend):
    observations, results = run(batch(backend, max_episode_frames=80), np.zeros(2, np.int64), 20)
    first = observations[0]
    assert all(np.array_equal(first[..., 0], first[..., i]) for i in range(4))  # an episode starts with 4 copies
    for t in range(1, 20):
        np.testing.assert_array_equal(observations[t][..., :3], observations[t - 1][..., 1:])
    # 80 frames = 20 agent steps: the time limit truncates both envs at the last step.
    assert results[-1].truncated.all() and not any(r.truncated.any() for r in results[:-1])
    np.testing.assert_array_equal(results[-1].final_observations[..., :3], observations[19][..., 1:])
    restarted = observations[20]
    assert all(np.array_equal(restarted[..., 0], restarted[..., i]) for i in range(4))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_episodes_end_terminated_with_the_game_and_rewards_are_not_clipped(backend):
    # Standing still, Pong is lost 0-21: a terminal state, the return is the score difference.
    _, results = run(batch(backend, game="Pong", num_envs=1), np.zeros(1, np.int64), 1200)
    ends = [r for r in results if r.terminated.any() or r.truncated.any()]
    assert ends and ends[0].terminated.all() and not ends[0].truncated.any()
    assert ends[0].episode_returns.tolist() == [-21.0]
    # Space Invaders scores 5 to 30 per alien: rewards reach the learner as the game gives them.
    _, results = run(batch(backend, game="SpaceInvaders", num_envs=2), np.ones(2, np.int64), 300)
    assert max(r.rewards.max() for r in results) >= 5


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_full_action_space_and_sticky_actions_are_options(backend):
    assert batch(backend, full_action_space=True).spec("atari:Pong").action_space.n == 18

    def frames(sticky):
        # Paddle up and down in turns: with sticky actions some moves repeat, and the paddle ends elsewhere.
        batch_ = batch(backend, noop_max=0, sticky_actions=sticky)
        observations = [batch_.reset().observations]
        for t in range(100):
            observations.append(batch_.step(np.full(2, 2 + t % 2)).observations)
        return np.array(observations)

    plain = frames(False)
    np.testing.assert_array_equal(plain, frames(False))  # deterministic without sticky actions
    assert not np.array_equal(plain, frames(True))


def test_unknown_games_are_refused_with_the_naming_scheme():
    with pytest.raises(UnknownEnvError, match="atari:Pong"):
        check_env_id("atari:NoSuchGame")
    check_env_id("atari:Breakout")
