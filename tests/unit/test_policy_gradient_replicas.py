"""The on-policy agent trained on two replicas takes the update one device takes on the same batch.

This machine has no GPU: two logical CPU devices (tests/conftest.py) stand in for the GPUs of a
learner node (same code path: MirroredStrategy over them). Batches are collected from real
Gymnasium environments. Shuffled batch modes draw their order from TensorFlow's global seed,
which each comparison sets before every update so both agents see the same minibatches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import tensorflow as tf

from seedrl.envs.describe import env_spec
from seedrl.common import metrics as m
from seedrl.spec.experiment import LearningSpec
from seedrl.learner.agents.base import Agent
from seedrl.learner.agents.policy_gradient.agent import PolicyGradientAgent
from seedrl.learner.devices.acting import InferenceCopies
from tests.unit.test_policy_gradient_agent import CARTPOLE, PENDULUM, collect, inputs_for

# (environment, agent, options, network) of each code path that touches batch-wide quantities.
CASES = {
    # transitions shuffled over the whole batch, advantages standardised over each minibatch
    "ppo-split": (CARTPOLE, "ppo", {"epochs": 2, "minibatches": 2}, {}),
    # advantages re-estimated each epoch, observation statistics updated from the whole batch
    "awr-recomputation": (CARTPOLE, "awr", {"batch_mode": "split_with_advantage_recomputation", "epochs": 2,
                                            "minibatches": 2, "normalize_observations": True}, {}),
    # V-MPO's top half of the minibatch's advantages, value statistics, multipliers
    "vmpo-repeat": (CARTPOLE, "vmpo", {"minibatches": 2, "n_step": 4}, {}),
    # two trust-region multipliers (mean and scale of a Gaussian)
    "vmpo-gaussian": (PENDULUM, "vmpo", {"n_step": 4}, {}),
    # unrolls shuffled, each minibatch from its recurrent state
    "vpg-shuffle-lstm": (CARTPOLE, "policy_gradient", {"batch_mode": "shuffle", "epochs": 2, "minibatches": 2,
                                                       "normalize_advantages": True}, {"lstm_size": 8}),
    # importance-weighted loss and targets, huber value loss, KL penalty
    "vtrace-repeat": (CARTPOLE, "policy_gradient", {"policy_loss": "vtrace", "advantage_estimator": "vtrace",
                                                    "value_loss": "huber", "kl_cost": 0.1, "minibatches": 2}, {}),
}


def build(env_id: str, agent: str, options: dict, network: dict, jit_compile: bool = False) -> PolicyGradientAgent:
    spec = LearningSpec(env=env_id, agent=agent, network={"hidden_sizes": [16], **network},
                        policy_gradient={"batch_size": 4, "unroll_length": 8, "learning_rate": 1e-2, **options})
    return PolicyGradientAgent(env_spec(env_id), spec.policy_gradient, spec.network, name=agent,
                               total_frames=10**6, jit_compile=jit_compile)


def every_variable(agent: PolicyGradientAgent) -> dict[str, np.ndarray]:
    """The values of every checkpointed variable: networks, optimiser state, statistics, multipliers.

    (Not the LSTM cell's dropout seed, which Keras neither checkpoints nor reads without dropout.)
    """
    values = {}
    for name, item in sorted(agent.checkpoint_items().items()):
        variables = [item] if isinstance(item, tf.Variable) else item.variables
        for i, variable in enumerate(variables):
            if "seed_generator" not in variable.name:
                values[f"{name}/{i}"] = variable.numpy()
    return values


def copy_state(source: PolicyGradientAgent, target: PolicyGradientAgent, tmp_path) -> None:
    path = tf.train.Checkpoint(**source.checkpoint_items()).write(str(tmp_path / "source"))
    tf.train.Checkpoint(**target.checkpoint_items()).read(path).assert_consumed()


def single_and_replicated(build: Callable[..., Agent], strategy: tf.distribute.Strategy, tmp_path, case: tuple):
    """Two agents `build(*case)` with the same state: one on the default device, one under `strategy`."""
    single = build(*case)
    with strategy.scope():
        replicated = build(*case)
    copy_state(single, replicated, tmp_path)
    return single, replicated


def assert_same_update(expected: PolicyGradientAgent, actual: PolicyGradientAgent, batch, updates: int = 2) -> None:
    """`updates` updates of each on `batch`, with the same shuffles: same metrics and variables."""
    before = every_variable(expected)
    for update in range(updates):  # later updates also see the optimiser's moments and the statistics
        tf.random.set_seed(update)
        wanted = expected.train(batch, frames=0)
        tf.random.set_seed(update)
        got = actual.train(batch, frames=0)
        assert set(got) == set(wanted)
        for name, value in wanted.items():
            assert np.isfinite(value), name
            np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
    wanted, got = every_variable(expected), every_variable(actual)
    assert got.keys() == wanted.keys()
    assert any(not np.array_equal(wanted[name], before[name]) for name in wanted if name.startswith("network/"))
    for name, value in wanted.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_two_replicas_take_the_update_one_device_takes(two_replicas, tmp_path, case):
    single, replicated = single_and_replicated(build, two_replicas, tmp_path, CASES[case])
    assert_same_update(single, replicated, collect(single, CASES[case][0]))
    assert replicated.steps == single.steps == 2


@pytest.mark.parametrize("case", ["ppo-split", "vmpo-repeat"])
def test_an_xla_compiled_update_equals_the_plain_one(tmp_path, case):
    """On one device (XLA over logical CPU replicas cannot reach the variables of CPUs other than /cpu:0)."""
    env_id, agent, options, network = CASES[case]
    plain = build(env_id, agent, options, network)
    compiled = build(env_id, agent, options, network, jit_compile=True)
    copy_state(plain, compiled, tmp_path)
    assert_same_update(plain, compiled, collect(plain, env_id), updates=1)


@pytest.mark.parametrize(("options", "message"), [
    ({"batch_mode": "split", "minibatches": 32}, "each of the 32 minibatches holds 1 transitions"),
    ({"batch_mode": "repeat", "minibatches": 4}, "each of the 4 minibatches holds 1 unrolls"),
])
def test_minibatches_that_do_not_split_over_the_replicas_are_refused(two_replicas, options, message):
    with two_replicas.scope(), pytest.raises(ValueError, match=f"minibatches: {message}, which do not split evenly "
                                                               f"over 2 training replicas"):
        build(CARTPOLE, "policy_gradient", options, {})


def test_an_inference_copy_acts_with_the_trained_acting_policy_and_its_statistics(two_replicas):
    options = {"normalize_observations": True, "normalize_values": True}
    with two_replicas.scope():
        trained = build(CARTPOLE, "ppo", options, {})
    copies = InferenceCopies(trained, lambda: build(CARTPOLE, "ppo", options, {}), ("/cpu:0",), refresh_steps=1,
                             metrics=m.Metrics("t", "learner"))
    trained.train(collect(trained, CARTPOLE), frames=0)
    copies.refresh(trained.steps)
    (copy,) = copies._copies
    for statistics in (copy._acting_observation_statistics, copy._acting_value_statistics):
        assert statistics.count.numpy() == 8 * 4  # the trained batch's observations and value targets
    observation = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32) * 3.0
    inputs = inputs_for(observation, np.ones(5, bool), np.zeros(5, np.int32), np.zeros(5, np.float32))
    expected, (actual, version) = trained.act(inputs, ()), copies.act(inputs, ())
    assert version == trained.steps == 1
    np.testing.assert_allclose(actual.extras["behaviour_params"], expected.extras["behaviour_params"], rtol=1e-6)
    np.testing.assert_allclose(actual.value, expected.value, rtol=1e-6)
