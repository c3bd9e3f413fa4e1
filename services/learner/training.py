"""The training thread: batches of unrolls in, gradient steps, checkpoints and summaries out.

On-policy agents take the oldest unrolls from the `UnrollQueue`; replay agents sample
from their `ReplayTable` and give it new priorities after each step.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import tensorflow as tf

from seedrl.common import metrics as m
from seedrl.learner.agents.base import Agent, TrainingBatch
from seedrl.learner.checkpoints import Checkpointer
from seedrl.learner.devices.acting import Acting
from seedrl.learner.episodes import EpisodeStats
from seedrl.learner.replay.agent import ReplayAgent
from seedrl.learner.replay.table import ReplayTable
from seedrl.learner.unroll_queue import QueueClosed, UnrollQueue
from seedrl.learner.unrolls import Unrolls

log = logging.getLogger(__name__)


AGENT_METRIC_TAGS = {"gradient_norm": m.GRAD_NORM.name, "learning_rate": m.LEARNING_RATE.name}


def tensorboard_tag(agent_name: str, metric: str) -> str:
    """The TensorBoard tag of an agent's train-step metric: the Prometheus name where one exists.

    `loss/policy` -> `seedrl_loss/policy`; `gradient_norm` -> `seedrl_gradient_norm`;
    agent-specific diagnostics keep their name under the agent's: `vtrace/mean_rho`.
    """
    if metric.startswith("loss/"):
        return f"{m.LOSS.name}/{metric.removeprefix('loss/')}"
    return AGENT_METRIC_TAGS.get(metric, f"{agent_name}/{metric}")


def time_major(unrolls: Unrolls) -> TrainingBatch:
    """[B, T+1, ...] unrolls -> a [T+1, B, ...] training batch."""
    steps = {name: np.ascontiguousarray(np.swapaxes(field, 0, 1)) for name, field in unrolls.steps.items()}
    return TrainingBatch(steps, unrolls.initial_state)


class Trainer(threading.Thread):
    """Takes a batch of unrolls at a time (`agent.batch_size`; the queue's) and trains until `total_frames`.

    `queue` is the agent's source of unrolls: an `UnrollQueue`, or a `ReplayTable` for a `ReplayAgent`.
    `acting` is told of every step, to keep inference devices' weights current.

    The thread ends when the frame budget is reached (`reached_budget` is set), when it is
    asked to stop, or when training raised (`error` holds the exception).
    """

    def __init__(
        self,
        agent: Agent,
        queue: UnrollQueue | ReplayTable,
        stats: EpisodeStats,
        eval_stats: EpisodeStats,
        checkpointer: Checkpointer,
        metrics: m.Metrics,
        acting: Acting,
        summary_writer: tf.summary.SummaryWriter,
        total_frames: int,
        checkpoint_every_s: float,
        summary_every_s: float,
    ):
        super().__init__(name="trainer", daemon=True)
        self._agent = agent
        self._queue = queue
        self._acting = acting
        self._stats = stats
        self._eval_stats = eval_stats
        self._checkpointer = checkpointer
        self._writer = summary_writer
        self._total_frames = total_frames
        self._checkpoint_every_s = checkpoint_every_s
        self._summary_every_s = summary_every_s
        self._stop_requested = threading.Event()
        self.reached_budget = threading.Event()
        self.error: BaseException | None = None
        self.checkpoint_error: str | None = None  # why the last checkpoint could not be written
        self._metrics = metrics
        self._steps = metrics(m.LEARNER_STEPS)
        self._lag = metrics(m.POLICY_LAG)
        self._queue_depth = metrics(m.UNROLL_QUEUE)
        self._grad_norm = metrics(m.GRAD_NORM)
        self._learning_rate = metrics(m.LEARNING_RATE)
        self._saves = metrics(m.CHECKPOINTS)
        self._failed_saves = metrics(m.CHECKPOINT_FAILURES)
        self._checkpoint_duration = metrics(m.CHECKPOINT_DURATION)
        self._last_checkpoint = metrics(m.LAST_CHECKPOINT)
        self._last_checkpoint.set(checkpointer.last_time)

    def stop(self) -> None:
        self._stop_requested.set()

    def run(self) -> None:
        try:
            self._loop()
        except QueueClosed:
            pass
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            log.exception("training failed")
            self.error = error

    def _loop(self) -> None:
        last_checkpoint = last_summary = time.monotonic()
        metrics, mean_lag = None, 0.0
        try:
            while not self._stop_requested.is_set():
                if self._stats.frames >= self._total_frames:
                    log.info("reached %d frames", self._stats.frames)
                    self.reached_budget.set()
                    return
                step = self._agent.steps
                trained = self._train_step()
                if trained is None:
                    continue
                unrolls, metrics = trained
                self._acting.refresh(self._agent.steps)
                lags = step - unrolls.policy_version
                mean_lag = float(lags.mean())
                self._observe(metrics, lags)
                now = time.monotonic()
                if now - last_summary >= self._summary_every_s:
                    self._summarise(metrics, mean_lag, step + 1)
                    last_summary = now
                if now - last_checkpoint >= self._checkpoint_every_s:
                    self.checkpoint()
                    last_checkpoint = now
        finally:
            if metrics is not None:  # the run's last point, however it ends
                self._summarise(metrics, mean_lag, self._agent.steps)

    def _train_step(self) -> tuple[Unrolls, dict[str, float]] | None:
        """One gradient step on the next batch: the unrolls trained on and the step's metrics; None on timeout."""
        agent, batch_size, frames = self._agent, self._agent.batch_size, self._stats.frames
        if isinstance(self._queue, ReplayTable):
            assert isinstance(agent, ReplayAgent)
            sample = self._queue.sample(batch_size, timeout=0.2)
            if sample is None:
                return None
            metrics, priorities = agent.train_prioritized(time_major(sample.unrolls), sample.weights, frames)
            self._queue.update_priorities(sample, priorities)
            return sample.unrolls, metrics
        unrolls = self._queue.get_batch(timeout=0.2)  # the queue's batch size, which may follow the actors
        self._queue_depth.set(len(self._queue))
        if unrolls is None:
            return None
        return unrolls, agent.train(time_major(unrolls), frames)

    def checkpoint(self) -> str | None:
        """Write a checkpoint; returns its path, or None when writing failed (logged and counted).

        A failed write (a full disk, an I/O error) does not stop training: the previous
        checkpoints stay, and the next attempt comes at the next interval.
        """
        started = time.perf_counter()
        try:
            path = self._checkpointer.save(self._agent.steps)
        except (OSError, tf.errors.OpError) as error:
            self._failed_saves.inc()
            self.checkpoint_error = f"{type(error).__name__}: {error}"
            log.error("checkpoint at step %d failed, training continues: %s", self._agent.steps, error)
            return None
        self.checkpoint_error = None
        self._checkpoint_duration.observe(time.perf_counter() - started)
        self._saves.inc()
        self._last_checkpoint.set(self._checkpointer.last_time)
        return path

    def _observe(self, metrics: dict[str, float], lags: np.ndarray) -> None:
        self._steps.inc()
        for lag in lags.tolist():
            self._lag.observe(lag)
        for name, value in metrics.items():
            if name.startswith("loss/"):
                self._metrics(m.LOSS, component=name.removeprefix("loss/")).set(value)
        self._grad_norm.set(metrics["gradient_norm"])
        self._learning_rate.set(metrics["learning_rate"])

    def _summarise(self, metrics: dict[str, float], mean_lag: float, step: int) -> None:
        """TensorBoard scalars at learner step `step`, named as the Prometheus metrics (docs/metrics.md).

        Values go to TensorFlow as float64 tensors, so any finite number converts (TensorBoard stores
        the float32 of it, inf beyond its range); a Python float beyond float32's range handed over as
        it is would make TensorFlow raise and end training.
        """
        stats, eval_stats = self._stats, self._eval_stats
        scalars = {tensorboard_tag(self._agent.name, name): value for name, value in metrics.items()}
        scalars.update({
            m.ENV_FRAMES.name: stats.frames, m.LEARNER_STEPS.name: step, m.EPISODES.name: stats.episodes,
            m.POLICY_LAG.name: mean_lag,
            (m.REPLAY_SIZE if isinstance(self._queue, ReplayTable) else m.UNROLL_QUEUE).name: len(self._queue),
        })
        if stats.episodes:
            scalars.update({m.EPISODE_RETURN.name: stats.mean_return, m.EPISODE_LENGTH.name: stats.mean_length})
        if eval_stats.episodes:
            scalars.update({m.EVAL_EPISODES.name: eval_stats.episodes, m.EVAL_RETURN.name: eval_stats.mean_return})
        with self._writer.as_default(step=step):
            for tag, value in scalars.items():
                tf.summary.scalar(tag, tf.constant(value, tf.float64))
        self._writer.flush()
