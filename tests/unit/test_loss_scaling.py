"""float16 encoders with dynamic loss scaling: gradients that float16 would flush to zero survive,
an overflowing step is skipped, every agent trains, on one device and on two replicas, and
checkpoints restore across precisions.

This machine has no GPU: float16 runs on the CPU's kernels, and two logical CPU devices
(tests/conftest.py) stand in for two GPUs (MirroredStrategy over them).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seedrl.learner.devices import replicas
from seedrl.learner.devices.precision import encoder_layers, loss_scaled, mixed_precision
from tests.unit.test_devices import copy_weights, random_batch, vtrace
from tests.unit.test_policy_gradient_agent import collect
from tests.unit.test_policy_gradient_replicas import build as build_policy_gradient
from tests.unit.test_r2d2_sac_replicas import build as build_replay_agent
from tests.unit.test_r2d2_sac_replicas import collect_unrolls

TINY = 1e-8  # below float16's smallest subnormal (6e-8): flushed to zero in a float16 backward pass


def float16_dense_gradients(optimizer: keras.optimizers.Optimizer):
    """d (TINY * sum(dense(x))) / d kernel for a float16 Dense layer, through `replicas.gradients`."""
    with mixed_precision("float16"), encoder_layers():
        dense = keras.layers.Dense(3, use_bias=False, kernel_initializer="zeros")
    dense.build((None, 2))
    optimizer.build(dense.trainable_variables)
    assert dense.compute_dtype == "float16" and dense.kernel.dtype == "float32"
    x = tf.ones((4, 2))
    with tf.GradientTape() as tape:
        loss = TINY * tf.reduce_sum(tf.cast(dense(x), tf.float32))
    return dense, replicas.gradients(tape, loss, dense.trainable_variables, optimizer)


def test_loss_scaling_keeps_gradients_that_float16_flushes_to_zero():
    _, plain = float16_dense_gradients(keras.optimizers.SGD())
    assert not np.any(plain[0].numpy()), "without scaling the float16 backward pass flushes TINY to zero"
    with mixed_precision("float16"):
        optimizer = loss_scaled(keras.optimizers.SGD(learning_rate=1.0))
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    dense, scaled = float16_dense_gradients(optimizer)
    np.testing.assert_allclose(scaled[0].numpy(), np.full((2, 3), 4 * TINY * 2.0**15), rtol=1e-3)
    norm = replicas.apply_gradients(optimizer, scaled, dense.trainable_variables)
    np.testing.assert_allclose(norm.numpy(), np.sqrt(6) * 4 * TINY, rtol=1e-3)  # reported unscaled
    np.testing.assert_allclose(dense.kernel.numpy(), np.full((2, 3), -4 * TINY), rtol=1e-3)


def test_loss_scaling_applies_only_to_float16():
    for mode in ("off", "bfloat16"):
        with mixed_precision(mode):
            assert not isinstance(loss_scaled(keras.optimizers.Adam()), keras.optimizers.LossScaleOptimizer)


def test_a_float16_step_takes_the_float32_step():
    full = vtrace(8)
    with mixed_precision("float16"):
        mixed = vtrace(8)
    assert mixed._network.encoder.core.compute_dtype == "float16"
    copy_weights(full, mixed)
    before = [v.numpy() for v in full.acting_variables()]
    batch = random_batch(full)
    expected, actual = full.train(batch, 0), mixed.train(batch, 0)
    np.testing.assert_allclose(actual["loss/total"], expected["loss/total"], rtol=0.02, atol=0.01)
    np.testing.assert_allclose(actual["gradient_norm"], expected["gradient_norm"], rtol=0.02)
    assert mixed.steps == full.steps == 1
    # Adam's first step moves each weight by about the learning rate in its gradient's direction.
    assert_same_update(before, full.acting_variables(), mixed.acting_variables(), 0.1 * full._optimizer.learning_rate.numpy())


def assert_same_update(before: list[np.ndarray], expected: list, actual: list, tolerance: float) -> None:
    """The variables `actual` moved from `before` as `expected` did: at least 98% of the weights within `tolerance`
    of the expected step, and the whole update pointing the same way (cosine >= 0.98). A float16 gradient within
    its rounding of zero may change sign, so that a few weights take Adam's step the other way."""
    expected_step = np.concatenate([(v.numpy() - start).ravel() for start, v in zip(before, expected, strict=True)])
    actual_step = np.concatenate([(v.numpy() - start).ravel() for start, v in zip(before, actual, strict=True)])
    agrees = np.abs(actual_step - expected_step) <= tolerance
    assert agrees.mean() >= 0.98, f"{np.count_nonzero(~agrees)} of {agrees.size} weights stepped differently"
    cosine = actual_step @ expected_step / (np.linalg.norm(actual_step) * np.linalg.norm(expected_step))
    assert cosine >= 0.98


def test_an_overflowing_step_is_skipped_and_the_scale_halved():
    with mixed_precision("float16"):
        agent = vtrace(8)
    optimizer = agent._optimizer
    optimizer.dynamic_scale.assign(2.0**40)  # float16's largest number is 65,504: the backward pass overflows
    before = [v.numpy() for v in agent.acting_variables()]
    metrics = agent.train(random_batch(agent), 0)
    assert not np.isfinite(metrics["gradient_norm"])
    assert agent.steps == 0 and optimizer.dynamic_scale.numpy() == 2.0**39
    for start, variable in zip(before, agent.acting_variables()):
        np.testing.assert_array_equal(variable.numpy(), start)
    optimizer.dynamic_scale.assign(2.0**10)
    metrics = agent.train(random_batch(agent), 0)
    assert np.isfinite(metrics["gradient_norm"]) and agent.steps == 1


@pytest.mark.slow
def test_two_float16_replicas_take_the_step_one_float16_device_takes(two_replicas):
    with mixed_precision("float16"):
        single = vtrace(8)
        with two_replicas.scope():
            replicated = vtrace(8)
    copy_weights(single, replicated)
    before = [v.numpy() for v in single.acting_variables()]
    batch = random_batch(single)
    for _ in range(2):
        expected, actual = single.train(batch, 0), replicated.train(batch, 0)
        np.testing.assert_allclose(actual["loss/total"], expected["loss/total"], rtol=1e-3)
    assert replicated.steps == single.steps == 2
    assert replicated._optimizer.dynamic_scale.numpy() == single._optimizer.dynamic_scale.numpy()
    # Two replicas sum their float16 gradients in another order than one device does.
    tolerance = 0.01 * single._optimizer.learning_rate.numpy()
    assert_same_update(before, single.acting_variables(), replicated.acting_variables(), tolerance)


AGENTS = {
    "ppo": lambda: build_policy_gradient(
        "gym:CartPole-v1", "ppo", {"epochs": 2, "minibatches": 2, "batch_mode": "shuffle"}, {"lstm_size": 8}
    ),
    "vmpo": lambda: build_policy_gradient("gym:CartPole-v1", "vmpo", {}, {}),  # a second optimizer, not scaled
    "r2d2": lambda: build_replay_agent("gym:CartPole-v1", "r2d2", {"burn_in": 2, "n_steps": 2}, {"lstm_size": 8}),
    "sac": lambda: build_replay_agent("gym:Pendulum-v1", "sac", {}, {}),
}


@pytest.mark.slow
@pytest.mark.parametrize("agent_name", AGENTS)
def test_every_agent_trains_with_float16_encoders(agent_name):
    with mixed_precision("float16"):
        agent = AGENTS[agent_name]()
    before = [v.numpy() for v in agent.acting_variables()]
    if agent_name in ("r2d2", "sac"):
        batch = collect_unrolls(agent, "gym:Pendulum-v1" if agent_name == "sac" else "gym:CartPole-v1")
        weights = np.ones(agent.batch_size, np.float32)
        train = lambda: agent.train_prioritized(batch, weights, frames=0)[0]  # noqa: E731
    else:
        batch = collect(agent, "gym:CartPole-v1")
        train = lambda: agent.train(batch, 0)  # noqa: E731
    for _ in range(2):
        metrics = train()
        assert all(np.all(np.isfinite(value)) for value in metrics.values()), metrics
    assert agent.steps == 2
    assert any(not np.array_equal(v.numpy(), start) for start, v in zip(before, agent.acting_variables()))


def test_checkpoints_restore_across_precisions(tmp_path):
    """A float16 run's checkpoint holds the inner optimizer's state, as a float32 run's does."""
    with mixed_precision("float16"):
        mixed = vtrace(8)
    mixed.train(random_batch(mixed), 0)
    path = tf.train.Checkpoint(**mixed.checkpoint_items()).write(str(tmp_path / "float16"))
    full = vtrace(8)
    tf.train.Checkpoint(**full.checkpoint_items()).read(path).assert_consumed()
    assert full.steps == mixed.steps == 1
    for a, b in zip(mixed.acting_variables(), full.acting_variables()):
        if "seed_generator" not in a.name:  # the LSTM's dropout seed, which Keras does not checkpoint
            np.testing.assert_array_equal(b.numpy(), a.numpy())
    path = tf.train.Checkpoint(**full.checkpoint_items()).write(str(tmp_path / "float32"))
    with mixed_precision("float16"):
        resumed = vtrace(8)
    tf.train.Checkpoint(**resumed.checkpoint_items()).read(path).assert_consumed()
    assert resumed.steps == 1
    assert np.isfinite(resumed.train(random_batch(resumed), 0)["loss/total"]) and resumed.steps == 2
