"""A bounded queue of finished unrolls between inference and the training thread.

The queue knows how many unrolls one train step takes: a fixed number, or a rule of the env
slots leased for training (`batch_size: auto`, seedrl.spec.scaling), which inference reports as
actors come and go (`serve`). It holds at most `batches` train steps' worth of unrolls, counted in
unrolls, not chunks. When it is full, `put` blocks the inference thread: actors then wait for
actions, which bounds how far acting can run ahead of training (policy lag). `get_batch` hands
out exactly one batch, oldest unrolls first.
"""

from __future__ import annotations

import collections
import threading
from typing import Protocol

from seedrl.learner.unrolls import Unrolls
from seedrl.spec.scaling import BatchRule


class UnrollSink(Protocol):
    """Where inference puts finished unrolls: the `UnrollQueue`, or the replay of a replay agent."""

    def put(self, unrolls: Unrolls) -> None:
        """Take n unrolls; may block (back-pressure) and raises QueueClosed once closed."""

    def close(self) -> None:
        """Wake every waiter; later puts raise QueueClosed."""


class QueueClosed(Exception):
    """The queue was closed while waiting on it."""


class UnrollQueue:
    """Finished unrolls, oldest first, at most `batches` train batches of them.

    `batch_size` is the unrolls of one train step: an int, or a `BatchRule` applied to the env
    slots last reported by `serve` (0 until then).
    """

    def __init__(self, batch_size: int | BatchRule, batches: int = 2):
        if batches < 1:
            raise ValueError(f"batches ({batches}) must be at least 1")
        self._rule = batch_size if callable(batch_size) else (lambda _slots, fixed=batch_size: fixed)
        self._batches = batches
        self._train_slots = 0
        self._chunks: collections.deque[Unrolls] = collections.deque()
        self._size = 0
        self._closed = False
        self._changed = threading.Condition()

    def __len__(self) -> int:
        return self._size

    @property
    def batch_size(self) -> int:
        """Unrolls of the next train step."""
        return self._rule(self._train_slots)

    @property
    def capacity(self) -> int:
        """Unrolls the queue holds before `put` blocks."""
        return self._batches * self.batch_size

    def serve(self, train_slots: int) -> None:
        """The env slots now leased for training (evaluation slots excluded): sizes an automatic batch.

        0 (every actor gone: a stop, a restart) keeps the batch of the last actors served, so the unrolls they
        left are trained in batches of that size, not one update per unroll, and actors that come back
        start from it."""
        with self._changed:
            if train_slots > 0:
                self._train_slots = train_slots
            self._changed.notify_all()  # a larger batch makes room for waiting producers

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

    def get_batch(self, batch_size: int | None = None, timeout: float | None = None) -> Unrolls | None:
        """Take exactly `batch_size` unrolls (default: `self.batch_size` when enough have arrived), oldest
        first; None on timeout.

        Raises:
          QueueClosed: the queue was closed before enough unrolls arrived.
        """

        def wanted() -> int:
            return self.batch_size if batch_size is None else batch_size

        with self._changed:
            if not self._changed.wait_for(lambda: self._size >= wanted() or self._closed, timeout):
                return None
            if self._closed:
                raise QueueClosed()
            parts, needed = [], wanted()
            self._size -= needed
            while needed:
                chunk = self._chunks.popleft()
                if len(chunk) > needed:
                    self._chunks.appendleft(chunk.select(slice(needed, None)))
                    chunk = chunk.select(slice(0, needed))
                parts.append(chunk)
                needed -= len(chunk)
            self._changed.notify_all()
        return Unrolls.concatenate(parts)

    def close(self) -> None:
        """Wake every waiter; later puts and gets raise QueueClosed."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
