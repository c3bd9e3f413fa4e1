"""A bounded queue of finished unrolls between inference and the training thread.

Capacity counts unrolls, not chunks. When the queue is full, `put` blocks the
inference thread: actors then wait for actions, which bounds how far acting can
run ahead of training (policy lag). `get_batch` hands out exactly B unrolls.
"""

from __future__ import annotations

import collections
import threading
from typing import Protocol

from seedrl.learner.unrolls import Unrolls


class UnrollSink(Protocol):
    """Where inference puts finished unrolls: the `UnrollQueue`, or the replay of a replay agent."""

    def put(self, unrolls: Unrolls) -> None:
        """Take n unrolls; may block (back-pressure) and raises QueueClosed once closed."""

    def close(self) -> None:
        """Wake every waiter; later puts raise QueueClosed."""


class QueueClosed(Exception):
    """The queue was closed while waiting on it."""


class UnrollQueue:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self._chunks: collections.deque[Unrolls] = collections.deque()
        self._size = 0
        self._closed = False
        self._changed = threading.Condition()

    def __len__(self) -> int:
        return self._size

    def put(self, unrolls: Unrolls) -> None:
        """Append a chunk; blocks while the queue holds `capacity` unrolls or more."""
        with self._changed:
            while self._size >= self.capacity and not self._closed:
                self._changed.wait()
            if self._closed:
                raise QueueClosed()
            self._chunks.append(unrolls)
            self._size += len(unrolls)
            self._changed.notify_all()

    def get_batch(self, batch_size: int, timeout: float | None = None) -> Unrolls | None:
        """Take exactly `batch_size` unrolls (oldest first); None on timeout.

        Raises:
          QueueClosed: the queue was closed before enough unrolls arrived.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: self._size >= batch_size or self._closed, timeout):
                return None
            if self._closed:
                raise QueueClosed()
            parts, needed = [], batch_size
            while needed:
                chunk = self._chunks.popleft()
                if len(chunk) > needed:
                    self._chunks.appendleft(chunk.select(slice(needed, None)))
                    chunk = chunk.select(slice(0, needed))
                parts.append(chunk)
                needed -= len(chunk)
            self._size -= batch_size
            self._changed.notify_all()
        return Unrolls.concatenate(parts)

    def close(self) -> None:
        """Wake every waiter; later puts and gets raise QueueClosed."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
