"""`ReplicatedStep.loop`: K gradient steps in one call are the K steps taken one call at a time.

This machine has no GPU: two logical CPU devices (tests/conftest.py) stand in for the GPUs of a
learner node (MirroredStrategy over them, as in tests/unit/test_devices.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from seedrl.learner.devices import replicas
from seedrl.learner.devices.replicated_step import ReplicatedStep

K, T, M = 5, 3, 4  # minibatches, time steps + 1, unrolls per minibatch


class Regression:
    """A linear value fitted by SGD to time-major targets [T, m] from observations [T, m, 2] and a
    per-unroll offset [m]: each step's result depends on every step before it."""

    def __init__(self, jit_compile: bool = False):
        self.weights = tf.Variable([[0.5], [-0.25]], name="weights")
        self.optimizer = tf.keras.optimizers.SGD(learning_rate=0.1)
        self.step = ReplicatedStep(self._graph, jit_compile=jit_compile)

    def _graph(self, steps, rows, scalars):
        (offset,) = rows
        with tf.GradientTape() as tape:
            prediction = tf.squeeze(tf.tensordot(steps["observation"], self.weights, 1), -1) + offset
            loss = replicas.mean(tf.reduce_mean(tf.square(prediction - steps["target"])))
        norm = replicas.apply_gradients(self.optimizer, replicas.gradients(tape, loss, [self.weights], self.optimizer),
                                        [self.weights])
        return {"loss": loss, "gradient_norm": norm}, (offset * 2.0,)


def minibatches(seed: int = 0, count: int = K) -> tuple[dict[str, np.ndarray], tuple[np.ndarray]]:
    rng = np.random.default_rng(seed)
    steps = {"observation": rng.normal(size=(count, T, M, 2)).astype(np.float32),
             "target": rng.normal(size=(count, T, M)).astype(np.float32)}
    return steps, (rng.normal(size=(count, M)).astype(np.float32),)


def one_at_a_time(model: Regression, steps, rows) -> dict[str, float]:
    """The mean metrics of the steps taken by one `__call__` per minibatch."""
    results = [model.step({name: value[k] for name, value in steps.items()}, tuple(r[k] for r in rows))[0]
               for k in range(len(steps["target"]))]
    return {name: float(np.mean([result[name] for result in results])) for name in results[0]}


def assert_loop_takes_the_steps_one_at_a_time(looped: Regression, reference: Regression) -> None:
    for seed in range(2):  # the second call starts from the weights the first left
        steps, rows = minibatches(seed)
        expected, actual = one_at_a_time(reference, steps, rows), looped.step.loop(steps, rows)
        assert actual.keys() == expected.keys() == {"loss", "gradient_norm"}
        for name, value in expected.items():
            np.testing.assert_allclose(actual[name], value, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(looped.weights.numpy(), reference.weights.numpy(), rtol=1e-5)
    assert int(looped.optimizer.iterations.numpy()) == 2 * K


@pytest.mark.parametrize("jit_compile", [False, True], ids=["plain", "xla"])
def test_a_loop_of_k_steps_is_k_steps_on_one_device(jit_compile):
    assert_loop_takes_the_steps_one_at_a_time(Regression(jit_compile), Regression())


def test_a_loop_on_two_replicas_is_k_steps_on_one_device(two_replicas):
    with two_replicas.scope():
        looped = Regression()
    assert_loop_takes_the_steps_one_at_a_time(looped, Regression())


def test_loops_of_any_length_and_minibatch_size_run_on_one_trace():
    """The minibatch count follows the batch (`minibatches: auto`), and so does their size (a fixed count)."""
    model = Regression()
    steps, rows = minibatches()
    for count, unrolls in ((K, M), (2, M), (1, M), (K, 2), (3, 1)):
        metrics = model.step.loop({name: value[:count, :, :unrolls] for name, value in steps.items()},
                                  (rows[0][:count, :unrolls],))
        assert all(np.isfinite(value) for value in metrics.values())
    assert model.step.traces == 1


def test_a_minibatch_that_does_not_split_over_the_replicas_is_refused(two_replicas):
    with two_replicas.scope():
        model = Regression()
    steps, rows = minibatches()
    with pytest.raises(ValueError, match="a batch of 3 unrolls does not split evenly over 2 training replicas"):
        model.step.loop({name: value[:, :, :3] for name, value in steps.items()}, (rows[0][:, :3],))
