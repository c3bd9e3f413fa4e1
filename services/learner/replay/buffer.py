"""Prioritized replay of unrolls: preallocated ring storage plus a sum tree of priorities.

Reference: Schaul et al., "Prioritized Experience Replay", ICLR 2016,
https://arxiv.org/abs/1511.05952 (proportional variant), as used by Ape-X and R2D2.

Unroll i is sampled with probability P(i) = p_i^alpha / sum_j p_j^alpha, and its loss
is weighted by w_i = (N P(i))^-beta / max_batch w to correct for the skew. Dividing by the
largest weight of the sampled batch is Ape-X's choice, on purpose: Schaul et al.'s weights, as
usually implemented, divide by the largest weight any stored unroll could get. Inserting,
sampling and priority updates move whole batches with numpy indexing: there is no
Python loop per unroll.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedrl.learner.agents.base import FieldSpec
from seedrl.learner.replay.sum_tree import SumTree
from seedrl.learner.unrolls import Unrolls

# A priority of 0 would never be sampled again, whatever the network later thinks of it.
MIN_PRIORITY = 1e-6


@dataclass
class ReplaySample:
    """B unrolls drawn from the replay.

    Attributes:
      unrolls: the unrolls, batch-major ([B, L, ...] steps).
      indices: [B] int64 storage rows they came from.
      keys: [B] int64 insertion numbers of those rows (a row overwritten since is not updated).
      weights: [B] float32 importance-sampling weights in (0, 1].
    """

    unrolls: Unrolls
    indices: np.ndarray
    keys: np.ndarray
    weights: np.ndarray


class PrioritizedReplay:
    """`capacity` unrolls of `length` steps in preallocated arrays; the oldest is overwritten first.

    Not thread-safe by itself: `ReplayTable` serialises access.
    """

    def __init__(
        self,
        capacity: int,
        length: int,
        fields: dict[str, FieldSpec],
        state_specs: tuple[FieldSpec, ...],
        priority_exponent: float,
        importance_exponent: float,
        seed: int = 0,
    ):
        self.capacity = capacity
        self.priority_exponent = priority_exponent
        self.importance_exponent = importance_exponent
        # np.zeros maps untouched pages lazily: memory grows as rows are first written.
        self._steps = {name: np.zeros((capacity, length, *s.shape), s.dtype) for name, s in fields.items()}
        self._state = tuple(np.zeros((capacity, *s.shape), s.dtype) for s in state_specs)
        self._version = np.zeros(capacity, np.int64)
        self._keys = np.full(capacity, -1, np.int64)
        self._tree = SumTree(capacity)
        self._rng = np.random.default_rng(seed)
        self.inserted = 0  # unrolls ever inserted; the next one goes to row inserted % capacity
        self.item_bytes = (
            sum(a.itemsize * int(np.prod(a.shape[1:])) for a in (*self._steps.values(), *self._state))
            + self._version.itemsize + self._keys.itemsize + 16  # two float64 tree nodes per leaf
        )

    def __len__(self) -> int:
        return min(self.inserted, self.capacity)

    @property
    def nbytes(self) -> int:
        """Bytes of the rows in use (storage, keys and tree)."""
        return len(self) * self.item_bytes

    def insert(self, unrolls: Unrolls, priorities: np.ndarray) -> None:
        """Add n unrolls ([n, L, ...] steps) with their priorities [n] (before the exponent)."""
        n = len(unrolls)
        if priorities.shape != (n,):
            raise ValueError(f"{n} unrolls need {n} priorities, got shape {priorities.shape}")
        keep = min(n, self.capacity)  # of more unrolls than fit, only the newest survive
        keys = np.arange(self.inserted + n - keep, self.inserted + n, dtype=np.int64)
        rows = keys % self.capacity
        source = np.arange(n - keep, n)
        for name, storage in self._steps.items():
            storage[rows] = unrolls.steps[name][source]
        for storage, component in zip(self._state, unrolls.initial_state):
            storage[rows] = component[source]
        self._version[rows] = unrolls.policy_version[source]
        self._keys[rows] = keys
        self._tree.set(rows, self._scaled(priorities[source]))
        self.inserted += n

    def sample(self, batch_size: int) -> ReplaySample:
        """Draw `batch_size` unrolls (with replacement) in proportion to their scaled priorities."""
        if not len(self):
            raise ValueError("cannot sample from an empty replay")
        rows = self._tree.sample(batch_size, self._rng)
        probability = self._tree.get(rows) / self._tree.total
        weights = (len(self) * probability) ** -self.importance_exponent
        unrolls = Unrolls(
            {name: storage[rows] for name, storage in self._steps.items()},
            tuple(storage[rows] for storage in self._state),
            self._version[rows],
        )
        return ReplaySample(unrolls, rows, self._keys[rows], (weights / weights.max()).astype(np.float32))

    def update_priorities(self, indices: np.ndarray, keys: np.ndarray, priorities: np.ndarray) -> int:
        """Set new priorities [B] for sampled rows still holding the unroll they held; returns how many."""
        current = self._keys[indices] == keys
        self._tree.set(indices[current], self._scaled(np.asarray(priorities, np.float64)[current]))
        return int(current.sum())

    def priorities(self, indices: np.ndarray) -> np.ndarray:
        """Scaled priorities p^alpha of rows `indices` [n] -> [n] float64."""
        return self._tree.get(indices)

    def _scaled(self, priorities: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(priorities)):
            raise ValueError("replay priorities must be finite")
        return np.maximum(priorities, MIN_PRIORITY) ** self.priority_exponent
