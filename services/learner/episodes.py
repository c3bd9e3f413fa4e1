"""Progress counters: frames, episodes, the last 100 episodes, and a frame-rate meter."""

from __future__ import annotations

import collections
import time

import numpy as np


class EpisodeStats:
    """Frames and episodes seen by the learner, and the returns of the last `window` episodes.

    Written by the inference thread only; read from anywhere.
    """

    def __init__(self, window: int = 100):
        self.frames = 0
        self.episodes = 0
        self._returns = np.full(window, np.nan)
        self._lengths = np.full(window, np.nan)
        self._next = 0

    def record(self, returns: np.ndarray, lengths: np.ndarray) -> None:
        """Add finished episodes: returns [E], lengths [E]."""
        window = len(self._returns)
        count = len(returns)
        if count > window:
            returns, lengths = returns[-window:], lengths[-window:]
        index = (self._next + np.arange(len(returns))) % window
        self._returns[index] = returns
        self._lengths[index] = lengths
        self._next = (self._next + len(returns)) % window
        self.episodes += count

    @property
    def recent_returns(self) -> np.ndarray:
        """Returns of the last (up to `window`) finished episodes, in no particular order."""
        return self._returns[~np.isnan(self._returns)]

    @property
    def mean_return(self) -> float:
        """Mean return of the last `window` episodes; NaN before the first."""
        return float(np.nanmean(self._returns)) if self.episodes else float("nan")

    @property
    def mean_length(self) -> float:
        return float(np.nanmean(self._lengths)) if self.episodes else float("nan")


class RateMeter:
    """Rate of a growing count over the last `horizon_s` seconds."""

    def __init__(self, horizon_s: float = 5.0, clock=time.monotonic):
        self._horizon = horizon_s
        self._clock = clock
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def update(self, count: int) -> float:
        now = self._clock()
        self._samples.append((now, count))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._horizon:
            self._samples.popleft()
        (t0, c0), (t1, c1) = self._samples[0], self._samples[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0
