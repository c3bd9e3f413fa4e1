"""Exponential backoff with full jitter for reconnecting to the learner."""

from __future__ import annotations

import random


class Backoff:
    """Waits grow as initial * 2^attempt up to `maximum`; each is drawn uniformly below that."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None):
        self._initial = initial
        self._maximum = maximum
        self._attempt = 0
        self._rng = rng or random.Random()

    def reset(self) -> None:
        self._attempt = 0

    def next(self) -> float:
        ceiling = min(self._maximum, self._initial * 2**self._attempt)
        self._attempt += 1
        return self._rng.uniform(self._initial / 2, ceiling)
