"""`graph_function`: `tf.function` without AutoGraph, for every graph the learner traces.

The learner's graphs branch and loop with TensorFlow's own control flow (`tf.cond`, `tf.while_loop`,
`tf.scan`) and use Python's only on Python values, so AutoGraph's rewriting of their source has
nothing to convert, yet it took most of a trace's time. Traces block training (and, on a busy CPU,
inference) while they run. A graph
that branches on a tensor in Python fails when it is traced, with TensorFlow's "using a `tf.Tensor`
as a Python `bool` is not allowed".
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def graph_function(fn: Any = None, **options: Any) -> Any:
    """`tf.function(fn, autograph=False, **options)`; without `fn`, the decorator."""
    return tf.function(fn, autograph=False, **options)
