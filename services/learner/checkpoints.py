"""Checkpoints of the agent and the progress counters, with automatic restore."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import tensorflow as tf

from seedrl.learner.episodes import EpisodeStats

log = logging.getLogger(__name__)


class Checkpointer:
    """Saves and restores the agent's trackables plus the frame and episode counters.

    Checkpoints are numbered by learner step; the newest `max_to_keep` are kept.
    """

    def __init__(self, directory: Path, items: dict[str, Any], stats: EpisodeStats, max_to_keep: int):
        self._stats = stats
        self._frames = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._episodes = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._checkpoint = tf.train.Checkpoint(**items, frames=self._frames, episodes=self._episodes)
        self._manager = tf.train.CheckpointManager(self._checkpoint, str(directory), max_to_keep=max_to_keep)
        self._lock = threading.Lock()
        self.last_step = -1
        self.last_time = 0.0

    def restore_latest(self) -> str | None:
        """Restore the newest checkpoint, if any; returns its path."""
        path = self._manager.latest_checkpoint
        if path is None:
            return None
        self._checkpoint.restore(path).assert_existing_objects_matched()
        self._stats.frames = int(self._frames.numpy())
        self._stats.episodes = int(self._episodes.numpy())
        self.last_step = int(path.rsplit("-", 1)[-1])
        log.info("restored %s (%d frames)", path, self._stats.frames)
        return path

    def save(self, step: int) -> str:
        """Write a checkpoint numbered `step`; returns its path."""
        with self._lock:
            self._frames.assign(self._stats.frames)
            self._episodes.assign(self._stats.episodes)
            path = self._manager.save(checkpoint_number=step)
            self.last_step, self.last_time = step, time.time()
        log.info("saved %s", path)
        return path
