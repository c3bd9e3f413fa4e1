"""The SAC agent with real networks on Pendulum-v1's spec: bounded actions, training, temperature, targets."""

import numpy as np
import pytest
import tensorflow as tf

from seedrl.envs.describe import env_spec
from seedrl.learner.agents.base import StepInputs, TrainingBatch
from seedrl.learner.agents.sac.agent import SACAgent
from seedrl.spec.network import NetworkConfig
from seedrl.spec.sac import SACConfig
from tests.unit.test_sac_losses import exact_log_pi_and_gradient
from tests.unit.test_tensors_and_specs import cartpole_spec

NETWORK = NetworkConfig(hidden_sizes=(32,))


def sac(**changes) -> SACAgent:
    config = SACConfig(batch_size=64, critic_hidden_size=32, replay={"min_fill": 64}, **changes)
    return SACAgent(env_spec("gym:Pendulum-v1"), config, NETWORK)


def test_actions_are_scaled_into_the_env_bounds_and_greedy_actions_are_deterministic():
    agent = sac()
    n = 500
    obs = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    inputs = StepInputs(obs, np.zeros(n, bool), np.zeros((n, 1), np.float32), np.zeros(n, np.float32), np.arange(n, dtype=np.int32))
    first, second = agent.act(inputs, ()), agent.act(inputs, ())
    assert first.action.shape == (n, 1) and np.all(np.abs(first.action) < 2.0)
    assert first.action.std() > 0.5  # initial std 1 before tanh, scaled by 2
    np.testing.assert_array_equal(first.greedy_action, second.greedy_action)
    assert not np.array_equal(first.action, second.action)
    assert first.value.shape == (n,) and np.all(np.isfinite(first.value))


def test_training_fits_the_critics_moves_the_temperature_and_the_targets_by_tau():
    tf.keras.utils.set_random_seed(1)  # the weights and the policy's samples: the loss's fall is one fixed run
    agent = sac(learning_rate=3e-3, target_smoothing=0.1)
    rng = np.random.default_rng(1)
    b = 64
    steps = {
        "observation": rng.normal(size=(2, b, 3)).astype(np.float32), "reward": rng.normal(size=(2, b)).astype(np.float32),
        "terminated": np.zeros((2, b), bool), "truncated": np.zeros((2, b), bool),
        "truncation_value": np.zeros((2, b), np.float32), "prev_action": rng.uniform(-2, 2, (2, b, 1)).astype(np.float32),
        "action": rng.uniform(-2, 2, (2, b, 1)).astype(np.float32),
    }
    batch = TrainingBatch(steps, ())
    items = agent.checkpoint_items()
    critic, target = items["critic_1"], items["target_critic_1"]
    np.testing.assert_array_equal(critic.variables[0].numpy(), target.variables[0].numpy())  # targets start as copies
    metrics = [agent.train_prioritized(batch, np.ones(b, np.float32), 0)[0]]
    before = [v.numpy() for v in target.variables]
    metrics.append(agent.train_prioritized(batch, np.ones(b, np.float32), 0)[0])
    for old, new, online in zip(before, target.variables, critic.variables):
        np.testing.assert_allclose(new.numpy(), 0.9 * old + 0.1 * online.numpy(), rtol=1e-5, atol=1e-6)
    for _ in range(60):
        found, priorities = agent.train_prioritized(batch, np.ones(b, np.float32), 0)
        metrics.append(found)
    assert priorities.shape == (b,) and np.all(priorities >= 0)
    assert np.mean([m["loss/critic"] for m in metrics[-5:]]) < 0.5 * np.mean([m["loss/critic"] for m in metrics[:2]])
    # The policy starts far above the target entropy (-1), so the temperature falls.
    assert metrics[-1]["alpha"] < metrics[0]["alpha"]
    assert agent.steps == 62


def test_a_saturated_policy_gets_exact_log_probabilities_and_is_pulled_back_from_the_bound():
    """The policy's mean is set to 10 (std 0.1), where float32's tanh is 1: every action is on the bound.
    The critics output 0, so the acting value is -alpha log pi, the critic targets (and the priorities,
    |target - 0|) are -gamma alpha log pi of the next action, and the policy loss is alpha log pi, whose
    gradient must pull the mean back towards the middle of the box."""
    agent = sac(initial_std=0.1)
    items = agent.checkpoint_items()
    head = items["policy"].params
    head.kernel.assign(tf.zeros_like(head.kernel))
    head.bias.assign([10.0, 0.0])  # mean 10, std initial_std
    for name in ("critic_1", "critic_2", "target_critic_1", "target_critic_2"):
        out = items[name].out
        out.kernel.assign(tf.zeros_like(out.kernel))
        out.bias.assign(tf.zeros_like(out.bias))
    # E[-log pi] of u ~ N(10, 0.1) squashed into Pendulum's [-2, 2], by Monte Carlo in float64.
    noise = np.random.default_rng(5).normal(size=(1_000_000, 1))
    log_pi, _, _ = exact_log_pi_and_gradient(np.full_like(noise, 10.0), np.full_like(noise, 0.1), noise, np.array([2.0]))
    entropy = -log_pi.mean()
    assert entropy == pytest.approx(-18.80, abs=0.01)  # a density concentrated against the bound

    n = 512
    rng = np.random.default_rng(6)
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    acted = agent.act(StepInputs(obs, np.zeros(n, bool), np.zeros((n, 1), np.float32), np.zeros(n, np.float32),
                                 np.arange(n, dtype=np.int32)), ())
    np.testing.assert_array_equal(acted.action, 2.0)
    assert acted.value.mean() == pytest.approx(entropy, abs=0.15)  # truncation value: 0 - alpha log pi

    steps = {
        "observation": rng.normal(size=(2, n, 3)).astype(np.float32), "reward": np.zeros((2, n), np.float32),
        "terminated": np.zeros((2, n), bool), "truncated": np.zeros((2, n), bool),
        "truncation_value": np.zeros((2, n), np.float32), "prev_action": np.zeros((2, n, 1), np.float32),
        "action": np.full((2, n, 1), 2.0, np.float32),
    }
    metrics, priorities = agent.train_prioritized(TrainingBatch(steps, ()), np.ones(n, np.float32), 0)
    assert metrics["entropy"] == pytest.approx(entropy, abs=0.15)  # the policy loss's log pi
    assert priorities.mean() == pytest.approx(-0.99 * entropy, abs=0.15)  # the critic targets' next log pi
    assert head.bias.numpy()[0] < 10.0  # d log pi / d mean = 2 tanh(u) > 0: the step lowers the mean


@pytest.mark.parametrize("spec, network, message", [
    (cartpole_spec(), NETWORK, "continuous action space"),
    (env_spec("gym:Pendulum-v1"), NetworkConfig(lstm_size=8), "feed-forward"),
])
def test_discrete_envs_and_recurrent_networks_are_refused(spec, network, message):
    with pytest.raises(ValueError, match=message):
        SACAgent(spec, SACConfig(), network)
