"""`graph_function`: `tf.function` without AutoGraph, for every graph the learner traces; and
`SignatureFunction`, for the graphs called once per inference batch.

The learner's graphs branch and loop with TensorFlow's own control flow (`tf.cond`, `tf.while_loop`,
`tf.scan`) and use Python's only on Python values, so AutoGraph's rewriting of their source has
nothing to convert, yet it took most of a trace's time. Traces block training (and, on a busy CPU,
inference) while they run. A graph
that branches on a tensor in Python fails when it is traced, with TensorFlow's "using a `tf.Tensor`
as a Python `bool` is not allowed".
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, Union

import tensorflow as tf

# An entry of an input signature: one tensor, or a tuple of them (a recurrent state).
SignatureEntry = Union[tf.TensorSpec, tuple["SignatureEntry", ...]]


def graph_function(fn: Any = None, **options: Any) -> Any:
    """`tf.function(fn, autograph=False, **options)`; without `fn`, the decorator."""
    return tf.function(fn, autograph=False, **options)


class SignatureFunction:
    """`fn` traced once for `input_signature`, and called with less work per call than `tf.function`.

    A `tf.function` call binds its arguments to the signature, canonicalises them and converts them
    before it reaches its one trace: for inference on a small network (CartPole's MLP, a batch of 128)
    that took longer than running the graph. Here each argument is converted to its spec's dtype with
    `tf.constant` and the concrete function is called directly. It is traced at the first call, under
    that call's device scope, as `tf.function` would trace it.

    Arguments are arrays (or tensors) in the layout of `input_signature`: each entry a `tf.TensorSpec`
    or a tuple of entries. A shape that does not fit its spec raises, as with `tf.function`; a dtype
    that differs is cast.
    """

    def __init__(self, fn: Callable[..., Any], input_signature: Sequence[SignatureEntry]):
        self._function = graph_function(fn, input_signature=list(input_signature))
        self._signature = tuple(input_signature)
        self._concrete: Any = None

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self._signature):
            raise TypeError(f"expected {len(self._signature)} arguments, got {len(args)}")
        if self._concrete is None:
            self._concrete = self._function.get_concrete_function()
        return self._concrete(*[_tensors(value, spec) for value, spec in zip(args, self._signature)])


def _tensors(value: Any, spec: SignatureEntry) -> Any:
    if isinstance(spec, tf.TensorSpec):
        return tf.constant(value, spec.dtype)
    if len(value) != len(spec):
        raise TypeError(f"expected a tuple of {len(spec)} arrays, got {len(value)}")
    return tuple(_tensors(item, item_spec) for item, item_spec in zip(value, spec))
