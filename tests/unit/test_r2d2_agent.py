"""The R2D2 agent with real networks: per-slot exploration, acting values, initial priorities, training, targets."""

import numpy as np
import pytest
import tensorflow as tf

from seedrl.envs.describe import env_spec
from seedrl.learner.agents.base import StepInputs
from seedrl.learner.agents.r2d2.agent import R2D2Agent
from seedrl.spec.r2d2 import R2D2Config
from seedrl.learner.agents.r2d2.exploration import slot_epsilons, van_der_corput
from seedrl.spec.network import NetworkConfig
from seedrl.learner.training import time_major
from seedrl.learner.unrolls import Unrolls
from tests.unit.test_r2d2_losses import reference_targets
from tests.unit.test_tensors_and_specs import cartpole_spec

BURN_IN, T, B = 3, 6, 4
NETWORK = NetworkConfig(hidden_sizes=(16,), lstm_size=8)


def agent(**changes) -> R2D2Agent:
    config = R2D2Config(unroll_length=T, burn_in=BURN_IN, batch_size=B, n_steps=3, head_hidden_size=16,
                        replay={"min_fill": B}, **changes)
    return R2D2Agent(cartpole_spec(), config, NETWORK, max_slots=64)


def inputs(n, slot, obs=None):
    observation = np.tile(np.array([[0.1, -0.2, 0.05, 0.3]], np.float32), (n, 1)) if obs is None else obs
    return StepInputs(observation, np.zeros(n, bool), np.zeros(n, np.int32), np.zeros(n, np.float32),
                      np.full(n, slot, np.int32))


def zero_state(n):
    return tuple(np.zeros((n, 8), np.float32) for _ in range(2))


def random_unrolls(rng, q_values=True) -> Unrolls:
    length = BURN_IN + T + 1
    steps = {
        "observation": rng.normal(size=(B, length, 4)).astype(np.float32),
        "reward": rng.normal(size=(B, length)).astype(np.float32),
        "terminated": rng.random((B, length)) < 0.1, "truncated": rng.random((B, length)) < 0.05,
        "truncation_value": rng.normal(size=(B, length)).astype(np.float32),
        "prev_action": rng.integers(0, 2, (B, length)).astype(np.int32),
        "action": rng.integers(0, 2, (B, length)).astype(np.int32),
    }
    if q_values:
        steps["q_values"] = rng.normal(size=(B, length, 2)).astype(np.float32)
    return Unrolls(steps, tuple(rng.normal(size=(B, 8)).astype(np.float32) for _ in range(2)), np.zeros(B, np.int64))


def test_any_prefix_of_leased_slots_spreads_over_the_apex_ladder():
    np.testing.assert_array_equal(van_der_corput(8), [0, 0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875])
    epsilons = slot_epsilons(1000)
    for leased in (2, 4, 16, 64):  # exactly Ape-X's 0.4^(1 + 7 i / N), i < N, for N a power of two
        np.testing.assert_allclose(np.sort(epsilons[:leased])[::-1], 0.4 ** (1 + 7 * np.arange(leased) / leased), rtol=1e-6)
    for leased in (3, 10, 100):  # any other count still covers the ladder without gaps
        positions = np.sort(np.log(epsilons[:leased]) / np.log(0.4) - 1) / 7
        assert positions[0] == pytest.approx(0, abs=1e-6) and np.diff(positions).max() <= 2 / leased


def test_each_slot_explores_with_its_own_epsilon_and_evaluation_acts_almost_greedily():
    tf.random.set_seed(1)
    r2d2 = agent(eval_epsilon=0.0)
    n = 4000
    for slot, epsilon in ((0, 0.4), (1, 0.4 ** 4.5)):
        out = r2d2.act(inputs(n, slot), zero_state(n))
        greedy = int(np.argmax(out.extras["q_values"][0]))
        assert np.all(out.greedy_action == greedy)  # eval_epsilon 0
        random_share = np.mean(out.action != greedy) * 2  # half of the random actions are the greedy one
        assert random_share == pytest.approx(epsilon, abs=0.05)
        np.testing.assert_allclose(out.value, _h_inverse(out.extras["q_values"].max(axis=1).astype(np.float64)), rtol=1e-4, atol=1e-4)


def _h_inverse(x, eps=1e-3):
    return np.sign(x) * (((np.sqrt(1 + 4 * eps * (np.abs(x) + 1 + eps)) - 1) / (2 * eps)) ** 2 - 1)


def test_initial_priorities_are_the_td_errors_of_the_acting_q_values_after_burn_in():
    r2d2 = agent()
    unrolls = random_unrolls(np.random.default_rng(0))
    got = r2d2.initial_priorities(unrolls)
    steps = {name: np.swapaxes(v, 0, 1)[BURN_IN:].astype(np.float64) for name, v in unrolls.steps.items()}
    ended = np.logical_or(steps["terminated"][1:], steps["truncated"][1:])
    r = steps["reward"][1:] + 0.997 * steps["truncated"][1:] * steps["truncation_value"][1:]
    discount = 0.997 * (1 - ended)
    q = steps["q_values"]
    targets = reference_targets(q[1:], q[1:], r, discount, 3, 1e-3)
    taken = np.take_along_axis(q[:-1], steps["action"][:-1, :, None].astype(int), axis=-1)[..., 0]
    td = np.abs(targets - taken)
    np.testing.assert_allclose(got, 0.9 * td.max(0) + 0.1 * td.mean(0), rtol=1e-4)


def test_training_fits_a_fixed_batch_and_the_target_network_follows_every_period():
    r2d2 = agent(learning_rate=3e-3, target_update_period=5)
    batch = time_major(random_unrolls(np.random.default_rng(1), q_values=False))
    online, target = r2d2.checkpoint_items()["network"], r2d2.checkpoint_items()["target_network"]
    losses = []
    for step in range(1, 41):
        metrics, priorities = r2d2.train_prioritized(batch, np.ones(B, np.float32), frames=0)
        losses.append(metrics["loss/total"])
        assert priorities.shape == (B,) and np.all(priorities > 0)
        same = all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(online.variables, target.variables))
        assert same == (step % 5 == 0)
    assert r2d2.steps == 40
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])


def test_burn_in_warms_the_state_the_trained_steps_start_from():
    r2d2 = agent(learning_rate=1e-12)
    unrolls = random_unrolls(np.random.default_rng(2), q_values=False)
    first = r2d2.train_prioritized(time_major(unrolls), np.ones(B, np.float32), 0)[0]["mean_q"]
    unrolls.steps["observation"][:, :BURN_IN] += 5.0  # only the burn-in steps change
    second = r2d2.train_prioritized(time_major(unrolls), np.ones(B, np.float32), 0)[0]["mean_q"]
    assert first != pytest.approx(second, abs=1e-6)


def test_continuous_envs_are_refused():
    with pytest.raises(ValueError, match="discrete action space.*sac"):
        R2D2Agent(env_spec("gym:Pendulum-v1"), R2D2Config(), NetworkConfig(), max_slots=4)
