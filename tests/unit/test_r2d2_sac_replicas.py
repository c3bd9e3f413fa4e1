"""The replay agents (R2D2, SAC) trained on two replicas take the steps one device takes on the same batch.

This machine has no GPU: two logical CPU devices (tests/conftest.py) stand in for the GPUs of a
learner node (same code path: MirroredStrategy over them). Batches are acted by the agent in real
Gymnasium environments, with importance weights as the replay would give them. SAC draws its
policy-action noise from TensorFlow's global seed, which each comparison sets before every step so
both agents see the same noise.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import tensorflow as tf

from seedrl.envs.describe import env_spec
from seedrl.common import metrics as m
from seedrl.spec.experiment import LearningSpec
from seedrl.learner.agents.base import StepInputs, TrainingBatch
from seedrl.learner.agents.r2d2.agent import R2D2Agent
from seedrl.learner.agents.sac.agent import SACAgent
from seedrl.learner.devices.acting import InferenceCopies
from seedrl.learner.replay.agent import ReplayAgent
from tests.unit.test_policy_gradient_agent import collect
from tests.unit.test_policy_gradient_replicas import copy_state, every_variable, single_and_replicated

CARTPOLE, PENDULUM = "gym:CartPole-v1", "gym:Pendulum-v1"
UNROLLS, TRANSITIONS = 4, 5

# (environment, agent, options, network) of each code path.
CASES = {
    # recurrent: burn-in of the online and target states, n-step double-Q targets with value rescaling;
    # the target network is copied after the second step
    "r2d2-lstm-burn-in": (CARTPOLE, "r2d2", {"burn_in": 2, "n_steps": 3, "target_update_period": 2}, {"lstm_size": 8}),
    # feed-forward, raw values and clipped rewards
    "r2d2-feed-forward": (CARTPOLE, "r2d2", {"burn_in": 0, "n_steps": 2, "value_rescaling": False,
                                             "reward_clipping": True, "target_update_period": 1}, {}),
    # three optimisers in sequence (critics, then the policy under the new critics, then the temperature),
    # reparameterised actions, Polyak targets
    "sac": (PENDULUM, "sac", {"target_smoothing": 0.5}, {}),
}


def build(env_id: str, agent: str, options: dict, network: dict, jit_compile: bool = False) -> ReplayAgent:
    hyperparameters = {"batch_size": UNROLLS, "unroll_length": TRANSITIONS, "learning_rate": 1e-2,
                       "replay": {"min_fill": UNROLLS}, **options}
    if agent == "r2d2":
        hyperparameters["head_hidden_size"] = 16
    else:
        hyperparameters["critic_hidden_size"] = 16
    spec = LearningSpec(env=env_id, agent=agent, network={"hidden_sizes": [16], **network},
                        **{agent: hyperparameters})
    if agent == "r2d2":
        return R2D2Agent(env_spec(env_id), spec.r2d2, spec.network, max_slots=UNROLLS, jit_compile=jit_compile)
    return SACAgent(env_spec(env_id), spec.sac, spec.network, jit_compile=jit_compile)


def collect_unrolls(agent: ReplayAgent, env_id: str) -> TrainingBatch:
    """agent.batch_size unrolls of burn_in + T + 1 steps acted by `agent` in real environments."""
    acting = types.SimpleNamespace(batch_size=agent.batch_size, unroll_length=agent.burn_in + agent.unroll_length,
                                   state_specs=agent.state_specs, act=agent.act)
    return collect(acting, env_id)


def assert_same_steps(expected: ReplayAgent, actual: ReplayAgent, batch: TrainingBatch, steps: int = 2) -> None:
    """`steps` train steps of each on `batch` with the same weights and noise: same metrics, priorities
    and variables (networks, targets, optimiser state)."""
    weights = np.random.default_rng(0).uniform(0.2, 1.0, expected.batch_size).astype(np.float32)
    before = every_variable(expected)
    for step in range(steps):  # the second step also sees the optimisers' moments and the moved targets
        tf.random.set_seed(step)
        wanted, wanted_priorities = expected.train_prioritized(batch, weights, frames=0)
        tf.random.set_seed(step)
        got, got_priorities = actual.train_prioritized(batch, weights, frames=0)
        assert set(got) == set(wanted)
        for name, value in wanted.items():
            assert np.isfinite(value), name
            np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
        assert got_priorities.shape == (expected.batch_size,)
        np.testing.assert_allclose(got_priorities, wanted_priorities, rtol=1e-4, atol=1e-5)
    wanted, got = every_variable(expected), every_variable(actual)
    assert got.keys() == wanted.keys()
    changed = {name for name in wanted if not np.array_equal(wanted[name], before[name])}
    assert any(name.startswith(("network/", "policy/")) for name in changed)
    assert any(name.startswith("target_") for name in changed)
    for name, value in wanted.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
    assert actual.steps == expected.steps == steps


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_two_replicas_take_the_steps_one_device_takes(two_replicas, tmp_path, case):
    single, replicated = single_and_replicated(build, two_replicas, tmp_path, CASES[case])
    copied, original = every_variable(replicated), every_variable(single)  # target networks' heads included
    for name, value in original.items():
        np.testing.assert_array_equal(copied[name], value, err_msg=name)
    assert_same_steps(single, replicated, collect_unrolls(single, CASES[case][0]))


@pytest.mark.slow
@pytest.mark.parametrize("case", ["r2d2-lstm-burn-in", "sac"])
def test_an_xla_compiled_step_equals_the_plain_one(tmp_path, case):
    env_id, agent, options, network = CASES[case]
    plain, compiled = build(env_id, agent, options, network), build(env_id, agent, options, network, jit_compile=True)
    copy_state(plain, compiled, tmp_path)
    assert_same_steps(plain, compiled, collect_unrolls(plain, env_id))


def test_a_batch_that_does_not_split_over_the_replicas_is_refused(two_replicas):
    env_id, agent, options, network = CASES["sac"]
    with two_replicas.scope():
        replicated = build(env_id, agent, options, network)
    batch = collect_unrolls(replicated, env_id)
    odd = TrainingBatch({name: value[:, :3] for name, value in batch.steps.items()}, ())
    with pytest.raises(ValueError, match="a batch of 3 unrolls does not split evenly over 2 training replicas"):
        replicated.train_prioritized(odd, np.ones(3, np.float32), frames=0)


@pytest.mark.parametrize("case", ["r2d2-lstm-burn-in", "sac"])
def test_an_inference_copy_acts_with_the_trained_weights(two_replicas, case):
    env_id, agent, options, network = CASES[case]
    with two_replicas.scope():
        trained = build(env_id, agent, options, network)
    copies = InferenceCopies(trained, lambda: build(env_id, agent, options, network), ("/cpu:0",), refresh_steps=1,
                             metrics=m.Metrics("t", "learner"))
    fresh = build(env_id, agent, options, network)
    trained.train(collect_unrolls(trained, env_id), frames=0)
    copies.refresh(trained.steps)

    rows = UNROLLS  # one per exploration slot
    rng = np.random.default_rng(1)
    spec = env_spec(env_id)
    observation = rng.normal(size=(rows, *spec.observation_shape)).astype(spec.observation_dtype)
    inputs = StepInputs(observation, np.ones(rows, bool), np.zeros((rows, *spec.action_shape), spec.action_dtype),
                        np.zeros(rows, np.float32), np.arange(rows, dtype=np.int32))
    state = tuple(rng.normal(size=(rows, *s.shape)).astype(np.float32) for s in trained.state_specs)
    tf.random.set_seed(1)  # the same sampled actions (SAC's action and value) on both
    actual, version = copies.act(inputs, state)
    tf.random.set_seed(1)
    expected = trained.act(inputs, state)
    assert version == trained.steps == 1
    if agent == "sac":  # R2D2's explored action draws on each function's own random stream; its greedy one is below
        np.testing.assert_allclose(actual.action, expected.action, rtol=1e-6)
    np.testing.assert_allclose(actual.greedy_action, expected.greedy_action, rtol=1e-6)
    np.testing.assert_allclose(actual.value, expected.value, rtol=1e-5, atol=1e-6)
    for name, value in expected.extras.items():
        np.testing.assert_allclose(actual.extras[name], value, rtol=1e-5, atol=1e-6)
    for got, wanted in zip(actual.state, expected.state, strict=True):
        np.testing.assert_allclose(got, wanted, rtol=1e-5, atol=1e-6)
    tf.random.set_seed(1)
    assert not np.allclose(fresh.act(inputs, state).value, expected.value, rtol=1e-4)  # training moved them
