"""`ReplicatedStep`: one training computation run on every replica of a `tf.distribute` strategy.

The batch is split into equal shards along its batch axis (axis 1 of time-major steps, axis 0
of per-unroll rows), each replica runs the step on its shard, and the results come back as
one: scalar metrics averaged over replicas, per-unroll outputs concatenated in batch order.
`loop` runs the step on K minibatches one after the other inside one call, which saves the
Python and dispatch cost of K calls (most of a small network's gradient step on a CPU).
Variables must have been created under the same strategy's scope.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf

from seedrl.learner.graphs import graph_function

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
        self._fn = fn
        self._strategy = tf.distribute.get_strategy()
        self.replicas = self._strategy.num_replicas_in_sync
        compile_here = jit_compile and not isinstance(self._strategy, tf.distribute.TPUStrategy)
        self._run = graph_function(
            lambda steps, rows, scalars: self._strategy.run(fn, args=(steps, rows, scalars)), jit_compile=compile_here,
            reduce_retracing=True,
        )
        self._loop = graph_function(self._loop_graph, jit_compile=compile_here, reduce_retracing=True)
        self._traced: set[int] = set()

    @property
    def traces(self) -> int:
        """How many times the step has been traced (a trace blocks training for seconds on a loaded CPU)."""
        return sum(run.experimental_get_tracing_count() for run in (self._run, self._loop))

    def __call__(
        self, steps: dict[str, np.ndarray], rows: Any = (), scalars: Any = ()
    ) -> tuple[dict[str, float], Any]:
        """Steps [T+1, B, ...] and rows [B, ...] of B unrolls (B a multiple of the replicas); returns
        the metrics as floats and the per-unroll outputs as arrays [B, ...]."""
        metrics, out = self._call(self._run, steps, rows, (scalars,), stacked=0)
        if self.replicas > 1:
            metrics = self._strategy.reduce(tf.distribute.ReduceOp.MEAN, metrics, axis=None)
            out = tf.nest.map_structure(
                lambda value: np.concatenate([np.asarray(v) for v in self._strategy.experimental_local_results(value)]),
                out,
            )
        else:
            out = tf.nest.map_structure(np.asarray, out)
        return {name: float(value) for name, value in metrics.items()}, out

    def loop(self, steps: dict[str, tf.Tensor], rows: Any = (), scalars: Any = ()) -> dict[str, float]:
        """The step on each of K minibatches in order, in one call: steps [K, T+1, m, ...] and rows [K, m, ...]
        (m a multiple of the replicas). Returns the metrics' mean over the K steps; per-unroll outputs are dropped."""
        count = tf.constant(tf.nest.flatten(steps)[0].shape[0], tf.int32)
        metrics = self._call(self._loop, steps, rows, (scalars, count), stacked=1)
        return {name: float(value) for name, value in metrics.items()}

    def _call(self, run: Any, steps: Any, rows: Any, scalars: tuple, stacked: int) -> Any:
        """`run(steps, rows, *scalars)` with steps and rows sharded over the replicas along their batch axis
        (`stacked` leading axes before the usual ones). Several replicas take distributed inputs, traced as each
        batch size comes; one replica traces a general shape first (`_trace_general`)."""
        if self.replicas == 1:
            if id(run) not in self._traced:
                self._trace_general(run, steps, rows, scalars, stacked)
            return run(steps, rows, *scalars)
        batch = tf.nest.flatten(steps)[0].shape[stacked + 1]
        if batch % self.replicas:
            raise ValueError(f"a batch of {batch} unrolls does not split evenly over {self.replicas} training replicas")
        shard = batch // self.replicas

        def part(structure: Any, axis: int, replica: int) -> Any:
            index = (slice(None),) * axis + (slice(replica * shard, (replica + 1) * shard),)
            return tf.nest.map_structure(lambda array: array[index], structure)

        distribute = self._strategy.experimental_distribute_values_from_function
        sharded_steps = distribute(lambda context: part(steps, stacked + 1, context.replica_id_in_sync_group))
        sharded_rows = distribute(lambda context: part(rows, stacked, context.replica_id_in_sync_group))
        return run(sharded_steps, sharded_rows, *scalars)

    def _loop_graph(self, steps: Any, rows: Any, scalars: Any, count: tf.Tensor) -> dict[str, tf.Tensor]:
        """`loop`'s graph: `fn` on minibatch k = 0 .. count - 1 of steps and rows (per replica, [K, ...]), and
        the metrics averaged over the replicas, then over the K steps. `fn` is traced once, in the loop's body,
        which records the structure of its metrics for the end."""
        metrics_of_a_step: list[dict[str, tf.Tensor]] = []

        def replica_step(k: tf.Tensor, steps: Any, rows: Any, scalars: Any) -> dict[str, tf.Tensor]:
            take = lambda tensor: tensor[k]  # noqa: E731
            return self._fn(tf.nest.map_structure(take, steps), tf.nest.map_structure(take, rows), scalars)[0]

        def body(k: tf.Tensor, history: tf.TensorArray) -> tuple[tf.Tensor, tf.TensorArray]:
            metrics = self._strategy.run(replica_step, args=(k, steps, rows, scalars))
            metrics = self._strategy.reduce(tf.distribute.ReduceOp.MEAN, metrics, axis=None)
            metrics_of_a_step.append(metrics)
            return k + 1, history.write(k, tf.stack([tf.cast(v, tf.float32) for v in tf.nest.flatten(metrics)]))

        # history: [K, metrics], one row per step
        _, history = tf.while_loop(lambda k, _: k < count, body, (tf.constant(0), tf.TensorArray(tf.float32, count)))
        structure = metrics_of_a_step[-1]
        means = tf.unstack(tf.reduce_mean(history.stack(), axis=0), num=len(tf.nest.flatten(structure)))
        return tf.nest.pack_sequence_as(structure, means)

    def _trace_general(self, run: Any, steps: Any, rows: Any, scalars: tuple, stacked: int) -> None:
        """Trace `run` once for any number of unrolls (and of minibatches, when `stacked`), so a batch that
        follows the envs served (`batch_size: auto`, actors joining and leaving) never waits for a trace."""

        def spec(value: Any, *free: int) -> tf.TensorSpec:
            tensor = tf.convert_to_tensor(value)
            shape = tensor.shape.as_list()
            for axis in free:
                shape[axis] = None
            return tf.TensorSpec(shape, tensor.dtype)

        leading = (0,) if stacked else ()
        run.get_concrete_function(
            tf.nest.map_structure(lambda v: spec(v, *leading, stacked + 1), steps),
            tf.nest.map_structure(lambda v: spec(v, *leading, stacked), rows),
            *tf.nest.map_structure(spec, scalars),
        )
        self._traced.add(id(run))
