"""The env-slot table: which slots are leased, and each slot's state between steps.

Every environment an actor streams occupies one slot for as long as its stream is
open. Per-slot state lives in preallocated arrays indexed by slot and is read and
written with vectorised gathers and scatters, never a Python loop per env.
"""

from __future__ import annotations

import numpy as np

from seedrl.learner.agents.base import FieldSpec


class SlotsExhausted(RuntimeError):
    """More slots were asked for than are free."""


class SlotTable:
    """Slot leases plus per-slot recurrent state, previous action/reward and episode stats.

    Attributes (arrays of `capacity` rows):
      state: recurrent state, one array per state component, [capacity, *shape].
      prev_action: [capacity, *action_shape] last action sent.
      prev_reward: [capacity] last reward received.
      episode_return: [capacity] float64 return of the running episode.
      episode_length: [capacity] int64 steps of the running episode; -1 until the
        slot's first row (the reset observation) has arrived.
      evaluation: [capacity] bool, the slot belongs to an evaluation stream.
    """

    def __init__(self, capacity: int, state_specs: tuple[FieldSpec, ...], action: FieldSpec):
        self.capacity = capacity
        self._free = np.arange(capacity - 1, -1, -1, dtype=np.int32)  # a stack; low slots first
        self._num_free = capacity
        self.state = tuple(np.zeros((capacity, *s.shape), s.dtype) for s in state_specs)
        self.prev_action = np.zeros((capacity, *action.shape), action.dtype)
        self.prev_reward = np.zeros(capacity, np.float32)
        self.episode_return = np.zeros(capacity, np.float64)
        self.episode_length = np.full(capacity, -1, np.int64)
        self.evaluation = np.zeros(capacity, bool)

    @property
    def leased(self) -> int:
        return self.capacity - self._num_free

    def lease(self, count: int, evaluation: bool = False) -> np.ndarray:
        """Take `count` free slots and reset their state; returns [count] int32 slot ids."""
        if count > self._num_free:
            raise SlotsExhausted(f"{count} env slots requested, {self._num_free} of {self.capacity} free")
        self._num_free -= count
        slots = self._free[self._num_free : self._num_free + count][::-1].copy()
        self.reset(slots)
        self.evaluation[slots] = evaluation
        return slots

    def release(self, slots: np.ndarray) -> None:
        """Return slots to the free pool."""
        self._free[self._num_free : self._num_free + len(slots)] = slots[::-1]
        self._num_free += len(slots)

    def reset(self, slots: np.ndarray) -> None:
        for component in self.state:
            component[slots] = 0
        self.prev_action[slots] = 0
        self.prev_reward[slots] = 0
        self.episode_return[slots] = 0
        self.episode_length[slots] = -1
