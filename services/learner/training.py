"""The training thread: batches of unrolls in, gradient steps, checkpoints and summaries out."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import tensorflow as tf

from seedrl.common import metrics as m
from seedrl.learner.agents.base import Agent, TrainingBatch
from seedrl.learner.checkpoints import Checkpointer
from seedrl.learner.episodes import EpisodeStats
from seedrl.learner.unroll_queue import QueueClosed, UnrollQueue
from seedrl.learner.unrolls import Unrolls

log = logging.getLogger(__name__)


def time_major(unrolls: Unrolls) -> TrainingBatch:
    """[B, T+1, ...] unrolls -> a [T+1, B, ...] training batch."""
    steps = {name: np.ascontiguousarray(np.swapaxes(field, 0, 1)) for name, field in unrolls.steps.items()}
    return TrainingBatch(steps, unrolls.initial_state)


class Trainer(threading.Thread):
    """Takes `agent.batch_size` unrolls at a time and trains until `total_frames`.

    `finished` is set when the frame budget is reached or training failed (`error`).
    """

    def __init__(
        self,
        agent: Agent,
        queue: UnrollQueue,
        stats: EpisodeStats,
        checkpointer: Checkpointer,
        metrics: m.Metrics,
        summary_writer: tf.summary.SummaryWriter,
        total_frames: int,
        checkpoint_every_s: float,
        summary_every_s: float,
    ):
        super().__init__(name="trainer", daemon=True)
        self._agent = agent
        self._queue = queue
        self._stats = stats
        self._checkpointer = checkpointer
        self._writer = summary_writer
        self._total_frames = total_frames
        self._checkpoint_every_s = checkpoint_every_s
        self._summary_every_s = summary_every_s
        self._stop_requested = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self._metrics = metrics
        self._steps = metrics(m.LEARNER_STEPS)
        self._lag = metrics(m.POLICY_LAG)
        self._queue_depth = metrics(m.UNROLL_QUEUE)
        self._grad_norm = metrics(m.GRAD_NORM)
        self._learning_rate = metrics(m.LEARNING_RATE)

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
        finally:
            self.finished.set()

    def _loop(self) -> None:
        last_checkpoint = last_summary = time.monotonic()
        while not self._stop_requested.is_set():
            if self._stats.frames >= self._total_frames:
                log.info("reached %d frames", self._stats.frames)
                return
            unrolls = self._queue.get_batch(self._agent.batch_size, timeout=0.2)
            self._queue_depth.set(len(self._queue))
            if unrolls is None:
                continue
            step = self._agent.steps
            metrics = self._agent.train(time_major(unrolls), self._stats.frames)
            self._observe(metrics, step - unrolls.policy_version)
            now = time.monotonic()
            if now - last_summary >= self._summary_every_s:
                self._summarise(metrics, step + 1)
                last_summary = now
            if now - last_checkpoint >= self._checkpoint_every_s:
                self.checkpoint()
                last_checkpoint = now

    def checkpoint(self) -> str:
        path = self._checkpointer.save(self._agent.steps)
        self._metrics(m.CHECKPOINTS).inc()
        self._metrics(m.LAST_CHECKPOINT).set(time.time())
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

    def _summarise(self, metrics: dict[str, float], step: int) -> None:
        with self._writer.as_default(step=step):
            for name, value in metrics.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("env_frames", self._stats.frames)
            if self._stats.episodes:
                tf.summary.scalar("episode_return_mean", self._stats.mean_return)
                tf.summary.scalar("episode_length_mean", self._stats.mean_length)
        self._writer.flush()
