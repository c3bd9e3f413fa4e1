"""`graph_function`: the learner's graphs are traced without AutoGraph, so Python control flow on a tensor
fails loudly at the trace instead of being rewritten. `SignatureFunction`: the inference graphs' calls give
what `tf.function` gives, on one trace, and refuse what does not fit the signature."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from seedrl.learner.graphs import SignatureFunction, graph_function


def clipped(x):
    if x > 0:  # Python control flow on a tensor: only AutoGraph turns it into a tf.cond
        return x
    return -x


def test_python_branching_on_a_tensor_fails_at_the_trace():
    assert float(tf.function(clipped)(tf.constant(-2.0))) == 2.0  # AutoGraph converts it
    with pytest.raises(TypeError, match="Python `bool`"):
        graph_function(clipped)(tf.constant(-2.0))


def test_tensorflow_control_flow_and_options_are_kept():
    absolute = graph_function(lambda x: tf.cond(x > 0, lambda: x, lambda: -x),
                              input_signature=[tf.TensorSpec([], tf.float32)])
    assert float(absolute(tf.constant(-2.0))) == 2.0
    assert len(absolute.input_signature) == 1


STEP_SIGNATURE = [tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([None], tf.int32),
                  (tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 2], tf.float32))]


def test_signature_function_matches_tf_function_on_one_trace():
    traces = []
    weights = tf.Variable(tf.random.stateless_normal([3, 2], seed=[1, 2]))

    def step(observation, action, state):
        traces.append(1)
        hidden, cell = state
        out = tf.matmul(observation, weights) + hidden * cell
        return out, tf.cast(action, tf.float32) * 2.0, (out, cell + 1.0)

    reference = graph_function(step, input_signature=STEP_SIGNATURE)
    fast = SignatureFunction(step, STEP_SIGNATURE)
    rng = np.random.default_rng(0)
    for rows in (1, 5, 128):
        args = (rng.normal(size=(rows, 3)).astype(np.float32), rng.integers(0, 4, rows, dtype=np.int32),
                (rng.normal(size=(rows, 2)).astype(np.float32), rng.normal(size=(rows, 2)).astype(np.float32)))
        expected, got = reference(*args), fast(*args)
        for want, have in zip(tf.nest.flatten(expected), tf.nest.flatten(got)):
            assert have.dtype == want.dtype
            np.testing.assert_allclose(have.numpy(), want.numpy(), rtol=1e-6)
    assert len(traces) == 2  # one trace each, whatever the batch


def test_signature_function_casts_dtypes_and_refuses_what_does_not_fit():
    fast = SignatureFunction(lambda observation, action, state: (observation, action, state), STEP_SIGNATURE)
    state = (np.zeros((2, 2)), np.zeros((2, 2)))
    observation, action, _ = fast(np.ones((2, 3)), np.array([1, 2], np.int64), state)  # float64 and int64 in
    assert observation.dtype == tf.float32 and action.dtype == tf.int32 and action.numpy().tolist() == [1, 2]
    with pytest.raises((TypeError, ValueError)):
        fast(np.ones((2, 4), np.float32), np.zeros(2, np.int32), state)  # 4 features where the signature has 3
    with pytest.raises(TypeError, match="tuple of 2"):
        fast(np.ones((2, 3), np.float32), np.zeros(2, np.int32), state[:1])
    with pytest.raises(TypeError, match="expected 3 arguments"):
        fast(np.ones((2, 3), np.float32), np.zeros(2, np.int32))
