"""`ReplicatedStep`: one training computation run on every replica of a `tf.distribute` strategy.

The batch is split into equal shards along its batch axis (axis 1 of time-major steps, axis 0
of per-unroll rows), each replica runs the step on its shard, and the results come back as
one: scalar metrics averaged over replicas, per-unroll outputs concatenated in batch order.
Variables must have been created under the same strategy's scope.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf

# fn(steps, rows, scalars) -> (metrics, rows_out), run inside a replica:
#   steps: dict of [T+1, b, ...] time-major fields of the replica's b unrolls;
#   rows: nested structure of [b, ...] per-unroll inputs (initial state, importance weights);
#   scalars: nested structure of tensors every replica gets whole (learning rate);
#   metrics: dict of scalars, averaged over replicas; rows_out: nested [b, ...], concatenated.
ReplicaFn = Callable[[dict[str, tf.Tensor], Any, Any], tuple[dict[str, tf.Tensor], Any]]


class ReplicatedStep:
    """Runs `fn` (a `ReplicaFn`) on the current strategy's replicas.

    `jit_compile` compiles the step with XLA: on one training device (XLA cannot compile a step
    whose variables live on several); TPUStrategy compiles every step anyway.
    """

    def __init__(self, fn: ReplicaFn, jit_compile: bool = False):
        self._strategy = tf.distribute.get_strategy()
        self.replicas = self._strategy.num_replicas_in_sync
        compile_here = jit_compile and not isinstance(self._strategy, tf.distribute.TPUStrategy)
        self._run = tf.function(
            lambda steps, rows, scalars: self._strategy.run(fn, args=(steps, rows, scalars)), jit_compile=compile_here,
            reduce_retracing=True,
        )
        self._traced_general = False

    @property
    def traces(self) -> int:
        """How many times the step has been traced (a trace blocks training for seconds on a loaded CPU)."""
        return self._run.experimental_get_tracing_count()

    def __call__(
        self, steps: dict[str, np.ndarray], rows: Any = (), scalars: Any = ()
    ) -> tuple[dict[str, float], Any]:
        """Steps [T+1, B, ...] and rows [B, ...] of B unrolls (B a multiple of the replicas); returns
        the metrics as floats and the per-unroll outputs as arrays [B, ...]."""
        if self.replicas == 1:
            if not self._traced_general:
                self._trace_general(steps, rows, scalars)
            metrics, out = self._run(steps, rows, scalars)
            return {name: float(value) for name, value in metrics.items()}, tf.nest.map_structure(np.asarray, out)
        batch = len(tf.nest.flatten(steps)[0][0])
        if batch % self.replicas:
            raise ValueError(f"a batch of {batch} unrolls does not split evenly over {self.replicas} training replicas")
        shard = batch // self.replicas

        def part(structure: Any, axis: int, replica: int) -> Any:
            index = (slice(None),) * axis + (slice(replica * shard, (replica + 1) * shard),)
            return tf.nest.map_structure(lambda array: array[index], structure)

        distribute = self._strategy.experimental_distribute_values_from_function
        sharded_steps = distribute(lambda context: part(steps, 1, context.replica_id_in_sync_group))
        sharded_rows = distribute(lambda context: part(rows, 0, context.replica_id_in_sync_group))
        metrics, out = self._run(sharded_steps, sharded_rows, scalars)
        metrics = self._strategy.reduce(tf.distribute.ReduceOp.MEAN, metrics, axis=None)
        out = tf.nest.map_structure(
            lambda value: np.concatenate([np.asarray(v) for v in self._strategy.experimental_local_results(value)]), out
        )
        return {name: float(value) for name, value in metrics.items()}, out

    def _trace_general(self, steps: dict[str, np.ndarray], rows: Any, scalars: Any) -> None:
        """Trace the step once for any number of unrolls (steps [T+1, None, ...], rows [None, ...]), so a batch
        that follows the envs served (`batch_size: auto`, actors joining and leaving) never waits for a trace."""

        def spec(value: Any, axis: int) -> tf.TensorSpec:
            tensor = tf.convert_to_tensor(value)
            shape = tensor.shape.as_list()
            if axis is not None:
                shape[axis] = None
            return tf.TensorSpec(shape, tensor.dtype)

        self._run.get_concrete_function(
            tf.nest.map_structure(lambda v: spec(v, 1), steps), tf.nest.map_structure(lambda v: spec(v, 0), rows),
            tf.nest.map_structure(lambda v: spec(v, None), scalars),
        )
        self._traced_general = True

