"""Checkpoints of the agent and the progress counters, with restore at start."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

import tensorflow as tf

from seedrl.common.checkpoint_files import list_checkpoints, metadata_path
from seedrl.common.files import write_atomically
from seedrl.learner.episodes import EpisodeStats

log = logging.getLogger(__name__)


class Checkpointer:
    """Saves and restores the agent's trackables plus the frame and episode counters.

    Checkpoints are numbered by learner step; the newest `max_to_keep` are kept, each
    with a `ckpt-N.json` of its counters that tools read without TensorFlow.
    """

    def __init__(self, directory: Path, items: dict[str, Any], stats: EpisodeStats, max_to_keep: int):
        self._directory = directory
        self._stats = stats
        self._frames = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._episodes = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._checkpoint = tf.train.Checkpoint(**items, frames=self._frames, episodes=self._episodes)
        self._manager = tf.train.CheckpointManager(self._checkpoint, str(directory), max_to_keep=max_to_keep)
        self._lock = threading.Lock()
        self.last_step = -1
        self.last_time = 0.0

    def restore(self, path: Path | None = None) -> str | None:
        """Restore checkpoint `path`, or else the newest readable one in the directory; returns what was restored.

        Without `path`, a checkpoint that cannot be read (its files damaged or cut short) is
        skipped with an error in the log, and the one before it is tried: a damaged newest
        checkpoint costs the progress since the previous one, not the run. A `path` asked
        for explicitly must restore, or this raises.
        """
        if path is not None:
            return self._restore(str(path))
        candidates = [str(self._directory / info.name) for info in reversed(list_checkpoints(self._directory))]
        error: Exception | None = None
        for target in candidates:
            try:
                return self._restore(target)
            except Exception as failure:  # noqa: BLE001 - TensorFlow raises many kinds for damaged files
                log.error("checkpoint %s cannot be restored, trying an older one: %s", target, failure)
                error = failure
        if error is not None:
            raise RuntimeError(f"no checkpoint in {self._directory} can be restored (tried {len(candidates)})") from error
        return None

    def _restore(self, target: str) -> str:
        self._checkpoint.restore(target).assert_existing_objects_matched()
        self._stats.frames = int(self._frames.numpy())
        self._stats.episodes = int(self._episodes.numpy())
        self.last_step = int(target.rsplit("-", 1)[-1])
        self.last_time = Path(f"{target}.index").stat().st_mtime
        log.info("restored %s (%d frames)", target, self._stats.frames)
        return target

    def save(self, step: int) -> str:
        """Write a checkpoint numbered `step` and its counters; returns its path."""
        with self._lock:
            # Read the counters once: inference keeps counting while the checkpoint is written.
            frames, episodes, mean_return = self._stats.frames, self._stats.episodes, self._stats.mean_return
            self._frames.assign(frames)
            self._episodes.assign(episodes)
            path = self._manager.save(checkpoint_number=step)
            now = time.time()
            write_atomically(metadata_path(self._directory, Path(path).name), json.dumps({
                "step": step, "frames": frames, "episodes": episodes,
                "mean_return_100": None if math.isnan(mean_return) else mean_return, "time": now,
            }))
            self._drop_stale_metadata()
            self.last_step, self.last_time = step, now
        log.info("saved %s", path)
        return path

    def _drop_stale_metadata(self) -> None:
        """Delete the counters of checkpoints the manager has rotated out."""
        kept = {info.name for info in list_checkpoints(self._directory)}
        for meta in self._directory.glob("ckpt-*.json"):
            if meta.stem not in kept:
                meta.unlink(missing_ok=True)
