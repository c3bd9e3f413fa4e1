"""`graph_function`: the learner's graphs are traced without AutoGraph, so Python control flow on a tensor
fails loudly at the trace instead of being rewritten."""

from __future__ import annotations

import pytest
import tensorflow as tf

from seedrl.learner.graphs import graph_function


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
