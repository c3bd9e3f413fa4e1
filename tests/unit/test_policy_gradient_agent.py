"""The on-policy agent on batches collected from real Gymnasium environments: updates, the acting
copy, normalisation, recurrent and continuous policies, checkpoints and the serving module."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tensorflow as tf

from seedrl.envs.describe import env_spec
from seedrl.envs.registry import make_env
from seedrl.spec.experiment import LearningSpec
from seedrl.learner.agents.base import StepInputs, TrainingBatch
from seedrl.learner.agents.policy_gradient.agent import PolicyGradientAgent
from seedrl.spec.policy_gradient import PolicyGradientConfig
from seedrl.spec.network import NetworkConfig

CARTPOLE, PENDULUM = "gym:CartPole-v1", "gym:Pendulum-v1"


def make_agent(env_id, agent="policy_gradient", network=None, total_frames=100_000, **options):
    spec = LearningSpec(env=env_id, agent=agent, network=network or {},
                        policy_gradient={"batch_size": 4, "unroll_length": 8, **options})
    return PolicyGradientAgent(env_spec(env_id), spec.policy_gradient, spec.network, name=agent, total_frames=total_frames)


def inputs_for(observation, done, prev_action, reward):
    n = len(observation)
    return StepInputs(observation, done, prev_action, reward, np.arange(n, dtype=np.int32))


def collect(agent, env_id, seed=0):
    """agent.batch_size unrolls of agent.unroll_length + 1 steps, acted by `agent` in real environments."""
    spec = env_spec(env_id)
    envs = [make_env(env_id, seed=seed + i)[0] for i in range(agent.batch_size)]
    n = len(envs)
    observation = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]).astype(spec.observation_dtype)
    done, reward = np.ones(n, bool), np.zeros(n, np.float32)
    terminated, truncated = np.zeros(n, bool), np.zeros(n, bool)
    truncation_value = np.zeros(n, np.float32)
    prev_action = np.zeros((n, *spec.action_shape), spec.action_dtype)
    state = tuple(np.zeros((n, *s.shape), np.float32) for s in agent.state_specs)
    initial_state, steps = state, []
    for _ in range(agent.unroll_length + 1):
        out = agent.act(inputs_for(observation, done, prev_action, reward), state)
        steps.append({
            "observation": observation, "reward": reward, "terminated": terminated, "truncated": truncated,
            "truncation_value": truncation_value, "prev_action": prev_action, "action": out.action, **out.extras,
        })
        state, prev_action = out.state, out.action
        results = [env.step(action) for env, action in zip(envs, out.action)]
        observation = np.stack([r[0] for r in results]).astype(spec.observation_dtype)
        reward = np.array([r[1] for r in results], np.float32)
        terminated = np.array([r[2] for r in results])
        truncated = np.array([r[3] for r in results])
        truncation_value = np.zeros(n, np.float32)
        for i in np.flatnonzero(truncated):  # V(final observation), then the next episode begins
            truncation_value[i] = agent.act(inputs_for(observation[i : i + 1], np.zeros(1, bool), prev_action[i : i + 1],
                                                       reward[i : i + 1]), tuple(s[i : i + 1] for s in state)).value[0]
        for i in np.flatnonzero(terminated | truncated):
            observation[i] = envs[i].reset()[0]
        done = terminated | truncated
    return TrainingBatch({name: np.stack([s[name] for s in steps]) for name in steps[0]}, initial_state)


def policy_params(agent, observation):
    n = len(observation)
    spec_action = agent._spec.action_shape
    out = agent.act(
        inputs_for(observation, np.ones(n, bool), np.zeros((n, *spec_action), agent._spec.action_dtype),
                   np.zeros(n, np.float32)),
        tuple(np.zeros((n, *s.shape), np.float32) for s in agent.state_specs),
    )
    return out.extras["behaviour_params"]


@pytest.mark.parametrize("batch_mode", ["repeat", "shuffle", "split", "split_with_advantage_recomputation"])
def test_one_train_call_is_one_update_of_epochs_times_minibatches_gradient_steps(batch_mode):
    agent = make_agent(CARTPOLE, agent="ppo", batch_mode=batch_mode, epochs=3, minibatches=2)
    batch = collect(agent, CARTPOLE)
    metrics = agent.train(batch, frames=0)
    assert agent.steps == 1
    assert int(agent._optimizer.iterations.numpy()) == 3 * 2
    assert {"loss/total", "loss/policy", "loss/baseline", "loss/entropy", "gradient_norm", "learning_rate",
            "clip_fraction", "explained_variance"} <= set(metrics)
    assert all(np.isfinite(value) for value in metrics.values())
    agent.train(batch, frames=0)
    assert agent.steps == 2


def test_automatic_minibatches_follow_the_batch_each_gradient_step_keeping_its_unrolls():
    agent = make_agent(CARTPOLE, agent="ppo", batch_size=8, epochs=3, minibatches="auto", auto_minibatch_unrolls=2)
    batch = collect(agent, CARTPOLE)
    agent.train(batch, frames=0)
    assert int(agent._optimizer.iterations.numpy()) == 3 * 4  # 8 unrolls: 4 minibatches of 2
    half = TrainingBatch({name: steps[:, :4] for name, steps in batch.steps.items()}, batch.initial_state)
    agent.train(half, frames=0)  # a batch that shrank with the envs: 2 minibatches of 2 unrolls
    assert int(agent._optimizer.iterations.numpy()) == 3 * 4 + 3 * 2
    assert agent.steps == 2
    assert agent._minibatch_step.traces == 1  # each epoch's steps run in one call, traced for any count
    rule = make_agent(CARTPOLE, agent="ppo", batch_size="auto", auto_minibatch_unrolls=4).batch_size
    assert [rule(slots) for slots in (2, 10, 32, 256)] == [4, 8, 16, 128]  # whole minibatches of 4 unrolls


def test_inference_acts_with_the_previous_policy_until_the_update_is_complete():
    agent = make_agent(CARTPOLE, agent="ppo", epochs=16, minibatches=4, learning_rate=1e-2)
    batch = collect(agent, CARTPOLE)
    probe = batch.steps["observation"][:, 0]
    before = policy_params(agent, probe)
    seen = []
    trainer = threading.Thread(target=agent.train, args=(batch, 0))
    trainer.start()
    while trainer.is_alive():
        seen.append(policy_params(agent, probe))
    trainer.join()
    after = policy_params(agent, probe)
    assert not np.allclose(before, after)  # 64 gradient steps moved the policy
    assert all(np.array_equal(params, before) or np.array_equal(params, after) for params in seen)


def test_the_learning_rate_decays_linearly_to_zero_at_total_frames():
    agent = make_agent(CARTPOLE, total_frames=1000, learning_rate=0.01)
    batch = collect(agent, CARTPOLE)
    assert agent.train(batch, frames=0)["learning_rate"] == pytest.approx(0.01)
    assert agent.train(batch, frames=750)["learning_rate"] == pytest.approx(0.0025)
    assert agent.train(batch, frames=2000)["learning_rate"] == 0.0


def test_normalisation_statistics_are_those_of_the_trained_batches_and_reach_the_acting_copy():
    agent = make_agent(CARTPOLE, normalize_observations=True, normalize_values=True)
    batches = [collect(agent, CARTPOLE, seed=s) for s in (0, 10)]
    for batch in batches:
        agent.train(batch, frames=0)
    seen = np.concatenate([b.steps["observation"][:-1].reshape(-1, 4) for b in batches]).astype(np.float64)
    for statistics in (agent._observation_statistics, agent._acting_observation_statistics):
        np.testing.assert_allclose(statistics.mean.numpy(), seen.mean(0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(statistics.std().numpy(), seen.std(0), rtol=1e-5)
    assert agent._acting_value_statistics.count.numpy() == 2 * 8 * 4  # value targets of both batches


def test_a_recurrent_policy_trains_on_shuffled_unrolls_from_their_initial_state():
    agent = make_agent(CARTPOLE, network={"lstm_size": 16}, batch_mode="shuffle", minibatches=2, epochs=2)
    assert [s.shape for s in agent.state_specs] == [(16,), (16,)]
    batch = collect(agent, CARTPOLE)
    assert np.isfinite(agent.train(batch, frames=0)["loss/total"])


def test_split_batch_modes_refuse_a_recurrent_network():
    config, network = PolicyGradientConfig(batch_mode="split"), NetworkConfig(lstm_size=8)  # as a spec refuses it
    with pytest.raises(ValueError, match="feed-forward"):
        PolicyGradientAgent(env_spec(CARTPOLE), config, network, name="policy_gradient", total_frames=1)


@pytest.mark.parametrize("distribution", ["clipped_gaussian", "tanh_gaussian"])
def test_continuous_actions_stay_within_the_box_and_train(distribution):
    agent = make_agent(PENDULUM, agent="ppo", action_distribution=distribution, vmpo_epsilon_kl_std=1e-4)
    batch = collect(agent, PENDULUM)
    actions = batch.steps["action"]
    assert actions.dtype == np.float32 and actions.shape[2:] == (1,)
    assert np.all(actions >= -2.0) and np.all(actions <= 2.0)
    metrics = agent.train(batch, frames=0)
    assert np.isfinite(metrics["loss/total"]) and metrics["entropy"] != 0


def test_vmpo_constrains_gaussian_means_and_scales_with_separate_multipliers():
    agent = make_agent(PENDULUM, agent="vmpo")
    metrics = agent.train(collect(agent, PENDULUM), frames=0)
    assert {"vmpo_temperature", "vmpo_alpha_0", "vmpo_alpha_1", "loss/trust_region"} <= set(metrics)


def test_a_discrete_distribution_is_refused_for_continuous_actions():
    with pytest.raises(ValueError, match="categorical needs a discrete action space"):
        make_agent(PENDULUM, action_distribution="categorical")


def test_a_checkpoint_restores_the_acting_policy(tmp_path):
    agent = make_agent(CARTPOLE, agent="vmpo", normalize_observations=True)
    agent.train(collect(agent, CARTPOLE), frames=0)
    path = tf.train.Checkpoint(**agent.checkpoint_items()).save(str(tmp_path / "ckpt"))
    restored = make_agent(CARTPOLE, agent="vmpo", normalize_observations=True)
    tf.train.Checkpoint(**restored.checkpoint_items()).restore(path).assert_consumed()
    probe = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(policy_params(restored, probe), policy_params(agent, probe))
    assert restored.steps == agent.steps == 1


@pytest.mark.parametrize("env_id,logits", [(CARTPOLE, True), (PENDULUM, False)])
def test_the_serving_module_returns_actions_values_and_policy_parameters(env_id, logits):
    agent = make_agent(env_id)
    module = agent.serving_module()
    observation = np.zeros((3, *env_spec(env_id).observation_shape), np.float32)
    outputs = module.serve(observation=tf.constant(observation))
    assert outputs["action"].shape[0] == outputs["greedy_action"].shape[0] == outputs["value"].shape[0] == 3
    np.testing.assert_array_equal(outputs["policy_params"].numpy(), policy_params(agent, observation))
    assert ("logits" in outputs) == logits
