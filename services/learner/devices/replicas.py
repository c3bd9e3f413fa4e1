"""Cross-replica arithmetic for code that runs inside one training replica (`strategy.run`).

Each replica holds an equal shard of the batch. A loss that is a mean over the batch is the
mean of the replicas' losses, so its gradient is the mean of theirs: `apply_gradients`
all-reduces the gradients before clipping, which makes N replicas take the step one device
would take on the whole batch. Statistics over the batch (advantage moments, quantiles) come
from `moments` and `gather`. On one replica every function is the identity.

Gradients are taken with `gradients` and applied with `apply_gradients`, which together handle a
loss-scaled optimizer (float16, `precision.loss_scaled`): the gradients are those of the loss
times the optimizer's scale, the norm is reported and clipped as if unscaled, and the optimizer
divides the scale out and skips the step if they overflowed.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf


def count() -> int:
    """Replicas training in sync (1 outside `strategy.run`)."""
    return tf.distribute.get_replica_context().num_replicas_in_sync


def mean(values: Any) -> Any:
    """The mean over replicas of each tensor of a nested structure."""
    if count() == 1:
        return values
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, values)


def gather(rows: tf.Tensor) -> tf.Tensor:
    """Every replica's rows [n, ...] concatenated in replica order: [replicas * n, ...]."""
    if count() == 1:
        return rows
    return tf.distribute.get_replica_context().all_gather(rows, axis=0)


def moments(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean and (population) variance of every element of x across all replicas' shards (equal sizes).

    Two passes, as `tf.nn.moments`: the variance is the mean squared deviation from the global
    mean, which keeps its precision when the mean is large against the spread.
    """
    first = mean(tf.reduce_mean(x))
    return first, mean(tf.reduce_mean(tf.square(x - first)))


def loss_scale(optimizer: keras.optimizers.Optimizer) -> tf.Tensor | None:
    """The current scale of a loss-scaled optimizer (a float32 scalar); None for any other."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return tf.convert_to_tensor(optimizer.dynamic_scale)
    return None


def gradients(
    tape: tf.GradientTape, loss: tf.Tensor, variables: Sequence[tf.Variable], optimizer: keras.optimizers.Optimizer,
) -> list[tf.Tensor]:
    """d loss / d variables on this replica, multiplied by `optimizer`'s loss scale when it has one."""
    scale = loss_scale(optimizer)
    return tape.gradient(loss, variables, output_gradients=None if scale is None else tf.cast(scale, loss.dtype))


def apply_gradients(
    optimizer: keras.optimizers.Optimizer,
    gradients: Sequence[tf.Tensor],
    variables: Sequence[tf.Variable],
    max_norm: float | None = None,
) -> tf.Tensor:
    """Average `gradients` (from `gradients`) over replicas, clip them to `max_norm` (global norm) and apply them.

    Returns the global norm of the averaged, unscaled gradients, before clipping (not finite when a
    loss-scaled step overflowed and is skipped). Keras optimizers sum gradients over replicas
    themselves, so the averaged gradients go in divided by the replica count (identical on every
    replica, they sum back to the average).
    """
    gradients = mean(list(gradients))
    scale = loss_scale(optimizer)
    norm = tf.linalg.global_norm(gradients)  # times the scale, when there is one
    if max_norm:
        gradients, _ = tf.clip_by_global_norm(gradients, max_norm if scale is None else max_norm * scale, use_norm=norm)
    replicas = count()
    if replicas > 1:
        gradients = [g / replicas for g in gradients]
    optimizer.apply_gradients(zip(gradients, variables))
    return norm if scale is None else norm / scale
