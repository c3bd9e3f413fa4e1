"""The replay between the inference thread (`put`) and the training thread (`sample`).

`ReplayTable` takes the place of the unroll queue for replay agents. It gives each
new unroll its initial priority (computed from what the agent saw while acting),
starts training once `min_fill` unrolls are in, and, when a replay ratio is set,
keeps training and acting in step:

    budget = replay_ratio * (inserted - min_fill) - sampled        (in unrolls)

A batch of B is sampled only while budget >= B, and inference waits in `put` while
budget > 2B (acting may not run further ahead; actors then wait for actions, as with
a full unroll queue). So every inserted transition is trained on `replay_ratio` times
on average, however fast the machine acts or trains. An unroll holds T new
transitions and trains T, so the ratio is the same counted in unrolls.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

import numpy as np

from seedrl.common import metrics as m
from seedrl.learner.agents.base import FieldSpec
from seedrl.learner.replay.agent import ReplayAgent
from seedrl.learner.replay.buffer import PrioritizedReplay, ReplaySample
from seedrl.learner.unroll_queue import QueueClosed
from seedrl.learner.unrolls import Unrolls


def export_replay_metrics(metrics: m.Metrics) -> None:
    """Export the replay series from 0 (learners of on-policy agents keep them at 0)."""
    for spec in (m.REPLAY_SIZE, m.REPLAY_BYTES, m.REPLAY_INSERTS, m.REPLAY_SAMPLES):
        metrics(spec)


class ReplayTable:
    """A `PrioritizedReplay` shared by two threads, with a minimum fill and an optional replay ratio."""

    def __init__(
        self,
        replay: PrioritizedReplay,
        initial_priorities: Callable[[Unrolls], np.ndarray],
        batch_size: int,
        min_fill: int,
        replay_ratio: float | None,
        metrics: m.Metrics,
    ):
        self.replay = replay
        self._initial_priorities = initial_priorities
        self._batch_size = batch_size
        self._min_fill = min_fill
        self._ratio = replay_ratio
        self._sampled = 0
        self._closed = False
        self._changed = threading.Condition()
        export_replay_metrics(metrics)
        self._size, self._bytes = metrics(m.REPLAY_SIZE), metrics(m.REPLAY_BYTES)
        self._inserts, self._samples = metrics(m.REPLAY_INSERTS), metrics(m.REPLAY_SAMPLES)

    def __len__(self) -> int:
        return len(self.replay)

    def _budget(self) -> float:
        """Unrolls training may still sample under the replay ratio (inf without one)."""
        if self._ratio is None:
            return float("inf")
        return self._ratio * (self.replay.inserted - self._min_fill) - self._sampled

    def _may_sample(self, batch_size: int) -> bool:
        return len(self.replay) >= self._min_fill and self._budget() >= batch_size

    def _acting_ahead(self) -> bool:
        return self._ratio is not None and self._budget() > 2 * self._batch_size

    def put(self, unrolls: Unrolls) -> None:
        """Insert finished unrolls with their initial priorities; blocks while acting is ahead of the ratio.

        Raises:
          QueueClosed: the table was closed.
        """
        priorities = self._initial_priorities(unrolls)
        with self._changed:
            while self._acting_ahead() and not self._closed:
                self._changed.wait()
            if self._closed:
                raise QueueClosed()
            self.replay.insert(unrolls, priorities)
            self._changed.notify_all()
            self._size.set(len(self.replay))
            self._bytes.set(self.replay.nbytes)
        self._inserts.inc(len(unrolls))

    def sample(self, batch_size: int, timeout: float | None = None) -> ReplaySample | None:
        """Draw `batch_size` unrolls once the replay is filled and the ratio allows; None on timeout.

        Raises:
          QueueClosed: the table was closed.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: self._closed or self._may_sample(batch_size), timeout):
                return None
            if self._closed:
                raise QueueClosed()
            sample = self.replay.sample(batch_size)
            self._sampled += batch_size
            self._changed.notify_all()
        self._samples.inc(batch_size)
        return sample

    def update_priorities(self, sample: ReplaySample, priorities: np.ndarray) -> None:
        """New priorities [B] for the unrolls of `sample` (those overwritten since are left alone)."""
        with self._changed:
            self.replay.update_priorities(sample.indices, sample.keys, priorities)

    def close(self) -> None:
        """Wake every waiter; later puts and samples raise QueueClosed."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


def physical_memory_bytes() -> int | None:
    """This machine's physical memory, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def build_replay_table(
    agent: ReplayAgent, fields: dict[str, FieldSpec], metrics: m.Metrics, seed: int
) -> ReplayTable:
    """The replay of `agent`'s unrolls (per-step `fields`), refused if it could outgrow this machine's memory."""
    config = agent.replay_config
    replay = PrioritizedReplay(
        config.capacity, agent.burn_in + agent.unroll_length + 1, fields, agent.state_specs,
        config.priority_exponent, config.importance_exponent, seed=seed,
    )
    needed, available = config.capacity * replay.item_bytes, physical_memory_bytes()
    if available is not None and needed > available:
        raise ValueError(
            f"a full replay of {config.capacity:,} unrolls x {replay.item_bytes:,} bytes needs {needed / 2**30:.1f} GiB, "
            f"more than this machine's {available / 2**30:.1f} GiB; lower {agent.name}.replay.capacity"
        )
    return ReplayTable(replay, agent.initial_priorities, agent.batch_size, config.min_fill, config.replay_ratio, metrics)
